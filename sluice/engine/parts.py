"""A run split into parts for Celery workers, and its report put back together.

:func:`plan_parts` splits a run: one part per file of a file source, so a drop of 120
files loads on every worker at once; an API source whose pages are numbered and
counted (``page`` with ``total_pages``, ``offset`` with ``total``) into up to
:data:`API_PARTS` page ranges, fan-out details going with their pages; any other API
source (its pages follow a cursor) is one part; and under ``mode: replace`` the whole
run is one part, its table swapped once. A part loads
exactly as the local executor would (:meth:`Runner.run_part`): the file ledger, load
ids and the warehouse's load markers make a part that is carried out again load
nothing twice. :func:`assemble` sums the parts' reports into the run's report, the
same document the local executor writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sluice.config import FileSourceConfig, HttpDestinationConfig, HttpSourceConfig, Project
from sluice.dburl import redact
from sluice.engine.report import Counts, RunReport, StreamReport, error_of
from sluice.errors import AccountingError
from sluice.sources import SourceContext
from sluice.sources.file import FileSource
from sluice.sources.http.pages import count_pages
from sluice.state.models import RunTask
from sluice.state.tasks import DONE, Part
from sluice.transforms.stated import stated_rules

WHOLE_RUN = "*"  # the part key (and stream) of a run carried out as one part
API_PARTS = 8  # an API source's pages are split into at most this many parts
PAGES = "pages:"  # a part's target that is a page range: pages:FIRST:END (0-based)
#: errors after which a part is worth trying again (a dropped connection, a deadlock)
RETRYABLE = frozenset({"RetryableLoadError"})


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
            found = FileSource(stream, cfg, project.root, SourceContext())
            files = found.files()
            if len(files) < max(cfg.min_files, 1):  # one part says so (warns, or fails)
                parts.append(Part(stream, stream, None))
                continue
            for i, path in enumerate(files):
                parts.append(Part(f"{stream}/{i:05d}", stream, str(path)))
            # a path refused (a link, a FIFO) is a part too: it is refused there again,
            # and so is a warning of the run, as in a local run
            for i, refused in enumerate(found.refused):
                parts.append(Part(f"{stream}/refused-{i:05d}", stream, str(refused.path)))
        elif isinstance(cfg, HttpSourceConfig) and _splittable(cfg):
            parts += _page_parts(stream, cfg)
        else:
            parts.append(Part(stream, stream, None))
    return parts


def _splittable(cfg: HttpSourceConfig) -> bool:
    """Pages that can be pulled apart: numbered, with no cursor carried between runs
    (each part would save its own) and no cap on the records (it counts in order)."""
    return cfg.paginate.style in ("page", "offset") and not (cfg.incremental or cfg.max_records)


def _page_parts(stream: str, cfg: HttpSourceConfig) -> list[Part]:
    total = count_pages(cfg)
    if total is None or total < 2:
        return [Part(stream, stream, None)]
    size = -(-total // API_PARTS)
    return [
        Part(f"{stream}/p{first + 1:06d}", stream, f"{PAGES}{first}:{min(first + size, total)}")
        for first in range(0, total, size)
    ]


def page_range(target: str | None) -> tuple[int, int] | None:
    """The pages of a part's target ``pages:FIRST:END``; None for a file or a stream."""
    if not target or not target.startswith(PAGES):
        return None
    first, end = target[len(PAGES) :].split(":")
    return int(first), int(end)


def assemble(project: Project, pipeline: str, run_id: str, tasks: Sequence[RunTask]) -> RunReport:
    """The run's report from its parts' reports (and the parts that never reported)."""
    pipe = project.pipeline(pipeline)
    dest = pipe.destination
    url = dest.url if isinstance(dest, HttpDestinationConfig) else project.warehouse_url(pipe)
    report = RunReport(run_id, pipeline, pipe.table.name, redact(url), dest.mode)
    report.rules = stated_rules(pipe)
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
        report.warnings += part.get("warnings") or []
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
    return {"streams": {}, "errors": [error_of(exc)]}


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
    listed = doc.get("skipped_files") or []
    into.skipped_files += listed
    into.skipped_more += int(doc.get("skipped", len(listed))) - len(listed)
    into.drift += doc.get("drift") or []
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
