"""One atomic load: open its units, stream their rows into the warehouse, commit each
unit's ledger entry.

The rows are read, transformed and validated in a producer thread
(:class:`~sluice.handoff.Prefetch`) while the destination writes. A unit that
breaks mid-way (an unreadable line, an API's later page that drifted) is set aside and
the load tried again without it; anything else that fails rolls the whole load back.
Once the warehouse committed, each unit's counts, quarantined rows and cursor are
committed in the ledger, in the order of its units (the kill tests hold that order).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import polars as pl

from sluice.batch import Batch
from sluice.destinations import Destination, LoadMeta, LoadResult
from sluice.engine import drift, gate, refusals, tally
from sluice.engine.context import RunContext
from sluice.engine.deadletter import DeadLetter
from sluice.engine.newer import NewerKeys
from sluice.engine.opener import Opened, UnitOpener, field_of, of, then
from sluice.engine.plan import PlannedLoad, PlannedUnit, file_gone
from sluice.engine.process import Stepped, UnitProcessor
from sluice.engine.tables import RunTables, targets
from sluice.errors import DriftError, FetchError, FileGone, LoadError, SluiceError, SourceError
from sluice.handoff import Prefetch
from sluice.sources import Unit
from sluice.status import FileStatus, RunKind
from sluice.transforms import MappingPlan


class Loader:
    def __init__(
        self,
        ctx: RunContext,
        dest: Callable[[], Destination],
        tables: RunTables,
        opener: UnitOpener,
        deadletter: DeadLetter,
        newer: NewerKeys,
    ) -> None:
        self.ctx, self._dest, self.tables = ctx, dest, tables
        self.opener, self.deadletter, self.newer = opener, deadletter, newer

    def load(self, planned: PlannedLoad) -> None:
        """Load ``planned``; a unit that breaks mid-way is set aside and the rest retried."""
        store = self.ctx.store
        units = list(planned.units)
        began = time.perf_counter()
        while units:
            if self._dest().is_loaded(planned.load_key):
                self._committed_before(units)
                return
            self.tables.begin_load()
            feed = _Feed(self, planned)
            # Units set aside (or gone) as they were opened: done with for this run. A
            # later try of the load opens only the others, and a load that fails leaves
            # their ledger entries as the opening left them (each set aside once).
            settled: set[int] = set()
            try:
                for u in units:
                    if (o := self.opener.open(*u)) is None:
                        settled.add(u.file_id)
                    else:
                        feed.opened.append(o)
                units = [u for u in units if u.file_id not in settled]
                if not feed.opened:  # every unit was set aside: nothing to commit
                    return
                result, waited, load_start = self._stream(planned, feed)
            except SluiceError as exc:
                units = [u for u in units if u.file_id not in settled]
                failed = feed.failed if feed.error is exc else None
                if failed is None:  # the load failed, not one unit: the run stops
                    for u in units:
                        self.newer.forget(u.file_id)
                        store.discard_rows(u.file_id)
                        store.update_file(u.file_id, status=FileStatus.FAILED)
                    raise
                for u in units:  # the load is tried again without the unit that broke
                    self.newer.forget(u.file_id)
                    store.discard_rows(u.file_id)
                if isinstance(exc, FileGone):
                    # Opened, then deleted or moved before its rows were read (a load of
                    # several files opens them all first): no bytes to set aside or replay.
                    # As at its opening: the run's error for that file, its entry failed.
                    store.update_file(failed.file_id, status=FileStatus.FAILED)
                    file_gone(self.ctx, failed.stream, failed.unit.name)
                else:
                    self.deadletter.set_aside(failed.stream, failed.unit, failed.file_id, exc)
                units = [u for u in units if u.file_id != failed.file_id]
                continue
            now = time.perf_counter()
            self._commit(feed.opened, result, now - load_start - waited, now - began)
            return

    def _committed_before(self, units: list[PlannedUnit]) -> None:
        """The load's marker is in the warehouse (a run that did not finish committed
        it): only the ledger is behind."""
        store = self.ctx.store
        for stream, unit, file_id in units:
            rec = store.file(file_id)
            if rec is not None and rec.counts:  # it staged them: keep them
                store.commit_unit(file_id, dict(rec.counts))
            else:
                store.update_file(file_id, status=FileStatus.LOADED)
            self.ctx.report.stream(stream).skipped_files.append(
                {
                    "file": unit.name,
                    "reason": (
                        "its load had committed in a run that did not finish; ledger updated"
                    ),
                }
            )

    def _stream(self, planned: PlannedLoad, feed: _Feed) -> tuple[LoadResult, float, float]:
        """Send the units' rows to the destination; (its result, seconds spent waiting
        for rows, when the sending started)."""
        prefetch = Prefetch(feed.frames(), self._read_ahead(feed))
        start = time.perf_counter()
        try:
            result = self.send(planned.load_key, self._then_finish(prefetch, feed), planned.meta)
        finally:
            prefetch.close()
        return result, prefetch.waited, start

    def _read_ahead(self, feed: _Feed) -> int:
        """Batches the producer may have ready before the destination takes them: one,
        or as many of the largest source batch as the destination's read-ahead holds."""
        budget = self._dest().capabilities.read_ahead_bytes
        sources = self.ctx.pipe.sources
        largest = max(sources[o.stream].batch_bytes for o in feed.opened)
        return max(1, budget // largest)

    def _then_finish(self, items: Iterable[Any], feed: _Feed) -> Iterator[Any]:
        """``items``, then the stage the destination is in once it has them all.

        Merging into a large table or committing can take a while after the last row
        was sent: the live display says so instead of freezing on "load".
        """
        yield from items
        ctx = self.ctx
        stage = {"merge": "merge", "replace": "replace"}.get(ctx.mode, "commit")
        read: dict[str, int] = {}
        for o in feed.opened:
            read[o.stream] = read.get(o.stream, 0) + o.proc.counts.read
        for stream, n in read.items():
            ctx.progress(stream, stage, ctx.report.stream(stream).counts.read + n)

    def send(self, load_key: str, items: Iterable[Any], meta: LoadMeta | None) -> LoadResult:
        """Load rows under ``load_key``: into the table, or into every table of the layout.

        ``items`` are frames, or rows per table when the layout splits records.
        """
        ctx, layout = self.ctx, self.tables.layout
        if not layout.split_up:
            return self._dest().load(layout.root, ctx.mode, load_key, items, meta)
        warehouse = self._dest().warehouse()
        if warehouse is None:  # refused at `sluice validate`: a layout needs tables
            raise LoadError(
                "a normalized layout loads tables: this destination holds none",
                hint="load it into a warehouse (sqlite, postgres, mysql, duckdb)",
            )
        result = warehouse.load_tables(
            targets(layout, ctx.mode), load_key, items, meta, layout.root_name
        )
        for name, n in result.tables.items():
            ctx.report.tables[name] = ctx.report.tables.get(name, 0) + n
        return result

    def rows_of(self, proc: UnitProcessor, batches: Iterable[Batch | Stepped]) -> Iterator[Any]:
        """What :meth:`send` takes, from one unit's batches."""
        return proc.tables(batches) if self.tables.layout.split_up else proc.frames(batches)

    def _commit(
        self, opened: list[Opened], result: LoadResult, load_seconds: float, wall: float
    ) -> None:
        """The warehouse committed: count each unit and commit its ledger entry.
        ``wall``: seconds since the load began, added once to each stream's elapsed."""
        ctx = self.ctx
        passed = sum(o.proc.counts.loaded for o in opened)
        if result.rows != passed:
            raise LoadError(
                f"the destination loaded {result.rows} rows of {passed}",
                hint="this is a bug in sluice or the destination driver",
            )
        # Rows an http destination did not deliver now: already delivered (filtered by
        # the ledger) or refused by the API (quarantined with its answer and raw fields).
        refusals.apply(result, [o.proc for o in opened])
        passed = sum(o.proc.counts.loaded for o in opened)
        for name in {o.stream for o in opened}:
            ctx.report.stream(name).elapsed += wall
        read: list[int] = []  # each stream's rows read, after each unit
        for o in opened:
            p = o.proc
            share = p.counts.loaded / passed if passed else 1
            seconds = {**p.seconds, "load": load_seconds * share}
            srep = tally.count(
                ctx.report, o.stream, p.counts, unit=o.unit.name, load_id=o.file_id, seconds=seconds
            )
            read.append(srep.counts.read)
            stats = o.unit.http_stats()  # what an API pull leaves behind
            if stats is not None:
                srep.http = stats
        # Every unit's ledger entry, quarantined rows, cursor, superseded entries and log
        # line, and the stages: one transaction (four a unit cost 60 of the 108 ms a load
        # of seven files spent in the PostgreSQL state store after its commit).
        ctx.store.together(lambda: self._record(opened))
        for o, rows in zip(opened, read, strict=True):
            self._supersede_older(o.stream, o.unit, o.file_id)
            if ctx.mode == "merge" and o.proc.counts.quarantined:
                self.newer.add(o.file_id)
            self._note_drift(o.stream, o.unit, o.proc.plan)
            ctx.progress(o.stream, "done", rows)

    def _record(self, opened: list[Opened]) -> None:
        """The state store's part of :meth:`_commit` (made again as a whole if the
        store's connection dropped before it committed: it writes nothing else)."""
        ctx = self.ctx
        for o in opened:
            stream, unit, file_id, c = o.stream, o.unit, o.file_id, o.proc.counts
            # The ledger, the unit's quarantined rows (pending -> open) and its cursor.
            ctx.store.commit_unit(file_id, tally.staged(c, unit.checkpoint, o.proc.ctx.delimiter))
            if unit.checkpoint is not None:  # saved with the unit's ledger entry
                ctx.log("info", f"{stream}: cursor saved: {unit.checkpoint}", stream=stream)
            self.deadletter.supersede(stream, unit.name, file_id, whole=ctx.pages is None)
            ctx.log(
                "info",
                (
                    f"{unit.name}: read {c.read}, loaded {c.loaded}, quarantined "
                    f"{c.quarantined}, filtered {c.filtered}"
                ),
                stream=stream,
                load_id=file_id,
            )
        if ctx.part is None:  # a Celery part's stages are added with its end
            for stream in dict.fromkeys(o.stream for o in opened):
                srep = ctx.report.stream(stream)
                tally.record_stages(ctx.store, ctx.run_id, stream, srep.counts, srep.seconds)

    def _supersede_older(self, stream: str, unit: Unit, file_id: int) -> None:
        """Under merge: close the row entries of older units this load wrote again (a
        replay would upsert them over these newer rows)."""
        n = self.newer.supersede(file_id, self.ctx.run_id)
        if n:
            self.ctx.log(
                "info",
                f"{unit.name}: {n} quarantined row(s) of older loads superseded: this load "
                "merged newer rows with the same keys (`sluice quarantine list --status "
                "superseded` lists them)",
                stream=stream,
            )

    def _note_drift(self, stream: str, unit: Unit, plan: MappingPlan) -> None:
        """The drift a committed unit was loaded with (``evolve``), in the stream's report."""
        # unit.vanished: an API's fields gone mid-pull
        entry = drift.note(unit.name, plan, unit.vanished, field_of(self.ctx, stream))
        if entry is not None:
            self.ctx.report.stream(stream).drift.append(entry)


class _Feed:
    """The rows of one attempt at a load, read in the producer thread.

    A unit that breaks mid-way is noted in :attr:`failed` before its error goes on (to
    the consumer, through the destination, which rolls the load back): the loader then
    sets that unit aside and tries the load again without it.
    """

    def __init__(self, loader: Loader, planned: PlannedLoad) -> None:
        self.loader, self.planned = loader, planned
        self.opened: list[Opened] = []
        #: the unit that broke mid-way, and its error (as the consumer receives it)
        self.failed: PlannedUnit | None = None
        self.error: SluiceError | None = None

    def _with_evolved(self, rows: pl.DataFrame) -> pl.DataFrame:
        """``rows`` with the columns ``drift: evolve`` added for a later unit of the load,
        as null: the load writes the table's columns as they are once every unit opened,
        and a unit opened before the one that brought a column has none of it."""
        missing = [c for c in self.loader.tables.extra if c not in rows.schema]
        if not missing:
            return rows
        return rows.with_columns(pl.lit(None, pl.String).alias(c) for c in missing)

    def frames(self) -> Iterator[Any]:
        loader, ctx = self.loader, self.loader.ctx
        before: dict[str, int] = {}  # per stream: rows its earlier units read
        for index, o in enumerate(self.opened):
            if index:
                o.proc.on_begin(before.get(o.stream, 0))
            # The reader's thread runs the steps too (see UnitProcessor.stepped).
            parsed = Prefetch(o.proc.stepped(o.batches))
            try:
                for rows in loader.rows_of(o.proc, parsed):
                    ctx.check_cancelled()
                    if isinstance(rows, pl.DataFrame):
                        rows = self._with_evolved(rows)
                    if ctx.mode == "merge" and ctx.kind == RunKind.RUN:
                        loader.newer.watch(rows, o.file_id)
                    yield refusals.tag(rows, index) if o.proc.keep_raw else rows
                    gate.between_batches(ctx.cancelled)  # tests only, see its module
                ctx.check_cancelled()
            except FetchError:
                raise
            except DriftError as exc:  # its shape changed mid-way (an API's later page)
                exc.hint = (
                    f"if {of(ctx, o.stream)} no longer sends them, set drift: evolve on "
                    f"source {o.stream!r} to load them as null; then {then(ctx, o.stream)}"
                )
                if ctx.pipe.sources[o.stream].drift != "fail":  # "fail": the run stops
                    self.failed, self.error = PlannedUnit(o.stream, o.unit, o.file_id), exc
                raise
            except SourceError as exc:
                self.failed, self.error = PlannedUnit(o.stream, o.unit, o.file_id), exc
                raise
            finally:
                parsed.close()
            before[o.stream] = before.get(o.stream, 0) + o.proc.counts.read
        # Every row is read and the warehouse commits next: stage each unit's counts
        # and cursor under the load's key first (one transaction). A run killed past the
        # commit is settled from them and the load marker (:mod:`sluice.engine.settle`).
        ctx.store.together(self._stage)

    def _stage(self) -> None:
        store, key = self.loader.ctx.store, self.planned.load_key
        for o in self.opened:
            counts = tally.staged(o.proc.counts, o.unit.checkpoint, o.proc.ctx.delimiter)
            store.stage_unit(o.file_id, key, counts)
