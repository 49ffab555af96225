"""One unit's rows through mapping, steps and validation, counted and quarantined.

:class:`UnitProcessor` turns a reader's raw batches into loadable frames. Every row it
reads ends up in exactly one bucket: loaded (yielded), quarantined (with reasons, its
file and line, and its raw fields so it can be replayed) or filtered (by a named rule).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import polars as pl

from sluice.batch import LINE, Batch
from sluice.dtypes import json_ready
from sluice.engine.refusals import RawSpool
from sluice.engine.report import Counts
from sluice.state.quarantine import NewEntry
from sluice.status import EntryKind
from sluice.transforms import MappingPlan, StepRunner, Validator, apply_mapping
from sluice.transforms.normalize import Splitter
from sluice.transforms.pii import WITHHELD, PiiPlan
from sluice.transforms.steps import ENGINE, FOOTER, add_reasons
from sluice.transforms.validate import Refused

QuarantineWriter = Callable[[list[NewEntry]], None]
#: bad rows kept waiting for their reasons at most (their typed and raw fields, copied
#: out of their batches): their reasons are written for many batches at once, at a
#: fixed cost each time. 2,048 held 5-15 MB more at the bench load's peak, no faster.
EXPLAIN_ROWS = 512
#: quarantine entries written at a time, at most about (a batch's are not split)
WRITE_ENTRIES = 512
#: columns of a bad row that are not its fields (its line and reasons)
_NOT_RAW = frozenset({LINE, "_reasons"})


@dataclass(frozen=True)
class Stepped:
    """A batch through PII rules, mapping and the steps (:meth:`UnitProcessor.stepped`)."""

    batch: Batch
    #: its fields as read (PII rules applied): what a quarantine entry keeps
    raw: pl.DataFrame
    #: table columns, through the steps, for validation
    data: pl.DataFrame
    #: rows each rule filtered from it
    filtered: dict[str, int]


@dataclass(frozen=True)
class _Pending:
    """A validated batch's rows for quarantine, waiting for their reasons."""

    #: entries of the lines its parser could not read (reasons given)
    unread: list[NewEntry]
    #: the rows that failed validation
    refused: Refused
    #: rows a normalized layout's split refused, as ``_line`` and ``_reasons``
    split: pl.DataFrame | None
    #: the fields of all of them, as read
    raw: pl.DataFrame


@dataclass
class UnitContext:
    """What a quarantine entry needs to say where a row came from."""

    run_id: str
    pipeline: str
    source: str
    unit: str
    file_id: int | None
    #: a CSV file's delimiter as read, where its first line (Excel's `sep=;`) set one
    #: other than its source's; None: the source's. Kept in the ledger entry, so that
    #: a replay reads the file's numbers as the run did (see ``decimal_mark``).
    delimiter: str | None = None


@dataclass
class UnitProcessor:
    ctx: UnitContext
    plan: MappingPlan
    steps: StepRunner
    validator: Validator
    write_quarantine: QuarantineWriter
    #: told after each batch: (its rows, its in-memory size in bytes: about what it took
    #: of its file, for a progress display)
    on_rows: Callable[[int, int], None] = lambda n, size: None
    #: told as a load of several units comes to this one, after the first: the rows its
    #: stream's units before it in the load read (a display counts on from there)
    on_begin: Callable[[int], None] = lambda before: None
    pii: PiiPlan | None = None
    #: splits records over the tables of a normalized layout (None: one table)
    splitter: Splitter | None = None
    #: replayed rows come from quarantine, where the policies were applied already
    apply_pii: bool = True
    #: fields whose policies were applied before (a pull kept in the dead letter)
    concealed: frozenset[str] = frozenset()
    #: an HTTP destination answers after the rows left: the frames keep their lines and
    #: the rows' raw fields are kept until it did (see :mod:`sluice.engine.refusals`)
    keep_raw: bool = False
    _raw: RawSpool = field(default_factory=RawSpool, repr=False)
    #: batches validated whose bad rows wait for their reasons, and how many rows
    #: they hold
    _pending: list[_Pending] = field(default_factory=list, repr=False)
    _pending_rows: int = 0
    #: what becomes of a CSV file's footer rows (``csv.footer``): quarantined with the
    #: reason the batch gives, filtered by the ``footer`` rule, or loaded
    footer: Literal["quarantine", "filter", "load"] = "quarantine"
    #: why a required column the unit lacks (``plan.unfilled``, under ``evolve``) is empty
    lacking: str = "the file has no such column"
    counts: Counts = field(default_factory=Counts)
    seconds: dict[str, float] = field(default_factory=lambda: {"extract": 0.0, "transform": 0.0})

    def entry(self, line: int | None, reasons: list[str], payload: dict[str, Any]) -> NewEntry:
        c = self.ctx
        return NewEntry(
            c.run_id, c.pipeline, c.source, EntryKind.ROW, c.unit, line, reasons, payload, c.file_id
        )

    def frames(self, batches: Iterable[Batch | Stepped]) -> Iterator[pl.DataFrame]:
        """Loadable frames (table columns only); quarantine and counts as a side effect."""
        for good, _ in self._each(batches):
            yield good if self.keep_raw else good.drop(LINE)

    def tables(self, batches: Iterable[Batch | Stepped]) -> Iterator[dict[str, pl.DataFrame]]:
        """Rows per table of a normalized layout (a record goes to all of them or none)."""
        for _, tables in self._each(batches):
            yield tables

    def stepped(self, batches: Iterable[Batch]) -> Iterator[Stepped]:
        """Each batch through PII rules, mapping and the steps, for :meth:`frames` or
        :meth:`tables` to validate, count and quarantine.

        Run where the batches are read (the reader's thread), this moves the steps off
        the thread that validates: on the 1M-row bench load that thread was busy 96 % of
        the stream, the reader's about a quarter."""
        for batch in batches:
            yield self._step(batch)

    def _each(
        self, batches: Iterable[Batch | Stepped]
    ) -> Iterator[tuple[pl.DataFrame, dict[str, pl.DataFrame]]]:
        it = iter(batches)
        while True:
            t0 = time.perf_counter()
            item = next(it, None)
            t1 = time.perf_counter()
            self.seconds["extract"] += t1 - t0
            if item is None:
                self.explain_pending()  # before the load commits: counted, and kept
                return
            done = item if isinstance(item, Stepped) else self._step(item)
            good, tables = self._validate(done)
            self.seconds["transform"] += time.perf_counter() - t1
            self.on_rows(done.batch.rows_read, int(done.batch.data.estimated_size()))
            yield good, tables

    def _step(self, batch: Batch) -> Stepped:
        before = dict(self.steps.filtered)
        # As the file has it (PII rules replace values): a row repeating its header.
        read = [c for c in batch.data.columns if c != LINE]
        raw = self.steps.drop_header_rows(batch.data, read, batch.header)
        if batch.footer and self.footer == "filter":
            raw = self.steps.drop_footer_rows(raw, batch.footer)
        if self.pii is not None and not self.apply_pii:
            raw = self.pii.restore(raw)
        elif self.pii is not None:
            raw = self.pii.apply(raw, skip=self.concealed)
            if self.concealed:
                raw = self.pii.restore(raw, only=self.concealed)
        fields = [c for c in raw.columns if c != LINE]
        data = self.steps.drop_blank(raw, fields)
        data = apply_mapping(data, self.plan, self.validator.columns)
        # Collected here, on the thread that steps: the next query would run it otherwise.
        stepped = self.steps.run_lazy(data, self._trimmed(batch)).collect(engine=ENGINE)
        if batch.footer and self.footer == "quarantine":
            why = pl.col(LINE).replace_strict(batch.footer, default=None, return_dtype=pl.String)
            stepped = add_reasons(stepped, [why])
        now = self.steps.filtered
        filtered = {r: n - before.get(r, 0) for r, n in now.items() if n != before.get(r, 0)}
        return Stepped(batch, raw, stepped, filtered)

    def _validate(self, done: Stepped) -> tuple[pl.DataFrame, dict[str, pl.DataFrame]]:
        """(good records with ``_line``, their rows per table when split)."""
        batch, raw = done.batch, done.raw
        hides = self.pii is not None and self.pii.hides
        self.counts.read += batch.rows_read
        # A note under the data the parser could not split, filtered as the source says
        notes = (
            [r for r in batch.rejects if r.line in batch.footer] if self.footer == "filter" else []
        )
        entries = [
            self.entry(r.line, [r.reason], {"_raw": WITHHELD if hides else r.text})
            for r in batch.rejects
            if r not in notes
        ]
        if notes:
            self.counts.filtered += len(notes)
            self.counts.filtered_by[FOOTER] = self.counts.filtered_by.get(FOOTER, 0) + len(notes)
        good, refused = self.validator.check(done.data, batch.nul_free, batch.backslash_free)
        tables: dict[str, pl.DataFrame] = {}
        split: pl.DataFrame | None = None
        if self.splitter is not None:
            tables, split = self.splitter.split(good)
            if split.height:
                good = good.filter(~pl.col(LINE).is_in(split.get_column(LINE).implode()))
        for rule, delta in done.filtered.items():
            self.counts.filtered += delta
            self.counts.filtered_by[rule] = self.counts.filtered_by.get(rule, 0) + delta
        bad = refused.height or (split is not None and split.height)
        if entries or bad:
            lines = refused.lines() if split is None else pl.concat([refused.lines(), split[LINE]])
            raw_bad = raw.join(lines.to_frame(LINE), on=LINE, how="semi")
            self._pending_rows += len(lines) + len(entries)
            if self._pending_rows < EXPLAIN_ROWS:  # kept waiting: out of the batch's buffers
                raw_bad = _compact(raw_bad)
                if refused.rows is not None:
                    refused.rows = _compact(refused.rows)
            self._pending.append(_Pending(entries, refused, split, raw_bad))
            if self._pending_rows >= EXPLAIN_ROWS:
                self.explain_pending()
        self.counts.loaded += good.height  # provisional: the destination confirms on commit
        if self.keep_raw:
            self._raw.add(raw.join(good.select(LINE), on=LINE, how="semi"))
        return good, tables

    def explain_pending(self) -> None:
        """Quarantine the bad rows of the batches validated since the last call, with
        their reasons (written for all of them at once: see
        :class:`~sluice.transforms.validate.Refused`); each batch's after the lines its
        parser could not read, in the order a batch at a time wrote them."""
        if not self._pending:
            return
        pending, self._pending, self._pending_rows = self._pending, [], 0
        bad = self.validator.explain([p.refused for p in pending])
        if self.plan.unfilled and bad.height:
            bad = self._say_why_empty(bad)
        split = [p.split.select(LINE, "_reasons") for p in pending if p.split is not None]
        if split:
            bad = pl.concat([bad, *split], how="vertical_relaxed")
        entries: list[NewEntry] = []
        for n, p in enumerate(pending, start=1):
            entries += p.unread
            # each batch's own fields (their types may differ from batch to batch)
            rows = json_ready(p.raw.join(bad, on=LINE, how="inner").sort(LINE), _NOT_RAW)
            for rec in rows.iter_rows(named=True):
                line = rec.pop(LINE)
                reasons = rec.pop("_reasons")
                if self.pii is not None:
                    reasons = self.pii.redact(rec, reasons)
                entries.append(self.entry(line, reasons, rec))
            # Written a few hundred at a time: 4,096 entries as Python objects at once
            # raised the bench's peak memory by 15 MB.
            if entries and (len(entries) >= WRITE_ENTRIES or n == len(pending)):
                self.write_quarantine(entries)
                self.counts.quarantined += len(entries)
                entries = []

    def _trimmed(self, batch: Batch) -> frozenset[str]:
        """The table columns whose values ``trim`` would not change (the reader said
        which of its columns hold none), but for fields a PII policy replaced: the
        reader saw their values before. (Every unit has a plan, most with no policy:
        asking for no plan at all here skipped nothing on any load; the 1M-row bench
        load spent 7.7-8.7 user CPU-s so, 6.4-8.4 with the skip, in 4 alternated pairs.)"""
        if not batch.trimmed:
            return frozenset()
        rename = self.plan.rename
        replaced = self.pii.fields.keys() if self.pii is not None else frozenset()
        mapped = {rename[h] for h in batch.trimmed if h in rename and h not in replaced}
        return frozenset(mapped | set(self.plan.absent) | set(self.plan.unfilled))

    def refused(self, items: list[tuple[int | None, dict[str, Any], str]]) -> list[NewEntry]:
        """Entries for rows the destination refused, ``(line, record sent, its answer)``:
        each with the raw fields it was read with, as a row failing validation is."""
        raws = self._raw.take([line for line, _, _ in items if line is not None])
        entries = []
        for line, sent, why in items:
            payload = raws.get(line) if line is not None else None
            if payload is None:  # not kept (a destination that gives no line): as sent
                payload = {k: v for k, v in sent.items() if k != LINE}
            reasons = [why]
            if self.pii is not None:
                reasons = self.pii.redact(payload, reasons)
            entries.append(self.entry(line, reasons, payload))
        return entries

    def drop_raw(self) -> None:
        self._raw.close()

    def _say_why_empty(self, bad: pl.DataFrame) -> pl.DataFrame:
        """For a required column the unit lacks altogether (drift loaded under ``evolve``),
        "id: required but empty" becomes "id: required but the file has no such column"."""
        columns = self.validator.table.columns
        why = {
            f"{c}: required but empty": f"{c}: required but {self.lacking}"
            for c in self.plan.unfilled
            if c in columns and columns[c].required
        }
        if not why:
            return bad
        return bad.with_columns(pl.col("_reasons").list.eval(pl.element().replace(why)))


def _compact(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` holding only its own text. A few rows filtered from a batch are views
    into the batch's whole buffers (40 batches' bad rows, kept waiting, held 120 MB).
    Its text columns are copied into one new buffer, one slice each: a buffer per
    column held 10 MB more for the bench's bad rows (Polars starts a buffer at 8 KiB)."""
    height = frame.height
    for kind in (pl.String, pl.Binary):
        names = [c for c, t in frame.schema.items() if t == kind]
        if not names:
            continue
        values = pl.Series([v for c in names for v in frame.get_column(c).to_list()], dtype=kind)
        frame = frame.with_columns(
            values.slice(i * height, height).alias(c) for i, c in enumerate(names)
        )
    return frame
