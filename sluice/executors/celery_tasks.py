"""The Celery executor's tasks: a run planned into parts, each part loaded by any worker.

``sluice.plan`` (one per run) creates the tables, splits the run into parts
(:func:`~sluice.executors.parts.plan_parts`), records them in the state store and queues
one ``sluice.part`` per part. A part loads like the local executor does; the last part
to end assembles the run's report from all of them. (The app and its task names:
:mod:`sluice.executors.celery_app`.)

Crash safety: tasks are acknowledged only when they end (``acks_late``), and a task
whose worker died is given back to the broker (``task_reject_on_worker_lost``), so it
is delivered again. A part is idempotent: the file ledger skips a file already loaded,
a load marker in the warehouse skips a load that committed before the ledger heard of
it, and a load cut off mid-way was one transaction that rolled back. A part held by a
live worker is leased (:class:`~sluice.state.parts.Lease`), so a second delivery leaves
it alone. A part whose worker died ``MAX_ATTEMPTS`` times (or
``SLUICE_CELERY_MAX_ATTEMPTS``) fails with that cause; the run then fails, and the
parts that did load stay loaded, each whole.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from pathlib import Path

from celery import Task

from sluice.config import Project
from sluice.engine import RunContext, lifecycle, start
from sluice.engine.assemble import assemble, failure, seconds_since
from sluice.engine.exclusive import busy, then
from sluice.engine.lease import lease_seconds
from sluice.engine.report import Counts
from sluice.engine.run import run
from sluice.engine.tally import record_stages, stage_rows
from sluice.errors import ConfigError, SluiceError
from sluice.executors.celery_app import QUEUE_ENV, RETRIES, cancelled, end_run, queue_name
from sluice.executors.parts import (
    WHOLE_RUN,
    PartProgress,
    page_range,
    plan_parts,
    retryable,
)
from sluice.executors.worker_process import (
    kept_warehouse,
    worker_project,
    worker_store,
)
from sluice.sources.file import hash_paths_ahead
from sluice.state.locks import PipelineLocks
from sluice.state.parts import Lease, RunParts, describe, part_files
from sluice.state.store import StateStore
from sluice.status import LIVE, PART_ENDED, PartStatus, RunKind, RunStatus

log = logging.getLogger("sluice.celery")

ATTEMPTS_ENV = "SLUICE_CELERY_MAX_ATTEMPTS"
MAX_ATTEMPTS = 4  # starts of one part before it fails (its worker died each time)
TICK_SECONDS = 1.0  # a running part's progress write and cancel check
HASH_THREADS = 2  # a part's files hashed at once before its rows load


# ---------------------------------------------------------------------- plan


def plan_task(
    self: Task,
    run_id: str,
    pipeline: str,
    project_name: str,
    file: str | None = None,
    source: str | None = None,
    full_refresh: bool = False,
) -> None:
    """Plan the run into parts and queue them (again, if this task is redelivered)."""
    project = worker_project()
    store = worker_store(project)
    run = store.run(run_id)
    if run is None or run.status not in LIVE:
        return  # cancelled before it started, or already over
    if project.name != project_name:
        wrong = ConfigError(
            f"a worker of project {project.name!r} took a run of {project_name!r}",
            hint=f"give each project its own queue ({QUEUE_ENV})",
        )
        end_run(store, run_id, pipeline, RunStatus.FAILED, wrong)
        return
    if run.status == RunStatus.CANCELLING and not RunParts(store).of(run_id):  # before its plan
        end_run(store, run_id, pipeline, RunStatus.CANCELLED, cancelled(run_id, pipeline))
        return
    # One run of a pipeline at a time: the run takes it here, its parts run under it.
    locks = PipelineLocks(store)
    holder = locks.claim(pipeline, run_id, lease_seconds())
    if holder is not None:  # another run has it (on the workers, or a `sluice run`)
        pipe = project.pipelines.get(pipeline)
        if run.status == RunStatus.QUEUED or (pipe is not None and pipe.if_running == "queue"):
            locks.set_waiting(run_id, True)
            raise self.retry(countdown=2)  # if_running: queue: wait for the one going
        end_run(
            store,
            run_id,
            pipeline,
            RunStatus.FAILED,
            busy(pipeline, holder, then(pipeline, RunKind.RUN, "api")),
        )
        return
    if locks.set_waiting(run_id, False):
        store.log(run_id, "info", "the run before it ended: starting")
    run_parts = RunParts(store)
    if not run_parts.of(run_id):
        try:
            ctx = start(project, pipeline, store=store, run_id=run_id, claim=False)
            lifecycle.prepare(ctx)  # tables exist before parts load into them at once
            parts = plan_parts(project, pipeline, file, source)
        except SluiceError as exc:
            end_run(store, run_id, pipeline, RunStatus.FAILED, exc)
            return
        run_parts.plan(run_id, parts)
        for stream in ctx.pipe.sources:  # the rows each part adds its own to as it ends
            record_stages(store, run_id, stream, Counts(), {})
        store.log(run_id, "info", f"planned {len(parts)} parts for the workers")
    queue = self.request.delivery_info.get("routing_key") or queue_name()
    for part in run_parts.of(run_id):
        if part.status not in PART_ENDED:
            self.app.send_task(
                "sluice.part", args=[run_id, pipeline, part.key, full_refresh], queue=queue
            )
    finish_if_done(project, store, run_id, pipeline)


# ---------------------------------------------------------------------- parts


def part_task(self: Task, run_id: str, pipeline: str, key: str, full_refresh: bool = False) -> None:
    """Load one part of a run; the last part to end finishes the run."""
    project = worker_project()
    store = worker_store(project)
    run_parts = RunParts(store)
    lease = Lease(store, f"{run_id}/{key}")
    if not lease.acquire():
        store.log(run_id, "info", f"part {key}: another worker has it; this delivery leaves it")
        return
    try:
        _load_part(self, project, store, run_parts, run_id, pipeline, key, full_refresh)
    finally:
        lease.release()
    try:
        finish_if_done(project, store, run_id, pipeline)
    except Exception as exc:
        # The part has ended; only the run's end is still to write. Try again soon (the
        # retry finds the part ended and goes straight here), or the run stays open.
        log.warning("run %s: finishing failed, trying again: %s", run_id, exc)
        raise self.retry(countdown=2, max_retries=10) from exc


def _load_part(
    task: Task,
    project: Project,
    store: StateStore,
    run_parts: RunParts,
    run_id: str,
    pipeline: str,
    key: str,
    full_refresh: bool,
) -> None:
    worker = f"{socket.gethostname()}:{os.getpid()}"
    started = run_parts.start(run_id, key, worker)
    if started is None or started.part.status in PART_ENDED:
        return
    part = started.part
    most = int(os.environ.get(ATTEMPTS_ENV) or MAX_ATTEMPTS)
    if part.attempts > most:
        where = describe(part.target) or part.stream
        message = f"part {key} ({where}) was started {most} times and its worker stopped each time"
        store.log(run_id, "error", message)
        err = SluiceError(message, hint="a worker killed or out of memory: see the workers' logs")
        run_parts.finish(run_id, key, PartStatus.FAILED, failure(err))
        return
    if part.attempts > 1:
        store.log(
            run_id,
            "warning",
            f"part {key}: attempt {part.attempts} on {worker} (the worker before stopped mid-way)",
        )
    if started.run_status == RunStatus.CANCELLING:
        run_parts.finish(run_id, key, PartStatus.FAILED, failure(cancelled(run_id, pipeline)))
        return
    stop = threading.Event()
    try:
        stream = None if part.stream == WHOLE_RUN else part.stream
        pages, files = page_range(part.target), part_files(part.target)
        file = None if pages or files else part.target
        # Its files' digests are under way while the part starts (6 ms a 9 MB file:
        # its planner waited 12 ms a part of four for them, hashed once listed), on
        # both cores: nothing else runs until they are made.
        hash_paths_ahead((Path(f) for f in files or ([file] if file else [])), HASH_THREADS)
        progress = PartProgress()
        ctx = start(
            project,
            pipeline,
            store=store,
            run_id=run_id,
            claim=False,
            trigger="celery",
            part=key,
            pages=pages,
            borrowed=kept_warehouse(project, pipeline),
            progress=progress,
        )
        threading.Thread(
            target=_tick, args=(run_parts, run_id, key, progress, ctx, stop), daemon=True
        ).start()
        report = run(ctx, source=stream, file=file, files=files, full_refresh=full_refresh)
    except Exception as exc:  # a bug, or the state store gone: recorded, never lost
        stop.set()
        run_parts.finish(run_id, key, PartStatus.FAILED, failure(exc))
        return
    finally:
        stop.set()
    if retryable(report) and task.request.retries < RETRIES:
        run_parts.finish(run_id, key, PartStatus.QUEUED, report.as_dict())
        store.log(run_id, "warning", f"part {key}: will be tried again", errors=report.errors)
        raise task.retry(countdown=2 ** (task.request.retries + 1))
    if report.errors:
        run_parts.finish(run_id, key, PartStatus.FAILED, report.as_dict())
        return
    # The run's live view (its stages) is the sum of its done parts: each adds its own
    # rows with its end, in one transaction.
    stages = {name: stage_rows(s.counts, s.seconds) for name, s in report.streams.items()}
    run_parts.finish(run_id, key, PartStatus.DONE, report.as_dict(), stages)


def _tick(
    run_parts: RunParts,
    run_id: str,
    key: str,
    progress: PartProgress,
    ctx: RunContext,
    stop: threading.Event,
) -> None:
    """Once a second while the part runs: write how far it got on its row (`sluice run`
    shows it) and carry a cancel asked through the state store to the run (between
    batches), in one transaction."""
    while not stop.wait(TICK_SECONDS):
        told = progress.take()
        try:
            if run_parts.tick(run_id, key, told):
                ctx.cancel()
                return
        except Exception:  # the store blinked: tell it and ask again next time
            progress.unwritten()
            continue


# ---------------------------------------------------------------------- the end


def finish_if_done(project: Project, store: StateStore, run_id: str, pipeline: str) -> bool:
    """When every part has ended, write the run's report (once: under a lease)."""
    if RunParts(store).open_parts(run_id):
        return False
    lease = Lease(store, f"{run_id}/finish")
    if not lease.acquire():
        return False
    try:
        run = store.run(run_id)
        if run is None or run.status not in LIVE:
            return False
        parts = RunParts(store).of(run_id)
        report = assemble(project, pipeline, run_id, parts)
        report.seconds = seconds_since(run.started_at)
        report.started_at = run.started_at.isoformat(timespec="seconds")
        if run.status == RunStatus.CANCELLING and not report.errors:
            report.fail(cancelled(run_id, pipeline))
        status = report.decide_status()
        store.log(run_id, "info", f"run finished: {status}", parts=len(parts))
        store.finish_run(run_id, status, report)
        return True
    finally:
        lease.release()
