"""Replay quarantined rows and files through the pipeline's current configuration.

Exactly once: a replay claims its entries first, with one conditional UPDATE (open ->
``replaying`` with its run id) that only one of two replays at once can win; the
other leaves them to it. The load's key (written in the warehouse with the data)
names the replay's run: if a replay dies between the warehouse commit and the state
update, the next replay sees the key and only finishes the bookkeeping; if it died
before, the next replay takes its entries over.

A replay adds its rows to what the last load left, under every mode: ``replace``
appends them (swapping the table for the replayed rows alone would lose that load),
``merge`` upserts them, ``snapshot`` stamps them with their own load's id.

A file comes back from its dead-letter copy under its original load id, so a snapshot
of an old drop never displaces a newer one in ``<table>_latest``; rows rejoin the
snapshot of the file they came from.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import polars as pl

from sluice.batch import LINE, Batch
from sluice.config import FileSourceConfig, HttpSourceConfig, Project
from sluice.destinations import LoadMeta
from sluice.engine import refusals, tally
from sluice.engine.context import Progress, RunContext, start
from sluice.engine.kit import RunKit
from sluice.engine.lifecycle import Work, execute
from sluice.engine.opener import file_delimiter
from sluice.engine.plan import PlannedLoad, PlannedUnit, source_context
from sluice.engine.process import UnitContext
from sluice.engine.report import Counts, RunReport
from sluice.errors import ConfigError, SluiceError, UsageError, Where
from sluice.sources import SourceContext, create_source
from sluice.sources.csv_footer import is_footer_reason
from sluice.sources.file import format_of
from sluice.state.models import QuarantineEntry
from sluice.state.quarantine import NewEntry
from sluice.state.store import StateStore
from sluice.status import LIVE, EntryKind, FileStatus, QuarantineStatus, RunKind
from sluice.transforms import plan_mapping


def replay(
    project: Project,
    *,
    ids: Sequence[int] | None = None,
    pipeline: str | None = None,
    wait: bool = False,
    progress: Progress | None = None,
) -> list[RunReport]:
    """Replay open quarantine entries (all, or ``ids``); one report per pipeline.

    ``wait``: a replay of a pipeline another run has waits for it (``queued``) instead
    of being refused. ``progress``: told as a run's is (:data:`Progress`)."""
    store = StateStore(project.state_url())
    try:
        planned = plan_replay(
            project, store, ids=ids, pipeline=pipeline, wait=wait, progress=progress
        )
        return [execute(ctx, work) for ctx, work in planned]
    finally:
        store.close()


def plan_replay(
    project: Project,
    store: StateStore,
    *,
    ids: Sequence[int] | None = None,
    pipeline: str | None = None,
    own_stores: bool = False,
    wait: bool = False,
    progress: Progress | None = None,
) -> list[tuple[RunContext, Work]]:
    """One replay run per pipeline (its run id exists) and the work to execute.

    ``own_stores``: each run opens (and closes) its own store, to run in another thread.
    ``wait``: behind a run of its pipeline going anywhere, instead of refused.
    """
    entries = [
        e
        for e in store.quarantined(pipeline=pipeline, status=None, ids=ids)
        if e.status in (QuarantineStatus.OPEN, QuarantineStatus.REPLAYING)
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
    planned: list[tuple[RunContext, Work]] = []
    for name, group in by_pipeline.items():
        # A replay adds its rows to what the last load left: swapping the table for
        # them alone would throw that load away.
        appends = project.pipeline(name).destination.mode == "replace"
        ctx = start(
            project,
            name,
            store=None if own_stores else store,
            kind=RunKind.REPLAY,
            wait=wait,
            mode="append" if appends else None,
            progress=progress,
        )
        planned.append((ctx, partial(_replay, group)))
    return planned


def _replay(entries: list[QuarantineEntry], kit: RunKit) -> None:
    ctx = kit.ctx
    if ctx.mode != ctx.pipe.destination.mode:
        ctx.log("info", "mode replace: the replay appends its rows to the table the last load left")
    entries = _claim(kit, entries)
    try:
        # An API's newest pull first: once it loads, the older ones it supersedes (and,
        # unless the pull is incremental, their rows) are closed, not loaded as well.
        files = sorted(
            (e for e in entries if e.kind == EntryKind.FILE),
            key=lambda e: -e.id if _is_pull(ctx, e) else e.id,
        )
        for e in files:
            if _still_mine(ctx, [e]):
                _replay_file(kit, e)
        rows: dict[tuple[str, int | None, str], list[QuarantineEntry]] = defaultdict(list)
        for e in _still_mine(ctx, [e for e in entries if e.kind == EntryKind.ROW]):
            rows[(e.source, e.file_id, e.unit)].append(e)
        for (source, file_id, unit), group in rows.items():
            _replay_rows(kit, source, file_id, unit, group)
    finally:
        _release_unfinished(kit, entries)


def _is_pull(ctx: RunContext, e: QuarantineEntry) -> bool:
    return isinstance(ctx.pipe.sources.get(e.source), HttpSourceConfig)


def _still_mine(ctx: RunContext, entries: list[QuarantineEntry]) -> list[QuarantineEntry]:
    """Those of ``entries`` this replay still holds (a load may have superseded some)."""
    if not entries:
        return []
    held = ctx.store.replaying(ctx.run_id)
    return [e for e in entries if e.id in held]


def _row_key(ctx: RunContext, run_id: str, source: str, file_id: int | None) -> str:
    return f"{ctx.name}/replay/{run_id}/{source}/{file_id}"


def _key(ctx: RunContext, e: QuarantineEntry, run_id: str) -> str:
    """The load key an entry's replay by ``run_id`` commits under."""
    if e.kind == EntryKind.FILE:
        rec = ctx.store.file(e.file_id) if e.file_id else None
        return rec.load_key if rec is not None else ""
    return _row_key(ctx, run_id, e.source, e.file_id)


def _claim(kit: RunKit, entries: list[QuarantineEntry]) -> list[QuarantineEntry]:
    """The entries this replay takes, atomically: open ones no other replay took first,
    and those a replay that is gone left ``replaying`` (if its load committed, only its
    bookkeeping is finished here)."""
    ctx, store = kit.ctx, kit.ctx.store
    mine = set(
        store.claim_quarantine(
            [e.id for e in entries if e.status == QuarantineStatus.OPEN], ctx.run_id
        )
    )
    todo: list[QuarantineEntry] = []
    busy: dict[tuple[str, str], int] = defaultdict(int)
    for e in entries:
        if e.id in mine:
            e.status, e.replay_run_id = QuarantineStatus.REPLAYING, ctx.run_id
            todo.append(e)
            continue
        if e.status != QuarantineStatus.REPLAYING:  # another replay claimed it since it was read
            fresh = store.quarantined(status=None, ids=[e.id])
            if not fresh or fresh[0].status != QuarantineStatus.REPLAYING:
                continue  # replayed (or discarded) in the meantime
            e = fresh[0]
        owner = e.replay_run_id
        run = store.run(owner) if owner else None
        if run is not None and run.id != ctx.run_id and run.status in LIVE:
            busy[(run.id, e.source)] += 1
            continue
        key = _key(ctx, e, owner or "")
        if key and kit.destination().is_loaded(key):
            # That replay committed its load and died before its bookkeeping.
            if store.take_over_quarantine(e.id, owner, owner or ctx.run_id):
                store.set_quarantine_status([e.id], QuarantineStatus.REPLAYED, owner)
                if e.kind == EntryKind.FILE and e.file_id:
                    store.update_file(e.file_id, status=FileStatus.LOADED)
            continue
        if store.take_over_quarantine(e.id, owner, ctx.run_id):
            e.replay_run_id = ctx.run_id
            todo.append(e)
    for (run_id, source), n in busy.items():
        message = (
            f"{n} quarantine entr{'y is' if n == 1 else 'ies are'} being replayed by run "
            f"{run_id}: left to it"
        )
        hint = f"`sluice show {run_id}` follows that replay"
        ctx.report.warnings.append({"stream": source, "message": message, "hint": hint})
        ctx.log("warning", f"{source}: {message} ({hint})", stream=source)
    return todo


def _release_unfinished(kit: RunKit, entries: list[QuarantineEntry]) -> None:
    """Entries still ``replaying`` by this run when it ends (an error stopped it): open
    again unless their load committed, and then replayed."""
    ctx, store = kit.ctx, kit.ctx.store
    left = store.replaying(ctx.run_id)
    if not left:
        return
    done: list[int] = []
    undone: list[int] = []
    for e in entries:
        if e.id in left:
            try:
                loaded = kit.destination().is_loaded(_key(ctx, e, ctx.run_id))
            except SluiceError:
                continue  # the warehouse is gone: the next replay settles it
            (done if loaded else undone).append(e.id)
    store.set_quarantine_status(done, QuarantineStatus.REPLAYED, ctx.run_id)
    store.release_quarantine(undone, ctx.run_id)


def _replay_file(kit: RunKit, entry: QuarantineEntry) -> None:
    """A unit set aside, loaded again from its dead-letter copy (never fetched again)."""
    ctx, store = kit.ctx, kit.ctx.store
    payload = entry.payload or {}
    copy = payload.get("copy")
    rec = store.file(entry.file_id) if entry.file_id else None
    gone = not copy or not Path(copy).exists() or rec is None
    if gone or (_is_pull(ctx, entry) and payload.get("kept") != "pull"):
        store.release_quarantine([entry.id], ctx.run_id)
        ctx.report.fail(_no_copy(ctx, entry, gone), entry.source)
        return
    assert copy is not None and rec is not None
    cfg = ctx.pipe.sources[entry.source]
    context = SourceContext(log=source_context(ctx, entry.source).log)  # it logs to this run
    unit = create_source(entry.source, cfg, ctx.project.root, context).kept(Path(copy), entry.unit)
    if isinstance(cfg, HttpSourceConfig):  # its records: the fields it had hidden stay so
        kit.deadletter.concealed[rec.id] = frozenset(payload.get("concealed") or ())
    kit.deadletter.requarantine[rec.id] = entry.id
    store.update_file(rec.id, status=FileStatus.LOADING, run_id=ctx.run_id)
    meta = LoadMeta(rec.id, entry.source, datetime.now(UTC)) if ctx.mode == "snapshot" else None
    kit.loader.load(PlannedLoad([PlannedUnit(entry.source, unit, rec.id)], rec.load_key, meta))
    if store.file(rec.id).status == FileStatus.LOADED:  # type: ignore[union-attr]
        store.set_quarantine_status([entry.id], QuarantineStatus.REPLAYED, ctx.run_id)


def _no_copy(ctx: RunContext, entry: QuarantineEntry, gone: bool) -> SluiceError:
    if _is_pull(ctx, entry):
        what = "is gone" if gone else "holds only part of the pull (it was set aside half-way)"
        return SluiceError(
            f"quarantine entry {entry.id}: the dead-letter copy of the pull {entry.unit} {what}",
            hint=(
                f"pull the API again with `sluice run {ctx.name}`; once that pull loads, "
                "this entry is closed as superseded"
            ),
        )
    return SluiceError(
        f"quarantine entry {entry.id}: the dead-letter copy of {entry.unit} is gone",
        hint=(
            f"load the original file again with `sluice run {ctx.name} --source "
            f"{entry.source} --file PATH --full-refresh`"
        ),
    )


def _csv_nulls(cfg: object, unit: str) -> frozenset[str]:
    """The values a CSV file's source reads as null (``csv.null_values``), as it reads
    them now: a marker added there since (``N/A``) is null on replay, as it would be if
    the file were read again. Other files' rows are replayed as they were kept."""
    if not isinstance(cfg, FileSourceConfig) or format_of(cfg, unit) != "csv":
        return frozenset()
    return frozenset(cfg.csv.null_values)


def _replay_rows(
    kit: RunKit, source: str, file_id: int | None, unit: str, entries: list[QuarantineEntry]
) -> None:
    ctx, store = kit.ctx, kit.ctx.store
    parsed = [e for e in entries if "_raw" not in (e.payload or {})]
    unparsed = [e for e in entries if e not in parsed]
    # A row kept as the text of its line (the parser could not split it, or it held a
    # value no column takes) stays put: a replay reads no text again. Said, or "once
    # fixed: replay" would send the user round in a circle.
    tally.count(ctx.report, source, _kept(len(unparsed)))
    store.release_quarantine([e.id for e in unparsed], ctx.run_id)
    if unparsed:
        named = " ".join(str(e.id) for e in unparsed)
        ctx.report.warnings.append(
            {
                "stream": source,
                "message": (
                    f"{len(unparsed)} row(s) of {unit} kept as the text of their lines "
                    f"(entries {named}) stay in quarantine: a replay does not read text again"
                ),
                "hint": (
                    "fix those lines in the file and load them again (under append, only "
                    "the fixed lines, in a file of their own under the header), then "
                    f"`sluice quarantine discard {named}`"
                ),
            }
        )
        ctx.log("warning", f"{source}: {len(unparsed)} unsplit row(s) of {unit} kept")
    if not parsed:
        return
    headers = list(dict.fromkeys(h for e in parsed for h in (e.payload or {})))
    # Rows are told apart by their place here (an entry's own line may repeat or be
    # missing); the entries keep their lines.
    nulls = _csv_nulls(ctx.pipe.sources[source], unit)

    def field(v: object) -> str | None:
        return None if v is None or str(v) in nulls else str(v)

    data = pl.DataFrame(
        {h: [field((e.payload or {}).get(h)) for e in parsed] for h in headers},
        schema=dict.fromkeys(headers, pl.String),
    ).with_columns(pl.Series(LINE, range(1, len(parsed) + 1), dtype=pl.Int64))
    plan = plan_mapping(headers, ctx.pipe, ctx.pipe.sources[source], ctx.project.synonyms)
    if plan.drifted and ctx.pipe.sources[source].drift == "evolve":
        plan = kit.opener.evolve_plan(source, unit, plan)  # as a run would load them
    if plan.drifted:
        tally.count(ctx.report, source, _kept(len(parsed)))
        store.release_quarantine([e.id for e in parsed], ctx.run_id)
        ctx.report.fail(
            ConfigError(
                f"{len(parsed)} row(s) of {unit} no longer match the mapping: {plan.describe()}",
                where=Where(file=unit),
                hint="map those headers again, then replay",
            ),
            source,
        )
        return
    by_line = {n: e for n, e in enumerate(parsed, start=1)}
    still: list[int] = []

    def requarantine(found: list[NewEntry]) -> None:
        for f in found:
            e = by_line.get(f.line) if f.line is not None else None
            if e is not None:
                store.update_quarantine(e.id, reasons=f.reasons, status=QuarantineStatus.OPEN)
                still.append(e.id)

    kit.tables.begin_load()
    # Numbers read as the run read them: a file whose `sep=;` line set its delimiter
    # writes them as the spreadsheets that use `;` do (see ``decimal_mark``).
    delimiter = file_delimiter(store, file_id)
    unit_ctx = UnitContext(ctx.run_id, ctx.name, source, unit, file_id, delimiter)
    proc = kit.opener.processor(unit_ctx, plan)
    proc.write_quarantine = requarantine
    proc.apply_pii = False  # quarantine holds the rows with their policies applied
    ids = [e.id for e in parsed]
    meta = LoadMeta(file_id or 0, source, datetime.now(UTC)) if ctx.mode == "snapshot" else None
    key = _row_key(ctx, ctx.run_id, source, file_id)
    loader = kit.loader
    try:
        # A file's footer row is read again as one: the source's csv.footer applies.
        footer = {n: r for n, e in by_line.items() for r in e.reasons if is_footer_reason(r)}
        batch = Batch(source, unit, data, footer=footer)
        result = loader.send(key, loader.rows_of(proc, [batch]), meta)
    except SluiceError:
        store.release_quarantine(ids, ctx.run_id)
        raise
    proc.counts.loaded = result.rows
    # An HTTP destination: refused again (still quarantined, with its new answer) or
    # delivered since by another run (the ledger filters it).
    refusals.apply(result, [proc])
    done = [i for i in ids if i not in still]
    tally.count(ctx.report, source, proc.counts, unit=unit, load_id=file_id)
    store.set_quarantine_status(done, QuarantineStatus.REPLAYED, ctx.run_id)
    # As a run's unit ends (Loader._commit): the progress display shows the stream done.
    ctx.progress(source, "done", ctx.report.stream(source).counts.read)


def _kept(n: int) -> Counts:
    """``n`` rows read from quarantine that stay there."""
    return Counts(read=n, quarantined=n)
