"""What the dashboard's pages show, gathered from the state store and the warehouse.

Small functions that return plain dicts and lists: the route handlers call one or two
of them and hand the result to a template. A run's stored report is read once, typed
(:func:`~sluice.engine.report.report_of`; a list of runs reads only the head of each:
:func:`~sluice.engine.report.head_of`), and the templates get its typed parts.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sluice.config import Project
from sluice.engine.inspect.datasets import Warehouses, latest_rows
from sluice.engine.report import ReportHead, RunReport, StreamReport, Totals, head_of, report_of
from sluice.errors import SluiceError
from sluice.httpclient import HttpStatsRecord
from sluice.sources.csv_footer import FOOTER_STARTS
from sluice.state.models import QuarantineEntry, Run
from sluice.state.store import StateStore
from sluice.status import FINISHED, EntryKind, QuarantineStatus

STAGES = ("extract", "transform", "load")
#: what :func:`run_detail` returns: the run page's data
RunDetail = dict[str, Any]

#: reason text -> rule name (see sluice.transforms.validate and .cast)
_RULES = [
    ("quote", re.compile(r"a quote opened on line \d+ is never closed")),
    ("ragged", re.compile(r"fields, the header has")),
    ("footer", re.compile("^(?:" + "|".join(map(re.escape, FOOTER_STARTS)) + ")")),
    ("required", re.compile(r"required but empty")),
    ("regex", re.compile(r"does not match")),
    ("min", re.compile(r"below the minimum")),
    ("max", re.compile(r"above the maximum")),
    ("accepted", re.compile(r"is not one of")),
    ("type", re.compile(r"is not (a |an )?valid|is not a")),
    ("unique", re.compile(r"duplicate|unique|repeated", re.IGNORECASE)),
]


def is_running(status: str) -> bool:
    return status not in FINISHED


def run_summary(run: Run) -> dict[str, Any]:
    """One line of a run list: status, counts and time."""
    head = head_of(run) or ReportHead()  # no report yet: nothing counted
    totals = head.totals or Totals()
    return {
        "id": run.id,
        "pipeline": run.pipeline,
        "status": run.status,
        "kind": head.kind or "run",
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "read": totals.read,
        "loaded": totals.loaded,
        "quarantined": totals.quarantined,
        "filtered": totals.filtered,
        "seconds": head.seconds or 0.0,
        "running": is_running(run.status),
    }


def history(store: StateStore, pipeline: str, limit: int = 20) -> list[dict[str, Any]]:
    """The pipeline's last runs, oldest first (for trends and charts)."""
    return [run_summary(r) for r in reversed(store.runs(pipeline, limit))]


def next_run(scheduler: object | None, pipeline: str) -> datetime | None:
    """When the app's scheduler (if any) runs the pipeline next."""
    ask = getattr(scheduler, "next_run", None)
    if ask is None:
        return None
    try:
        found = ask(pipeline)
    except (KeyError, LookupError):
        return None
    return found if isinstance(found, datetime) else None


def pipelines(
    project: Project, store: StateStore, scheduler: object | None
) -> list[dict[str, Any]]:
    """Every pipeline of the project with its last run, next run and recent trend."""
    out = []
    # Counted in SQL, one query for all: the page polls every 5 s, and a pipeline may have
    # 50,000 open entries (loading them took 3 s a render).
    open_counts = store.open_quarantine_counts()
    for name, pipe in project.pipelines.items():
        runs = history(store, name, limit=12)
        out.append(
            {
                "name": name,
                "description": pipe.description,
                "table": pipe.table.name,
                "schedule": pipe.schedule,
                "last": runs[-1] if runs else None,
                "next_run": next_run(scheduler, name),
                "rows": [float(r["loaded"]) for r in runs],
                "seconds": [r["seconds"] for r in runs],
                "open_quarantine": open_counts.get(name, 0),
            }
        )
    return out


def stage_rows(store: StateStore, run_id: str) -> list[dict[str, Any]]:
    """The stages recorded so far: stream, stage, rows and seconds."""
    return [
        {"stream": s.stream, "stage": s.stage, "rows": s.rows, "seconds": s.seconds}
        for s in store.stages(run_id)
    ]


def timeline_seconds(
    report: RunReport, stages: Sequence[dict[str, Any]]
) -> dict[str, dict[str, float]]:
    """stream -> stage -> seconds, from the report when the run is done, else the stages."""
    if report.streams:
        return {
            name: {st: s.seconds.get(st, 0.0) for st in STAGES}
            for name, s in report.streams.items()
        }
    out: dict[str, dict[str, float]] = {}
    for s in stages:
        out.setdefault(s["stream"], dict.fromkeys(STAGES, 0.0))[s["stage"]] = float(s["seconds"])
    return out


def run_detail(
    store: StateStore, run_id: str, live: Callable[[str], dict[str, Any] | None]
) -> RunDetail | None:
    """Everything the run page shows, or None if there is no such run.

    ``live`` gives the report so far of a run still going (the executor knows it).
    """
    run = store.run(run_id)
    if run is None:
        return None
    stored = report_of(run)
    report = stored or RunReport.model_validate(live(run.id) or {})
    stages = stage_rows(store, run.id)
    streams: dict[str, StreamReport] = report.streams
    # stream (and "delivery") -> its requests, retries, statuses: the HTTP table
    http: dict[str, HttpStatsRecord] = {n: s.http for n, s in streams.items() if s.http}
    if report.delivery:
        http["delivery"] = report.delivery
    return {
        "run": run_summary(run),
        "report": report,
        "totals": report.totals,
        "streams": streams,
        "stages": stages,
        "timeline": timeline_seconds(report, stages),
        "http": http,
        "errors": report.errors,
        "warnings": report.warnings,
        "rules": report.rules,
        "quality": quality(store, run, stored),
        "quarantine_counts": store.quarantine_counts(run.id),
    }


def log_tail(store: StateStore, run_id: str, limit: int = 200) -> list[dict[str, Any]]:
    events = store.events(run_id)[-limit:]
    return [{"at": e.at, "level": e.level, "message": e.message} for e in events]


def rule_of(reason: str) -> tuple[str, str]:
    """(column, rule) of a quarantine reason like ``"zip: '1234' does not match ..."``."""
    column, sep, rest = reason.partition(": ")
    if not sep or " " in column:
        return ("(file)" if "column" in reason else "(row)", _rule(reason))
    return column, _rule(rest)


def _rule(text: str) -> str:
    for name, pattern in _RULES:
        if pattern.search(text):
            return name
    return "other"


def quality(store: StateStore, run: Run, report: RunReport | None) -> dict[str, Any]:
    """Per column and rule: rows checked, passed and failed; filters with their counts.
    ``report``: the run's stored report (None while it goes)."""
    totals = report.totals if report is not None else Totals()
    checked = totals.loaded + totals.quarantined
    failed: Counter[tuple[str, str]] = Counter()
    files: list[dict[str, Any]] = []
    for e in store.quarantined(status=None, run_id=run.id, replays=True):
        if e.run_id != run.id and e.status != QuarantineStatus.OPEN:
            continue  # a replay's entry that loaded (or was closed since): it passed
        if e.kind == EntryKind.FILE:
            files.append({"unit": e.unit, "reasons": e.reasons})
            continue
        for key in {rule_of(str(r)) for r in e.reasons}:
            failed[key] += 1
    rules = [
        {"column": c, "rule": r, "checked": checked, "failed": n, "passed": max(checked - n, 0)}
        for (c, r), n in sorted(failed.items())
    ]
    filters = {
        rule: n
        for s in (report.streams.values() if report is not None else ())
        for rule, n in s.filtered_by.items()
    }
    return {"checked": checked, "rules": rules, "filters": filters, "files": files}


def entry_view(e: QuarantineEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "run_id": e.run_id,
        "pipeline": e.pipeline,
        "source": e.source,
        "kind": e.kind,
        "where": f"{e.unit}:{e.line}" if e.line else e.unit,
        "reasons": e.reasons,
        "payload": e.payload or {},
        "status": e.status,
        "replay_run_id": e.replay_run_id,
        "created_at": e.created_at,
    }


def quarantine(
    store: StateStore,
    pipeline: str | None,
    status: str | None,
    run_id: str | None = None,
    limit: int = 200,
    offset: int = 0,
) -> tuple[int, list[dict[str, Any]]]:
    """(how many entries match, a page of them newest first from ``offset``); payloads
    as stored (PII already in its hidden form). Counted and paged in SQL."""
    total = store.count_quarantined(pipeline=pipeline, status=status, run_id=run_id)
    found = store.quarantined(
        pipeline=pipeline,
        status=status,
        run_id=run_id,
        limit=limit,
        offset=offset,
        newest_first=True,
    )
    return total, [entry_view(e) for e in found]


def dataset(
    project: Project, pipeline: str, limit: int = 50, warehouses: Warehouses | None = None
) -> dict[str, Any]:
    """The rows of the pipeline's table (its ``_latest`` view for snapshots), or why not."""
    try:
        found = latest_rows(project, pipeline, limit=limit, warehouses=warehouses)
    except SluiceError as exc:  # an http destination, no table yet, the warehouse down
        return {"relation": None, "columns": [], "rows": [], "error": exc.message}
    return {"relation": found.relation, "columns": found.columns, "rows": found.rows, "error": None}
