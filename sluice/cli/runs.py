"""``sluice run``, ``runs``, ``show`` and ``preview``: thin calls into the engine."""

from __future__ import annotations

import contextlib
import functools
import json
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sluice.cli.errors import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_QUARANTINED,
    EXIT_USAGE,
    config_errors,
    handle_errors,
    report_config_errors,
)
from sluice.cli.options import ExecutorOpt, ProgressMode, ProjectOpt
from sluice.cli.signals import Caught, cancelling_on_signals
from sluice.cli.terminal import console
from sluice.errors import SluiceError, UsageError

# The engine, the warehouses and Rich's tables are imported by the commands that use
# them: `sluice --help` and each CLI call start without loading Polars or SQLAlchemy.
if TYPE_CHECKING:
    from sluice.config import Project
    from sluice.executors.celery import RunProgress


ProgressOpt = Annotated[
    ProgressMode,
    typer.Option(
        "--progress",
        envvar="SLUICE_PROGRESS",
        help="auto: live on a terminal, else lines; live: a table redrawn in place; lines: "
        "on stderr every SLUICE_PROGRESS_EVERY s (5); json: JSON Lines on stderr; none",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print one machine-readable JSON document")]
AllowQuarantineOpt = Annotated[
    bool,
    typer.Option(
        "--allow-quarantine",
        help="exit 0, not 3, when the run succeeded with rows or files in quarantine "
        "(for orchestrators and CI that treat any non-zero code as a failure)",
    ),
]


def exit_code(status: str, *, allow_quarantine: bool = False) -> int:
    """0 succeeded, 1 failed, 3 succeeded with quarantine (0 with ``allow_quarantine``)."""
    from sluice.status import RunStatus

    if status == RunStatus.QUARANTINED and allow_quarantine:
        return EXIT_OK
    codes: dict[str, int] = {RunStatus.FAILED: EXIT_FAILED, RunStatus.QUARANTINED: EXIT_QUARANTINED}
    return codes.get(status, EXIT_OK)


def dump(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


@handle_errors
def run(
    pipeline: Annotated[str, typer.Argument(help="name of a pipeline in sluice.yaml")],
    project: ProjectOpt = ".",
    file: Annotated[
        str | None, typer.Option("--file", help="load this file instead of the source's paths")
    ] = None,
    source: Annotated[str | None, typer.Option("--source", help="run only this source")] = None,
    full_refresh: Annotated[
        bool, typer.Option("--full-refresh", help="load files the ledger has seen")
    ] = False,
    as_json: JsonOpt = False,
    executor: ExecutorOpt = None,
    allow_quarantine: AllowQuarantineOpt = False,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait", help="if a run of the pipeline is going, start when it ends (default: refuse)"
        ),
    ] = False,
    progress: ProgressOpt = ProgressMode.auto,
) -> None:
    """Run a pipeline: extract, transform, validate and load, then print a summary.

    Exit codes: 0 success, 1 run failed, 2 bad usage or config (or the pipeline is
    already running), 3 succeeded with quarantined rows or files (0 with
    --allow-quarantine).

        sluice run leads --project examples/leads
    """
    from sluice.config import load_project

    proj = load_project(project)
    pipe = proj.pipeline(pipeline)
    if file is None and str(executor or proj.executor) == "local":
        # The files' hashes, on another core, while the engine loads (sluice.digests).
        from sluice.sources.file import hash_ahead

        hash_ahead(pipe, proj.root, source)

    from sluice import executors
    from sluice.cli.display import summary
    from sluice.cli.progress import watching
    from sluice.engine.report import RunReport
    from sluice.status import RunStatus

    _warehouse_driver(proj, pipeline)
    if file is not None and not Path(file).is_file():
        where = Path(file).parent
        raise UsageError(
            f"--file {file}: no such file (a relative path is read from the current folder, "
            f"{Path.cwd()}, not from the project's)",
            hint=f"`ls {shlex.quote(str(where))}` shows what is there",
        )
    # The operator chose this file on the machine: it is read even through a link (a
    # file a drop folder holds through a link is refused: see the file source).
    chosen = str(Path(file).resolve()) if file is not None else None
    caught = Caught()  # Ctrl-C or SIGTERM: the run is cancelled, exit 130 or 143
    if executors.kind_for(proj, executor) == "celery":
        if wait:
            raise UsageError(
                "--wait is for runs in this process; runs on celery workers wait their turn "
                "under `if_running: queue`",
                hint=f"set `if_running: queue` on pipeline {pipeline!r} in sluice.yaml",
            )
        data = _on_celery(
            proj,
            pipeline,
            chosen,
            source,
            full_refresh,
            progress=progress,
            as_json=as_json,
            caught=caught,
        )
    else:
        streams = [source] if source else list(pipe.sources)
        with watching(progress, console(stderr=True), streams, as_json=as_json) as shown:
            data = _inline(
                proj,
                pipeline,
                chosen,
                source,
                full_refresh,
                wait=wait,
                caught=caught,
                progress=shown,
            )
    if as_json:
        dump(data)
    report = RunReport.model_validate(data)
    if config_errors(report.errors):  # the user's to fix, as if found before the run: exit 2
        again = ["sluice", "run", pipeline]
        for flag, value in (("-p", project), ("--source", source), ("--file", file)):
            if value is not None and (flag, value) != ("-p", "."):
                again += [flag, value]
        report_config_errors(report, shlex.join(again))
        raise typer.Exit(EXIT_USAGE)
    if not as_json:
        console().print(summary(report, proj.warehouse_url(pipe)), soft_wrap=True)
    if report.status == RunStatus.CANCELLED:
        raise typer.Exit(caught.exit_code())
    raise typer.Exit(exit_code(report.status, allow_quarantine=allow_quarantine))


def _warehouse_driver(proj: Project, pipeline: str) -> None:
    """A warehouse whose driver is an extra not installed: one line (MissingExtra)
    before a run is recorded. A URL with anything else wrong is the run's to report."""
    from sluice.config import HttpDestinationConfig
    from sluice.dburl import dialect_name, plainly_supported
    from sluice.extras import require_database

    pipe = proj.pipeline(pipeline)
    if isinstance(pipe.destination, HttpDestinationConfig):
        return
    try:
        url = proj.warehouse_url(pipe)
    except SluiceError:
        return
    if plainly_supported(url):
        require_database(dialect_name(url), "warehouse")


def _inline(
    proj: Project,
    pipeline: str,
    file: str | None,
    source: str | None,
    full_refresh: bool,
    *,
    wait: bool,
    caught: Caught,
    progress: Any = None,
) -> dict[str, Any]:
    """Carry the run out in this process; its report. Refused before it is recorded
    while another run has the pipeline (unless ``wait``: it then waits its turn,
    ``queued``); a signal cancels it."""
    from sluice import executors
    from sluice.cli.startup import Begun
    from sluice.engine.settle import open_store

    store = open_store(proj)  # runs whose process is gone: settled
    try:
        executor = executors.for_project(proj, "inline", store=store)
        run_id = executor.trigger(
            pipeline,
            "cli",
            file=file,
            source=source,
            full_refresh=full_refresh,
            queue=wait,
            progress=Begun(progress),
        ).run_id
        with cancelling_on_signals(functools.partial(executor.cancel, run_id), caught):
            return executor.wait(run_id)
    finally:
        store.close()


def _on_celery(
    proj: Project,
    pipeline: str,
    file: str | None,
    source: str | None,
    full_refresh: bool,
    *,
    progress: ProgressMode,
    as_json: bool,
    caught: Caught,
) -> dict[str, Any]:
    """Queue the run for `sluice worker`s and wait for its report, showing its progress
    as the state store tells it (a signal cancels it)."""
    from sluice import executors
    from sluice.cli.progress import watching
    from sluice.cli.startup import working
    from sluice.state.store import StateStore
    from sluice.status import RunStatus

    store = StateStore(proj.state_url())
    working()  # waiting on the workers can take hours
    executor = executors.for_project(proj, "celery", store=store)
    run_id = executor.trigger(
        pipeline, "cli", file=file, source=source, full_refresh=full_refresh
    ).run_id

    def stop(why: str) -> None:
        with contextlib.suppress(SluiceError):  # it ended meanwhile: the wait says so
            executor.cancel(run_id)

    streams = [source] if source else list(proj.pipeline(pipeline).sources)
    title = f"run {run_id} on celery workers"
    with (
        cancelling_on_signals(stop, caught),
        watching(progress, console(stderr=True), streams, as_json=as_json, title=title) as shown,
    ):
        if shown is None:
            return executor.wait(run_id)

        def told(run: RunProgress) -> None:
            if run.status == RunStatus.QUEUED:  # another run of the pipeline goes first
                for stream in streams:
                    shown.update(stream, "queued", 0)
            for s in run.streams:
                read = (s.read, s.size or 0)  # 0: a part's size is not known
                shown.update(s.stream, s.stage, s.rows, (s.parts_ended, s.parts), read)

        return executor.wait(run_id, told)


@handle_errors
def runs(
    project: ProjectOpt = ".",
    pipeline: Annotated[str | None, typer.Option(help="only this pipeline")] = None,
    limit: Annotated[int, typer.Option(help="how many, newest first")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """List recent runs, newest first.

    sluice runs --project examples/leads
    """
    from sluice.cli.display import runs_table, zoned
    from sluice.config import load_project
    from sluice.engine.report import ReportHead, head_of
    from sluice.engine.settle import open_store

    store = open_store(load_project(project))  # runs whose process is gone: settled
    found = store.runs(pipeline, limit)
    rows = []
    for r in found:
        head = head_of(r) or ReportHead()  # no report yet: nothing to say
        t = head.totals
        rows.append(
            {
                "run_id": r.id,
                "kind": head.kind or "run",
                "pipeline": r.pipeline,
                "status": r.status,
                "started_at": zoned(r.started_at),
                "read": t.read if t else None,
                "loaded": t.loaded if t else None,
                "quarantined": t.quarantined if t else None,
                "seconds": head.seconds,
            }
        )
    if as_json:
        dump(rows)
        return
    console().print(runs_table(rows, console().width))


@handle_errors
def show(
    run_id: Annotated[str, typer.Argument(help="a run id, or a unique prefix of one")],
    project: ProjectOpt = ".",
    as_json: JsonOpt = False,
) -> None:
    """Show one run: its report, stages with counts and timings, and its log.

    sluice show 20261124T183125 --project examples/leads
    """
    from sluice.cli.display import log_lines, rows_table, summary, zoned
    from sluice.config import load_project
    from sluice.engine.settle import open_store

    store = open_store(load_project(project))  # runs whose process is gone: settled
    r = store.find_run(run_id)  # or says: no such run, or which runs the prefix matches
    stages = [
        {"stream": s.stream, "stage": s.stage, "rows": s.rows, "seconds": round(s.seconds, 3)}
        for s in store.stages(r.id)
    ]
    events = [
        {"at": zoned(e.at, timespec="milliseconds"), "level": e.level, "message": e.message}
        for e in store.events(r.id)
    ]
    if as_json:
        dump(
            {
                "run_id": r.id,
                "status": r.status,
                "started_at": zoned(r.started_at),
                "finished_at": zoned(r.finished_at) if r.finished_at else None,
                "report": r.report,
                "stages": stages,
                "log": events,
            }
        )
        return
    if r.report:
        console().print(summary(r.report), soft_wrap=True)
    else:
        console().print(f"run {r.id} · {r.pipeline} · {r.status} (no report yet)")
    if stages:
        console().print(
            rows_table(
                "stages (seconds busy; stages overlap)",
                ["stream", "stage", "rows", "seconds"],
                [tuple(s.values()) for s in stages],
            )
        )
    # One line per event, never wrapped: a message may hold a command to copy.
    console().print(log_lines(events), soft_wrap=True)


@handle_errors
def preview(
    pipeline: Annotated[str, typer.Argument(help="name of a pipeline in sluice.yaml")],
    project: ProjectOpt = ".",
    limit: Annotated[int, typer.Option(help="rows to show")] = 10,
    history: Annotated[
        bool, typer.Option("--history", help="snapshot mode: every load, not only the latest")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Show the newest rows a pipeline loaded (for snapshots: the _latest view).

    sluice preview leads --project examples/leads --limit 5
    """
    from sluice.cli.display import records, rows_table
    from sluice.config import load_project
    from sluice.destinations import connect

    proj = load_project(project)
    pipe = proj.pipeline(pipeline)
    if pipe.destination.type == "http":
        raise UsageError(
            f"pipeline {pipeline!r} delivers to {pipe.destination.url}: there is no table "
            "to preview",
            hint="`sluice runs` then `sluice audit RUN_ID` shows what was delivered",
        )
    relation = pipe.table.name
    if pipe.destination.mode == "snapshot" and not history:
        relation += "_latest"
    dest = connect(proj.warehouse_url(pipe))
    try:
        columns, rows = dest.preview(relation, limit)
    finally:
        dest.close()
    if as_json:
        dump([dict(zip(columns, r, strict=True)) for r in rows])
        return
    title = f"{relation} (first {limit} rows)"
    if len(columns) * 12 > console().width:  # too wide to read as a grid
        console().print(records(title, columns, rows))
    else:
        console().print(rows_table(title, columns, rows))
