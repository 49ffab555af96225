"""Opening a unit for its load: map its header, apply its drift policy, make its processor.

A unit whose header does not map is drift, settled by its source's policy: under
``evolve`` new headers become columns (and missing ones load as null), under
``quarantine`` the unit is set aside (the dead letter), under ``fail`` the run stops.
A unit that cannot be read is set aside too; one whose source cannot be reached at
all (:class:`~sluice.errors.FetchError`) fails the run, nothing set aside.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sluice.batch import Batch
from sluice.config import FileSourceConfig, HttpSourceConfig
from sluice.destinations import Destination
from sluice.engine import drift
from sluice.engine.context import RunContext
from sluice.engine.deadletter import DeadLetter
from sluice.engine.misread import misread_hint
from sluice.engine.plan import file_gone
from sluice.engine.process import UnitContext, UnitProcessor
from sluice.engine.tables import RunTables
from sluice.errors import DriftError, FetchError, FileGone, LimitExceeded, SourceError, Where
from sluice.schema import Narrow
from sluice.sources import Unit
from sluice.sources.base import Reader
from sluice.sources.file import format_of
from sluice.state.quarantine import NewEntry
from sluice.state.store import StateStore
from sluice.status import FileStatus, QuarantineStatus
from sluice.transforms import MappingPlan, StepRunner, Validator, plan_mapping
from sluice.transforms.cast import DecimalMark
from sluice.transforms.pii import PiiPlan
from sluice.transforms.validate import DUMPED_NULL


@dataclass
class Opened:
    """A unit ready to load: where it is in the ledger, its processor, its batches."""

    stream: str
    unit: Unit
    file_id: int
    proc: UnitProcessor
    batches: Iterator[Batch]


class UnitOpener:
    def __init__(
        self,
        ctx: RunContext,
        dest: Callable[[], Destination],
        tables: RunTables,
        deadletter: DeadLetter,
    ) -> None:
        self.ctx, self._dest, self.tables, self.deadletter = ctx, dest, tables, deadletter
        self._kept: dict[str, Narrow] | None = None

    def open(self, stream: str, unit: Unit, file_id: int) -> Opened | None:
        """Open a unit and map its header; None when it was set aside instead.

        Raises :class:`~sluice.errors.DriftError` when its header drifted under the
        policy ``fail`` (the run stops)."""
        ctx = self.ctx
        stop: DriftError | None = None
        try:
            reader = unit.open()
            if not reader.columns and reader.may_be_empty:
                # An API with nothing (new) to give: an empty, successful pull.
                plan = MappingPlan({}, [], [], absent=list(ctx.pipe.table.columns))
            else:
                if not reader.columns:
                    raise SourceError(
                        "the file is empty: no header row",
                        where=Where(file=unit.name),
                        hint="no configuration can load it: put a complete export in its "
                        f"place (`sluice run {ctx.name}` loads it as a new file), then close "
                        "this entry with `sluice quarantine discard ID` (`sluice quarantine "
                        "list` shows its ID)",
                    )
                source, synonyms = ctx.pipe.sources[stream], ctx.project.synonyms
                plan = plan_mapping(reader.columns, ctx.pipe, source, synonyms)
                if plan.drifted:
                    settled = self._drift(stream, unit, plan, reader)
                    if isinstance(settled, DriftError):
                        stop = settled  # policy fail: raised below, not set aside
                    else:
                        plan = settled
        except FetchError:
            raise  # the source could not be read at all: the run fails, nothing is set aside
        except FileGone:
            # No bytes to keep or replay: the run's error for this file alone, and its
            # entry failed, so a run that finds the same bytes again loads them.
            ctx.store.update_file(file_id, status=FileStatus.FAILED)
            file_gone(ctx, stream, unit.name)
            return None
        except SourceError as exc:
            self.deadletter.set_aside(stream, unit, file_id, exc)
            return None
        if stop is not None:
            raise stop
        # A CSV file's delimiter as read: Excel's `sep=;` line may set it.
        delimiter = getattr(reader, "delimiter", None)
        if delimiter == getattr(getattr(ctx.pipe.sources[stream], "csv", None), "delimiter", None):
            delimiter = None  # the source's: nothing to keep
        unit_ctx = UnitContext(ctx.run_id, ctx.name, stream, unit.name, file_id, delimiter)
        proc = self.processor(unit_ctx, plan, unit.size)
        return Opened(stream, unit, file_id, proc, reader.batches())

    def _narrow(self) -> dict[str, Narrow]:
        """The declared columns whose table column keeps less than their type does (a
        table its owner made), as the warehouse shows them when the run opens its first
        unit. A `replace` loads a table it makes as declared."""
        if self._kept is None:
            ctx, warehouse = self.ctx, self._dest().warehouse()
            table = ctx.pipe.table
            declared = {n: str(c.type) for n, c in table.columns.items()}
            if warehouse is None or ctx.mode == "replace":
                self._kept = {}
            else:
                self._kept = warehouse.narrow_columns(table.name, declared, ctx.run_id)
        return self._kept

    def processor(
        self,
        unit: UnitContext,
        plan: MappingPlan,
        size_of_unit: int = 0,
    ) -> UnitProcessor:
        """A fresh processor per unit: dedupe and unique hold within one file, so a
        unit that is retried or replayed starts from a clean slate. ``size_of_unit``:
        its bytes (0: not known), for a display that shows them."""
        ctx, extra = self.ctx, self.tables.extra
        source = ctx.pipe.sources[unit.source]
        mark = decimal_mark(source, unit.unit, unit.delimiter)
        steps = StepRunner(ctx.pipe, list(ctx.pipe.table.columns) + extra, mark=mark)
        validator = Validator(
            ctx.pipe.table,
            list(extra),
            unique_keys=ctx.mode == "merge",
            computed=steps.computed,
            decimal_digits=self._dest().capabilities.decimal_digits,
            mark=mark,
            narrow=self._narrow(),
            unread=unread_marker(source, unit.unit),
        )
        base = [ctx.report.stream(unit.source).counts.read]
        seen, last, read = [0], [0.0], [0]
        # A display that shows bytes too (see :class:`~sluice.engine.context.Progress`)
        sized = getattr(ctx.progress, "bytes_read", None)
        ctx.progress(unit.source, "extract", base[0])  # until its first rows arrive

        def on_begin(before: int) -> None:
            # A later unit of a load of several: the stream's rows count on from the
            # units before it (counted in the report only when the load commits), and a
            # display takes the unit before it as done.
            base[0] = ctx.report.stream(unit.source).counts.read + before
            ctx.progress(unit.source, "extract", base[0])

        def on_rows(n: int, size: int) -> None:
            seen[0] += n
            ctx.progress(unit.source, "load", base[0] + seen[0])
            if sized is not None:
                read[0] += size
                sized(unit.source, unit.unit, read[0], size_of_unit)
            now = time.perf_counter()
            # `sluice show` of a live run: at most once a second. A part of a Celery run
            # leaves the run's stages to its task, which sums the parts that ended; its
            # progress (the executor's) writes how far it got on the part's own row.
            if ctx.part is None and now - last[0] >= 1.0:
                last[0] = now
                ctx.store.progress(ctx.run_id, unit.source, "extract", base[0] + seen[0], 0.0)

        pii = PiiPlan.build(ctx.pipe, plan.rename, ctx.project.pii_salt)

        def pending(entries: list[NewEntry]) -> None:
            # Pending until the unit's load commits (then open), dropped if it does not.
            ctx.store.quarantine(entries, status=QuarantineStatus.PENDING)

        return UnitProcessor(
            unit,
            plan,
            steps,
            validator,
            pending,
            on_rows,
            on_begin,
            pii=pii,
            concealed=self.deadletter.concealed.get(unit.file_id, frozenset()),
            # A destination that refuses rows after they left (an API): the processor
            # keeps their raw fields (see :mod:`sluice.engine.refusals`).
            keep_raw=self._dest().capabilities.keeps_raw,
            splitter=self.tables.splitter,
            footer=source.csv.footer if isinstance(source, FileSourceConfig) else "load",
            lacking=f"{of(ctx, unit.source)} has no such {field_of(ctx, unit.source)}",
        )

    def _drift(
        self, stream: str, unit: Unit, plan: MappingPlan, reader: Reader
    ) -> MappingPlan | DriftError:
        """A drifted header under its source's policy: the evolved plan (``evolve``), a
        DriftError raised to set the unit aside (``quarantine``), or one returned to stop
        the run (``fail``)."""
        ctx = self.ctx
        source = ctx.pipe.sources[stream]
        policy = source.drift
        where = Where(file=unit.name, key=f"pipelines.{ctx.name}.sources.{stream}")
        hint = drift.hint(stream, plan.missing, plan.unexpected, then(ctx, stream))
        # A header read with the wrong delimiter or encoding: no column came out as it is,
        # so even `evolve` sets the file aside, with what to set instead.
        misread = (
            misread_hint(ctx, stream, source, reader, plan, then(ctx, stream))
            if isinstance(source, FileSourceConfig)
            else None
        )
        if misread:
            hint = misread
        if policy == "evolve" and not misread:
            return self.evolve_plan(stream, unit.name, plan)
        err = DriftError(
            f"columns drifted: {plan.describe()}",
            missing=plan.missing,
            unexpected=plan.unexpected,
            where=where,
            hint=hint,
        )
        if policy == "fail":
            return err
        raise err  # quarantine: the caller sets the file aside

    def evolve_plan(self, stream: str, unit: str, plan: MappingPlan) -> MappingPlan:
        """A drifted plan under ``evolve``: new headers become columns, missing columns
        load as null. Neither is silent: the log says so here, the report on commit."""
        ctx = self.ctx
        evolved = plan.evolve(set(ctx.pipe.table.columns) | set(self.tables.extra))
        try:
            self.tables.evolve(list(evolved.evolved.values()))
        except LimitExceeded as exc:  # permanent: which drift, and what to do instead
            exc.where = Where(file=unit, key=f"pipelines.{ctx.name}.sources.{stream}.drift")
            exc.hint = (
                f"running again as is will not help: drift: evolve adds {len(evolved.evolved)} "
                f"column(s) for this file. List the headers not needed in sources.{stream}."
                f"ignore (globs work), or set drift: quarantine on source {stream!r} to set "
                f"such files aside; then `sluice run {ctx.name}`"
            )
            raise
        if evolved.unfilled:
            ctx.log(
                "warning",
                f"{unit}: no {field_of(ctx, stream)} for {', '.join(evolved.unfilled)}: "
                "loaded as null (drift: evolve)",
                stream=stream,
                file=unit,
                missing=evolved.unfilled,
            )
        return evolved


def of(ctx: RunContext, stream: str) -> str:
    """What a unit of ``stream`` is, in a sentence: "the file", "the API"."""
    return "the API" if isinstance(ctx.pipe.sources[stream], HttpSourceConfig) else "the file"


def field_of(ctx: RunContext, stream: str) -> str:
    """What a unit of ``stream`` holds: "field"s (an API) or "column"s (a file)."""
    return "field" if isinstance(ctx.pipe.sources[stream], HttpSourceConfig) else "column"


def then(ctx: RunContext, stream: str) -> str:
    """The command that loads a drifted unit of ``stream`` once its config is fixed."""
    return drift.then(ctx.pipe.sources[stream].drift, ctx.name)


def file_delimiter(store: StateStore, file_id: int | None) -> str | None:
    """The delimiter a CSV file's first line set (``sep=;``), as its load kept it in the
    ledger (see :func:`~sluice.engine.tally.staged`); None: its source's."""
    rec = store.file(file_id) if file_id is not None else None
    found = (rec.counts or {}).get("delimiter") if rec is not None else None
    return found if isinstance(found, str) else None


def unread_marker(cfg: object, unit: str) -> str | None:
    """The missing-value marker a unit's text may hold that its source does not read as
    null: a CSV source's ``\\N`` (MySQL's ``INTO OUTFILE``, PostgreSQL's text ``COPY``)
    while ``csv.null_values`` is left at its default. Stated (``['']``), it is text."""
    if not isinstance(cfg, FileSourceConfig) or format_of(cfg, unit) != "csv":
        return None
    return None if "null_values" in cfg.csv.model_fields_set else DUMPED_NULL


def decimal_mark(cfg: object, unit: str, delimiter: str | None = None) -> DecimalMark:
    """How a unit's text writes the decimal mark: its CSV source's ``csv.decimal``; when
    unset, a point, unsure in a file delimited by ``;`` (the delimiter of spreadsheets
    whose decimal mark is the comma). Other formats write numbers with a point.
    ``delimiter``: the file's as read, else the source's."""
    if not isinstance(cfg, FileSourceConfig) or format_of(cfg, unit) != "csv":
        return "."
    if cfg.csv.decimal is not None:
        return cfg.csv.decimal
    return "unstated" if (delimiter or cfg.csv.delimiter) == ";" else "."
