"""A run split into parts for Celery workers, and its report put back together.

:func:`plan_parts` splits a run: one part per file of a file source, so a drop of 120
files loads on every worker at once; one part per stream for an API source (its
pages follow a cursor, so they are pulled in order by one worker); and one part for
the whole run under ``mode: replace``, whose table is swapped once. A part loads
exactly as the local executor would (:meth:`Runner.run_part`): the file ledger, load
ids and the warehouse's load markers make a part that is carried out again load
nothing twice. :func:`assemble` sums the parts' reports into the run's report, the
same document the local executor writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sluice.config import FileSourceConfig, HttpDestinationConfig, Project
from sluice.dburl import redact
from sluice.engine.report import Counts, RunReport, StreamReport
from sluice.errors import AccountingError, SluiceError
from sluice.sources import SourceContext
from sluice.sources.file import FileSource
from sluice.state.models import RunTask
from sluice.state.tasks import DONE, Part

WHOLE_RUN = "*"  # the part key (and stream) of a run carried out as one part
#: errors after which a part is worth trying again (a dropped connection)
RETRYABLE = frozenset({"RetryableLoadError", "OperationalError"})


def plan_parts(
    project: Project, pipeline: str, file: str | None = None, source: str | None = None
) -> list[Part]:
    """The parts of a run of ``pipeline``, in the order they are queued. ``file`` and
    ``source`` (``sluice run --file/--source``): one part, as the local run would do."""
    pipe = project.pipeline(pipeline)
    if pipe.destination.mode == "replace" or file is not None or source is not None:
        return [Part(WHOLE_RUN, source or WHOLE_RUN, file)]
    parts: list[Part] = []
    for stream, cfg in pipe.sources.items():
        if isinstance(cfg, FileSourceConfig) and cfg.url is None:
            files = FileSource(stream, cfg, project.root, SourceContext()).files()
            for i, path in enumerate(files):
                parts.append(Part(f"{stream}/{i:05d}", stream, str(path)))
        else:
            parts.append(Part(stream, stream, None))
    return parts


def assemble(project: Project, pipeline: str, run_id: str, tasks: Sequence[RunTask]) -> RunReport:
    """The run's report from its parts' reports (and the parts that never reported)."""
    pipe = project.pipeline(pipeline)
    dest = pipe.destination
    url = dest.url if isinstance(dest, HttpDestinationConfig) else project.warehouse_url(pipe)
    report = RunReport(run_id, pipeline, pipe.table.name, redact(url), dest.mode)
    for stream in pipe.sources:
        report.stream(stream)
    started: list[str] = []
    for task in tasks:
        part = task.result or {}
        if part.get("started_at"):
            started.append(part["started_at"])
        for name, doc in (part.get("streams") or {}).items():
            _merge_stream(report.stream(name), doc)
        for table, n in (part.get("tables") or {}).items():
            report.tables[table] = report.tables.get(table, 0) + n
        if part.get("delivery") is not None:
            report.delivery = _sum(report.delivery or {}, part["delivery"])
        for err in part.get("errors") or []:
            report.errors.append({**err, "part": task.key})
        if task.status != DONE and not part.get("errors"):
            report.errors.append(
                {
                    "type": "LoadError",
                    "message": f"part {task.key} ({task.target or task.stream}) did not finish",
                    "hint": "its worker died on every attempt: see `sluice show` and the "
                    "workers' logs; the parts that finished are loaded, a new run loads the rest",
                    "part": task.key,
                }
            )
    report.started_at = min(started) if started else ""
    try:
        report.check_accounting()
    except AccountingError as exc:
        report.fail(exc)
    return report


def seconds_since(started_at: datetime) -> float:
    if started_at.tzinfo is None:  # SQLite gives naive datetimes back
        started_at = started_at.replace(tzinfo=UTC)
    return (datetime.now(UTC) - started_at).total_seconds()


def retryable(report: RunReport) -> bool:
    """Whether every error of a part's report may go away on another attempt."""
    return bool(report.errors) and all(e.get("type") in RETRYABLE for e in report.errors)


def failure(exc: BaseException) -> dict[str, Any]:
    """The report of a part that broke before it could write one."""
    err = (
        exc.as_dict()
        if isinstance(exc, SluiceError)
        else {
            "type": type(exc).__name__,
            "message": str(exc),
            "hint": "this is a bug in sluice; please report it",
        }
    )
    return {"streams": {}, "errors": [err]}


def _merge_stream(into: StreamReport, doc: dict[str, Any]) -> None:
    into.counts.add(
        Counts(
            doc.get("read", 0),
            doc.get("loaded", 0),
            doc.get("quarantined", 0),
            doc.get("filtered", 0),
            dict(doc.get("filtered_by") or {}),
        )
    )
    into.files += doc.get("files") or []
    into.quarantined_files += doc.get("quarantined_files") or []
    into.skipped_files += doc.get("skipped_files") or []
    for stage, secs in (doc.get("seconds") or {}).items():
        into.seconds[stage] = into.seconds.get(stage, 0.0) + secs
    if doc.get("http") is not None:
        into.http = _sum(into.http or {}, doc["http"])


def _sum(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Numbers added up, nested counts merged, anything else: the last one."""
    out = dict(a)
    for k, v in b.items():
        if isinstance(v, bool) or not isinstance(v, int | float | dict):
            out[k] = v
        elif isinstance(v, dict):
            out[k] = _sum(out.get(k) or {}, v)
        else:
            out[k] = out.get(k, 0) + v
    return out
