"""The Celery app of sluice: its broker, queue and task names, what queues a run needs.

    SLUICE_BROKER_URL=redis://127.0.0.1:6379/0 sluice worker -p examples/leads

Two tasks: ``sluice.plan`` (one per run) and ``sluice.part`` (one per part of it),
carried out by :mod:`sluice.executors.celery_tasks`, which this module imports only
when a task runs: a process that only queues runs (``sluice run`` on Celery) loads no
engine, and a ``sluice worker``'s pool children import it as they start (:func:`preload`),
after the fork, never its main process.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import Celery, Task, signals

from sluice.dburl import normalize
from sluice.engine.report import RunReport
from sluice.errors import ConfigError, RunCancelled, SluiceError
from sluice.state.store import StateStore
from sluice.status import RunStatus

log = logging.getLogger("sluice.celery")

BROKER_ENV = "SLUICE_BROKER_URL"
QUEUE_ENV = "SLUICE_CELERY_QUEUE"
VISIBILITY_ENV = "SLUICE_CELERY_VISIBILITY_TIMEOUT"
DEFAULT_QUEUE = "sluice"
RETRIES = 3  # further tries of a part whose error may go away (a dropped connection)


def broker_url() -> str:
    url = os.environ.get(BROKER_ENV, "").strip()
    if not url:
        raise ConfigError(
            f"the celery executor needs a broker: set {BROKER_ENV}",
            hint=f"e.g. export {BROKER_ENV}=redis://127.0.0.1:6379/0 "
            "(or amqp://guest:guest@127.0.0.1:5672// for RabbitMQ)",
        )
    return url


def check_shared_state(url: str) -> None:
    """Workers and whatever queues runs must share one state store: not a local file."""
    if normalize(url).get_backend_name() in ("sqlite", "duckdb"):
        raise ConfigError(
            "the celery executor needs a state store every worker can reach: "
            "PostgreSQL or MySQL, not SQLite",
            hint="set SLUICE_STATE_URL=postgresql://... (or `state:` in sluice.yaml)",
        )


def queue_name() -> str:
    return os.environ.get(QUEUE_ENV, "").strip() or DEFAULT_QUEUE


def make_app() -> Celery:
    """A Celery app for this process, from the environment (never at import)."""
    app = Celery("sluice", broker=broker_url(), set_as_current=False)
    app.conf.update(
        task_default_queue=queue_name(),
        task_acks_late=True,  # a task is done when it ends, not when it is received
        task_reject_on_worker_lost=True,  # a killed worker's task goes back to the queue
        worker_prefetch_multiplier=1,  # a worker holds only the task it is running
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,  # results live in the state store
        broker_connection_retry_on_startup=True,
        # Redis gives an unacknowledged task to another worker after this many seconds
        # (RabbitMQ: as soon as the worker's connection drops). Longer than a part
        # takes, or a live part is delivered twice (the lease then keeps it single).
        broker_transport_options={
            "visibility_timeout": float(os.environ.get(VISIBILITY_ENV) or 900)
        },
        worker_hijack_root_logger=False,
    )
    app.task(name="sluice.plan", bind=True, max_retries=None)(_plan)
    app.task(name="sluice.part", bind=True, max_retries=RETRIES)(_part)
    # A pool's child (or a solo worker) closes what it kept open for its tasks.
    signals.worker_process_shutdown.connect(_close_kept, weak=False)
    signals.worker_shutdown.connect(_close_kept, weak=False)
    # A prefork pool's child imports the engine as it starts, not at its first task.
    signals.worker_process_init.connect(preload, weak=False)
    return app


def preload(**_: object) -> None:
    """Import the tasks' engine (Polars, PyArrow, the drivers) in this process: a pool
    child, which its parent forked before importing any of it (so that the child's
    memory allocators start here, with their background threads: see
    :mod:`sluice.executors.worker_process`)."""
    from sluice.executors import celery_tasks  # noqa: F401


def _plan(self: Task, *args: Any, **kwargs: Any) -> None:
    from sluice.executors.celery_tasks import plan_task

    plan_task(self, *args, **kwargs)


def _part(self: Task, *args: Any, **kwargs: Any) -> None:
    from sluice.executors.celery_tasks import part_task

    part_task(self, *args, **kwargs)


def _close_kept(**_: object) -> None:
    from sluice.executors.worker_process import close_kept

    close_kept()


def end_run(
    store: StateStore, run_id: str, pipeline: str, status: RunStatus, exc: SluiceError
) -> None:
    """End a run that no part will end (never planned, or refused) with its cause."""
    level = "warning" if status == RunStatus.CANCELLED else "error"
    store.log(run_id, level, str(exc), error=exc.as_dict())
    report = RunReport(run_id=run_id, pipeline=pipeline, status=status)
    report.fail(exc)
    store.finish_run(run_id, status, report)


def cancelled(run_id: str, pipeline: str) -> RunCancelled:
    return RunCancelled(
        f"run {run_id} of {pipeline} was cancelled",
        hint="the parts loaded before the cancel stay; trigger a new run to load the rest",
    )
