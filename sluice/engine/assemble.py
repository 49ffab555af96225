"""A run's report put back together from its parts' reports.

A run carried out in parts (:mod:`sluice.executors.parts`, on Celery workers) has one
report per part in the state store; :func:`assemble` sums them into the run's report,
the same document a run in one piece writes. It lives in the engine because settling a
run whose process is gone (:mod:`sluice.engine.settle`) needs it too.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sluice.config import Project
from sluice.dburl import redact
from sluice.engine.report import RunReport, StreamReport, error_of
from sluice.errors import AccountingError, LoadError
from sluice.httpclient.stats import summed
from sluice.state.models import RunPart
from sluice.state.parts import describe
from sluice.status import PartStatus


def assemble(project: Project, pipeline: str, run_id: str, parts: Sequence[RunPart]) -> RunReport:
    """The run's report from its parts' reports (and the parts that never reported)."""
    # Here, not at the top: the rules' module imports the transforms (Polars), which
    # `sluice run` on Celery, settling runs before it queues one, never needs.
    from sluice.transforms.stated import stated_rules

    pipe = project.pipeline(pipeline)
    dest = pipe.destination
    url = project.destination_url(pipe)
    report = RunReport(
        run_id=run_id,
        pipeline=pipeline,
        table=pipe.table.name,
        destination=redact(url),
        mode=dest.mode,
        rules=stated_rules(pipe),
    )
    for stream in pipe.sources:
        report.stream(stream)
    started: list[str] = []
    for stored in parts:
        part = RunReport.model_validate(stored.result or {})
        if part.started_at:
            started.append(part.started_at)
        for name, srep in part.streams.items():
            _merge_stream(report.stream(name), srep)
        for table, n in part.tables.items():
            report.tables[table] = report.tables.get(table, 0) + n
        if part.delivery is not None:
            report.delivery = summed(report.delivery, part.delivery)
        for err in part.errors:
            report.errors.append({**err, "part": stored.key})
        report.warnings += part.warnings
        if stored.status != PartStatus.DONE and not part.errors:
            lost = LoadError(
                f"part {stored.key} ({describe(stored.target) or stored.stream}) did not finish",
                hint="its worker died on every attempt: see `sluice show` and the "
                "workers' logs; the parts that finished are loaded, a new run loads the rest",
            )
            report.errors.append({**lost.as_dict(), "part": stored.key})
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


def failure(exc: BaseException) -> dict[str, Any]:
    """The report of a part that broke before it could write one."""
    return {"streams": {}, "errors": [error_of(exc)]}


def _merge_stream(into: StreamReport, part: StreamReport) -> None:
    into.counts.add(part.counts)
    into.files += part.files
    into.quarantined_files += part.quarantined_files
    into.skipped_files += part.skipped_files
    into.skipped_more += part.skipped_more
    into.drift += part.drift
    into.elapsed += part.elapsed  # parts run at once: the report keeps it within the run's
    for stage, secs in part.seconds.items():
        into.seconds[stage] = into.seconds.get(stage, 0.0) + secs
    if part.http is not None:
        into.http = summed(into.http, part.http)
