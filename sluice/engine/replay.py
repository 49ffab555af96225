"""Replay quarantined rows and files through the pipeline's current configuration.

Exactly once: entries are marked ``replaying`` with the replay's run id before their
load, and the load's key (written in the warehouse with the data) names that run. If a
replay dies between the warehouse commit and the state update, the next replay sees
the key and only finishes the bookkeeping.

A file comes back from its dead-letter copy under its original load id, so a snapshot
of an old drop never displaces a newer one in ``<table>_latest``; rows rejoin the
snapshot of the file they came from.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import polars as pl

from sluice.batch import LINE, Batch
from sluice.config import Project
from sluice.destinations import LoadMeta
from sluice.engine.process import UnitContext
from sluice.engine.report import RunReport
from sluice.engine.runner import Job, Runner
from sluice.errors import ConfigError, SluiceError, UsageError, Where
from sluice.sources import SourceContext, create_source
from sluice.state.models import QuarantineEntry
from sluice.state.store import StateStore
from sluice.transforms import plan_mapping


def replay(
    project: Project, *, ids: Sequence[int] | None = None, pipeline: str | None = None
) -> list[RunReport]:
    """Replay open quarantine entries (all, or ``ids``); one report per pipeline."""
    store = StateStore(project.state_url())
    try:
        planned = plan_replay(project, store, ids=ids, pipeline=pipeline)
        return [runner.execute(body) for runner, body in planned]
    finally:
        store.close()


def plan_replay(
    project: Project,
    store: StateStore,
    *,
    ids: Sequence[int] | None = None,
    pipeline: str | None = None,
    own_stores: bool = False,
) -> list[tuple[Runner, Callable[[], None]]]:
    """One replay runner per pipeline (its run id exists) and the body to execute.

    ``own_stores``: each runner opens (and closes) its own store, to run in another thread.
    """
    entries = [
        e
        for e in store.quarantined(pipeline=pipeline, status=None, ids=ids)
        if e.status in ("open", "replaying")
    ]
    if ids:
        missing = set(ids) - {e.id for e in entries}
        if missing:
            raise UsageError(
                f"no open quarantine entry with id {sorted(missing)}",
                hint="`sluice quarantine list` shows the open ones",
            )
    by_pipeline: dict[str, list[QuarantineEntry]] = defaultdict(list)
    for e in entries:
        by_pipeline[e.pipeline].append(e)
    planned: list[tuple[Runner, Callable[[], None]]] = []
    for name, group in by_pipeline.items():
        runner = Runner(project, name, store=None if own_stores else store, kind="replay")
        planned.append((runner, partial(_replay, runner, group)))
    return planned


def _replay(runner: Runner, entries: list[QuarantineEntry]) -> None:
    entries = _recover(runner, entries)
    for e in entries:
        if e.kind == "file":
            _replay_file(runner, e)
    rows: dict[tuple[str, int | None, str], list[QuarantineEntry]] = defaultdict(list)
    for e in entries:
        if e.kind == "row":
            rows[(e.source, e.file_id, e.unit)].append(e)
    for (source, file_id, unit), group in rows.items():
        _replay_rows(runner, source, file_id, unit, group)


def _row_key(runner: Runner, run_id: str, source: str, file_id: int | None) -> str:
    return f"{runner.name}/replay/{run_id}/{source}/{file_id}"


def _recover(runner: Runner, entries: list[QuarantineEntry]) -> list[QuarantineEntry]:
    """Finish the bookkeeping of an earlier replay that died after its load committed."""
    store, todo = runner.store, []
    for e in entries:
        if e.status != "replaying":
            todo.append(e)
            continue
        rec = store.file(e.file_id) if e.file_id else None
        key = (
            rec.load_key
            if e.kind == "file" and rec
            else _row_key(runner, e.replay_run_id or "", e.source, e.file_id)
        )
        if runner.dest.is_loaded(key):
            store.set_quarantine_status([e.id], "replayed", e.replay_run_id)
            if e.kind == "file" and rec:
                store.update_file(rec.id, status="loaded")
        else:
            e.status = "open"
            todo.append(e)
    return todo


def _replay_file(runner: Runner, entry: QuarantineEntry) -> None:
    store = runner.store
    copy = (entry.payload or {}).get("copy")
    rec = store.file(entry.file_id) if entry.file_id else None
    if not copy or not Path(copy).exists() or rec is None:
        runner.report.fail(
            SluiceError(
                f"quarantine entry {entry.id}: the dead-letter copy of {entry.unit} is gone",
                hint="load the original file again with `sluice run --file PATH --full-refresh`",
            ),
            entry.source,
        )
        return
    cfg = runner.pipe.sources[entry.source].model_copy(update={"path": copy})
    # An API's pull is pulled again (its copy is a sample); it logs to this run.
    context = SourceContext(log=runner._context(entry.source).log)
    unit = next(iter(create_source(entry.source, cfg, runner.project.root, context).units()))
    unit.name = entry.unit  # report it under its original name
    store.set_quarantine_status([entry.id], "replaying", runner.run_id)
    runner.deadletter.requarantine[rec.id] = entry.id
    store.update_file(rec.id, status="loading", run_id=runner.run_id)
    meta = LoadMeta(rec.id, entry.source, datetime.now(UTC)) if runner.mode == "snapshot" else None
    runner.load_job(Job([(entry.source, unit, rec.id)], rec.load_key, meta))
    if store.file(rec.id).status == "loaded":  # type: ignore[union-attr]
        store.set_quarantine_status([entry.id], "replayed", runner.run_id)


def _replay_rows(
    runner: Runner, source: str, file_id: int | None, unit: str, entries: list[QuarantineEntry]
) -> None:
    store = runner.store
    parsed = [e for e in entries if "_raw" not in (e.payload or {})]
    unparsed = [e for e in entries if e not in parsed]
    srep = runner.report.stream(source)
    # A row the parser could not split stays put: no configuration can fix it.
    srep.counts.read += len(unparsed)
    srep.counts.quarantined += len(unparsed)
    if not parsed:
        return
    headers = list(parsed[0].payload or {})
    data = pl.DataFrame(
        {
            h: [str(v) if (v := (e.payload or {}).get(h)) is not None else None for e in parsed]
            for h in headers
        },
        schema=dict.fromkeys(headers, pl.String),
    ).with_columns(pl.Series(LINE, [e.line or 0 for e in parsed], dtype=pl.Int64))
    plan = plan_mapping(headers, runner.pipe, runner.pipe.sources[source], runner.project.synonyms)
    if plan.drifted and runner.pipe.sources[source].drift == "evolve":
        plan = runner.evolve_plan(source, unit, plan)  # as a run would load them
    if plan.drifted:
        srep.counts.read += len(parsed)
        srep.counts.quarantined += len(parsed)
        runner.report.fail(
            ConfigError(
                f"{len(parsed)} row(s) of {unit} no longer match the mapping: {plan.describe()}",
                where=Where(file=unit),
                hint="map those headers again, then replay",
            ),
            source,
        )
        return
    by_line = {e.line: e for e in parsed}
    still: list[int] = []

    def requarantine(found: list[dict[str, Any]]) -> None:
        for f in found:
            e = by_line.get(f["line"])
            if e is not None:
                store.update_quarantine(e.id, reasons=f["reasons"], status="open")
                still.append(e.id)

    ctx = UnitContext(runner.run_id, runner.name, source, unit, file_id)
    runner.begin_load()
    proc = runner.processor(ctx, plan)
    proc.write_quarantine = requarantine
    proc.apply_pii = False  # quarantine holds the rows with their policies applied
    ids = [e.id for e in parsed]
    store.set_quarantine_status(ids, "replaying", runner.run_id)
    meta = LoadMeta(file_id or 0, source, datetime.now(UTC)) if runner.mode == "snapshot" else None
    key = _row_key(runner, runner.run_id, source, file_id)
    try:
        result = runner.send(key, runner.rows_of(proc, [Batch(source, unit, data)]), meta)
    except SluiceError:
        store.set_quarantine_status(ids, "open", None)
        raise
    proc.counts.loaded = result.rows
    srep.counts.add(proc.counts)
    done = [i for i in ids if i not in still]
    store.set_quarantine_status(done, "replayed", runner.run_id)
    srep.files.append(
        {
            "file": unit,
            "load_id": file_id,
            "read": proc.counts.read,
            "loaded": result.rows,
            "quarantined": proc.counts.quarantined,
            "filtered": proc.counts.filtered,
        }
    )
