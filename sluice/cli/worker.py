"""``sluice worker``: a Celery worker that carries out the project's queued runs."""

from __future__ import annotations

import os
import socket
import uuid
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from sluice.cli.errors import handle_errors
from sluice.cli.options import ProjectOpt
from sluice.extras import require


class Pool(StrEnum):
    prefork = "prefork"
    solo = "solo"
    threads = "threads"


@handle_errors
def worker(
    project: ProjectOpt = ".",
    concurrency: Annotated[
        int, typer.Option(help="parts loaded at once (default: one per CPU)", min=1)
    ] = os.cpu_count() or 1,
    queues: Annotated[
        str | None,
        typer.Option(help="comma-separated queues (default: $SLUICE_CELERY_QUEUE, else sluice)"),
    ] = None,
    pool: Annotated[Pool, typer.Option(help="prefork: a process per slot")] = Pool.prefork,
    name: Annotated[
        str | None, typer.Option(help="worker name (default: unique per process)")
    ] = None,
    loglevel: Annotated[str, typer.Option(help="Celery's log level")] = "INFO",
) -> None:
    """Carry out runs queued by `sluice run` and `sluice serve` under `executor: celery`.

    The broker comes from SLUICE_BROKER_URL, the state store (PostgreSQL or MySQL,
    shared by every worker) from SLUICE_STATE_URL or `state:` in sluice.yaml.
    Needs the celery extra: pip install 'sluice-etl\\[celery]'.

        SLUICE_BROKER_URL=redis://127.0.0.1:6379/0 sluice worker -p examples/leads
    """
    require("celery", "celery", "sluice worker")  # before the project: Celery is an extra
    from sluice.config import load_project

    proj = load_project(project)  # a broken sluice.yaml stops here, not in a task
    # Imported here: Celery is not needed by any other command.
    from sluice.executors.celery_app import check_shared_state, make_app, queue_name
    from sluice.executors.worker_process import PROJECT_ENV, keep_runs_alive
    from sluice.state.store import StateStore

    where = proj.file or proj.root
    os.environ[PROJECT_ENV] = str(Path(where).resolve())

    check_shared_state(proj.state_url())
    StateStore(proj.state_url()).close()  # migrated and reachable before taking tasks
    keep_runs_alive(proj)  # the runs queued for workers live while one does
    if pool != Pool.prefork:  # the tasks run in this process: the engine now
        from sluice.executors import celery_tasks  # noqa: F401
    # Under prefork each pool child imports the engine as it starts (see make_app),
    # never this process: see sluice.executors.worker_process.
    app = make_app()
    node = name or f"sluice-{uuid.uuid4().hex[:6]}@{socket.gethostname()}"
    typer.echo(
        f"sluice worker {node}: project {proj.name}, queues {queues or queue_name()}, "
        f"{concurrency} x {pool.value}"
    )
    app.worker_main(
        argv=[
            "worker",
            f"--concurrency={concurrency}",
            f"--queues={queues or queue_name()}",
            f"--pool={pool.value}",
            f"--hostname={node}",
            f"--loglevel={loglevel}",
            "--without-gossip",
            "--without-mingle",
        ]
    )
