"""Settling runs that no one carries out any more, and cancelling runs from anywhere.

A run whose process was killed (or whose machine was lost) stays ``running`` in the
state store until its lease expires (:mod:`sluice.engine.lease`), or at once when its
process on this host is gone. The next command that opens the state store settles it
here, from the ledger and the warehouse:

- a unit of it that staged its counts before its warehouse commit and whose load
  marker is in the warehouse *committed*: its ledger entry becomes ``loaded``, its
  quarantined rows (``pending`` until then) open, its pull's cursor is saved;
- any other unit it held rolled back: its pending rows are dropped and the next run
  loads it again;
- the run ends with a report of what committed: ``abandoned`` when something of it
  rolled back (or never started), else what its counts say (it died after its work).

So a kill at any point loses no quarantined row and loads nothing twice, and
``sluice runs`` adds up to the table.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from sluice.config import HttpDestinationConfig, Project
from sluice.dburl import redact
from sluice.engine import tally
from sluice.engine.assemble import assemble, failure, seconds_since
from sluice.engine.lease import lease_seconds
from sluice.engine.report import RunReport
from sluice.errors import NotFound, RunCancelled, RunConflict, SluiceError
from sluice.state.models import FileRecord, Run
from sluice.state.parts import RunParts
from sluice.state.store import StateStore
from sluice.status import LIVE, PART_ENDED, EntryKind, FileStatus, PartStatus, RunKind, RunStatus

# The warehouses (the data plane: Polars, the drivers) are imported only where a run's
# loads are settled: `sluice run` on Celery settles before it queues, and should not
# wait for modules it needs only when a run is found stale.
if TYPE_CHECKING:
    from sluice.destinations import Destination

log = logging.getLogger(__name__)


def settle_stale(project: Project, store: StateStore, *, keep: str | None = None) -> list[str]:
    """Settle every live run no one carries out any more (but ``keep``); their ids."""
    settled = []
    for run in store.stale_runs(lease_seconds()):
        if run.id == keep:
            continue
        try:
            settle_run(project, store, run)
        except Exception as exc:  # its warehouse is not reachable now: next time
            log.warning("run %s not settled yet: %s", run.id, exc)
            continue
        settled.append(run.id)
    return settled


def settle_run(project: Project, store: StateStore, run: Run, *, cancel: bool = False) -> RunStatus:
    """End ``run`` (whose process is gone) with what of it committed; its status."""
    pipe = project.pipelines.get(run.pipeline)
    committed, rolled_back, unknown = _settle_units(project, store, run)
    run_parts = RunParts(store)
    parts = run_parts.of(run.id)
    why = (
        RunCancelled(
            f"run {run.id} of {run.pipeline} was cancelled; no process was carrying it out",
            hint="the loads that committed before are counted; run it again to load the rest",
        )
        if cancel
        else SluiceError(
            f"run {run.id} of {run.pipeline} stopped before it ended (its process was killed "
            f"or lost): {len(committed)} load(s) had committed and are counted, "
            f"{len(rolled_back)} rolled back",
            hint="run the pipeline again: it loads what rolled back, and nothing twice",
        )
    )
    open_parts = [t for t in parts if t.status not in PART_ENDED]
    for t in open_parts:  # a later delivery of the part finds it over
        run_parts.finish(run.id, t.key, PartStatus.FAILED, failure(why))
    if pipe is not None and parts:
        report = assemble(project, run.pipeline, run.id, run_parts.of(run.id))
    else:
        report = _empty_report(project, store, run)
    counted = {f["load_id"] for s in report.streams.values() for f in s.files}
    for rec in store.files_of(run.id):
        if rec.status == FileStatus.LOADED and rec.counts is not None and rec.id not in counted:
            _count(report, rec)
    _quarantined_files(store, run, report)
    report.started_at = _iso(run)
    report.seconds = _seconds(run)
    whole = not (rolled_back or unknown or open_parts) and (
        bool(committed) or any(s.files or s.quarantined_files for s in report.streams.values())
    )
    if whole and not report.errors and report.kind == RunKind.RUN:
        status = report.decide_status()
        note = "every load of it had committed"
    else:
        if not any(e.get("type") == type(why).__name__ for e in report.errors):
            report.fail(why)
        status = RunStatus.CANCELLED if cancel else RunStatus.ABANDONED
        report.status = status
        note = str(why)
    if unknown:
        note += f"; {len(unknown)} load(s) left as they were: pipeline {run.pipeline!r} is gone"
    store.log(
        run.id,
        "warning",
        f"settled after its process stopped: {status} ({note})",
        committed=[r.id for r in committed],
        rolled_back=[r.id for r in rolled_back],
    )
    store.finish_run(run.id, status, report)
    return status


def _settle_units(
    project: Project, store: StateStore, run: Run
) -> tuple[list[FileRecord], list[FileRecord], list[FileRecord]]:
    """(committed, rolled back, left as they were) of the units ``run`` was loading."""
    loading = [r for r in store.files_of(run.id) if r.status == FileStatus.LOADING]
    committed: list[FileRecord] = []
    rolled_back: list[FileRecord] = []
    unknown: list[FileRecord] = []
    if not loading:
        return committed, rolled_back, unknown
    pipe = project.pipelines.get(run.pipeline)
    dest: Destination | None = None
    try:
        for rec in loading:
            if rec.counts is not None and pipe is None:
                unknown.append(rec)  # no warehouse to ask
                continue
            # An http destination keeps no markers: its delivery ledger holds what was
            # sent, and a new run sends nothing twice. A unit that staged no counts
            # never reached its commit.
            marked = False
            sql = pipe is not None and not isinstance(pipe.destination, HttpDestinationConfig)
            if rec.counts is not None and pipe is not None and sql:
                if dest is None:
                    from sluice.destinations import connect

                    dest = connect(project.warehouse_url(pipe))
                marked = dest.is_loaded(rec.load_key)
            if marked:
                store.commit_unit(rec.id, dict(rec.counts or {}))
                committed.append(rec)
            else:
                store.discard_rows(rec.id)
                store.update_file(rec.id, status=FileStatus.FAILED)
                rolled_back.append(rec)
    finally:
        if dest is not None:
            dest.close()
    return committed, rolled_back, unknown


def _empty_report(project: Project, store: StateStore, run: Run) -> RunReport:
    pipe = project.pipelines.get(run.pipeline)
    first = store.events(run.id, limit=1)  # "run of p started", "replay of p started"
    kind = RunKind.REPLAY if first and first[0].message.startswith("replay") else RunKind.RUN
    if pipe is None:
        return RunReport(run_id=run.id, pipeline=run.pipeline, kind=kind)
    target = pipe.destination
    url = project.destination_url(pipe)
    report = RunReport(
        run_id=run.id,
        pipeline=run.pipeline,
        table=pipe.table.name,
        destination=redact(url),
        mode=target.mode,
        kind=kind,
    )
    for stream in pipe.sources:
        report.stream(stream)
    return report


def _count(report: RunReport, rec: FileRecord) -> None:
    tally.count(report, rec.source, tally.unstaged(rec.counts or {}), unit=rec.name, load_id=rec.id)


def _quarantined_files(store: StateStore, run: Run, report: RunReport) -> None:
    """Files the run set aside (their entries are committed as they are made)."""
    known = {f["load_id"] for s in report.streams.values() for f in s.quarantined_files}
    for e in store.quarantined(run_id=run.id, status=None):
        if e.kind == EntryKind.FILE and e.file_id not in known:
            report.stream(e.source).quarantined_files.append(
                {
                    "file": e.unit,
                    "reason": (e.reasons or [""])[0],
                    "hint": (e.payload or {}).get("hint"),
                    "load_id": e.file_id,
                }
            )


def _iso(run: Run) -> str:
    return run.started_at.isoformat(timespec="seconds")


def _seconds(run: Run) -> float:
    last = run.heartbeat_at or run.started_at
    return max(0.0, seconds_since(run.started_at) - seconds_since(last))


# ---------------------------------------------------------------------- cancel


def cancel_run(
    project: Project, store: StateStore, run_id: str, *, wait: float = 10.0
) -> RunStatus:
    """Ask a live run to stop, wherever it runs; its status after at most ``wait`` s.

    The process carrying it out sees ``cancelling`` on its next heartbeat and stops
    between batches (its load in progress rolls back). A run no one carries out any
    more (its process killed, a Celery run with no worker) is settled ``cancelled``
    here at once, with what of it had committed. A run not in the state store (or no
    longer: it ended and was pruned meanwhile) is :class:`NotFound`.
    """
    run = store.known_run(run_id)
    if run.status not in LIVE:
        raise RunConflict(
            f"run {run.id} is not going (status: {run.status})",
            hint="only a running or queued run can be cancelled",
        )
    if _is_stale(store, run):
        return settle_run(project, store, run, cancel=True)
    if store.request_cancel(run.id) is None:  # it ended meanwhile
        return _ended(run.id, store.run(run.id))
    store.log(run.id, "warning", "cancel asked (sluice cancel): the run stops at its next batch")
    if run.host == "celery" and not RunParts(store).of(run.id):
        # Not planned yet (no worker took it): nothing runs to stop it, so it ends here;
        # a plan task that comes later finds it over.
        return settle_run(project, store, run, cancel=True)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        now = store.run(run.id)
        if now is None or now.status not in LIVE:
            return _ended(run.id, now)
        if _is_stale(store, now):
            return settle_run(project, store, now, cancel=True)
        time.sleep(0.2)
    return RunStatus.CANCELLING


def _ended(run_id: str, run: Run | None) -> RunStatus:
    """What a run asked to stop ended as. Gone from the state store: it ended, and was
    pruned meanwhile (only runs that ended are)."""
    if run is None:
        raise NotFound(
            f"no run {run_id!r} any more: it ended, and was pruned meanwhile",
            hint="`sluice runs` lists the recent ones",
        )
    return RunStatus(run.status)


def _is_stale(store: StateStore, run: Run) -> bool:
    return any(r.id == run.id for r in store.stale_runs(lease_seconds(), run.pipeline))


def open_store(project: Project) -> StateStore:
    """The project's state store, with the runs no one carries out any more settled."""
    store = StateStore(project.state_url())
    try:
        settle_stale(project, store)
    except BaseException:
        store.close()
        raise
    return store
