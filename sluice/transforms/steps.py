"""Declarative steps (trim, case, cast, amount, utc, derive, filter, dedupe) compiled to Polars.

Steps run in the order written on every batch of a stream. ``filter`` and ``dedupe``
remove rows by a stated rule and count them per rule (the run report's ``filtered``);
``cast``, ``amount`` and ``utc`` add a reason to the row's ``_reasons`` instead of
nulling a bad value.
The runner keeps the keys ``dedupe`` has seen, so duplicates are caught across batches.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal, TypeVar

import polars as pl
import polars.selectors as cs

from sluice.batch import LINE
from sluice.config import (
    AmountStep,
    CaseStep,
    CastStep,
    DedupeStep,
    DeriveStep,
    FilterStep,
    PipelineConfig,
    TrimStep,
    UtcStep,
)
from sluice.errors import TransformError, Where
from sluice.transforms.cast import DecimalMark, cast
from sluice.transforms.convert import amount, utc
from sluice.transforms.seen import SeenKeys

REASONS = "_reasons"
#: The engine of every per-batch query. Polars' default ("auto") ran them on its
#: streaming engine, whose set-up per query cost more than it saved on batches of a
#: few MiB: trim of a 23k-row batch 21.5 ms against 12.0, validation's pass 71 ms
#: against 53 (medians, quiet 2-core machine).
ENGINE: Literal["in-memory"] = "in-memory"
#: (steps, columns) that passed :meth:`StepRunner._check` in this process, oldest first.
#: A run opens a runner per file (a Celery worker, per part) with the same steps and
#: mostly the same columns; the check runs each step through Polars on an empty frame,
#: about 20 ms, which was most of the CPU a small file's steps cost.
_CHECKED: dict[tuple[tuple[str, ...], tuple[str, ...]], None] = {}
_CHECKED_KEPT = 256
_CHECKED_LOCK = threading.Lock()
BLANK_ROW = "blank_row"
#: the rule that filters a row repeating the file's header (CSV files joined with
#: their header rows, as `cat` joins exports)
HEADER_ROW = "header_row"
#: the rule that filters a CSV file's footer rows (its totals row, its notes), where its
#: source says so (``csv.footer: filter``; see sluice.sources.csv_footer)
FOOTER = "footer"


def add_reasons(data: pl.DataFrame, reasons: list[pl.Expr]) -> pl.DataFrame:
    """Append non-null reason expressions to each row's ``_reasons`` list."""
    if not reasons:
        return data
    new = pl.concat_list([r.cast(pl.String) for r in reasons]).list.drop_nulls()
    if REASONS in data.columns:
        new = pl.col(REASONS).list.concat(new)
    return data.with_columns(new.alias(REASONS))


Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)


def with_reasons(data: Frame) -> Frame:
    """``data`` with an (empty) ``_reasons`` list per row, if it has none yet."""
    if REASONS in data.collect_schema():
        return data
    return data.with_columns(pl.lit([], pl.List(pl.String)).alias(REASONS))


class _Lazy:
    """A column-wise step: chained into the batch's lazy query instead of run eagerly."""

    def __init__(self, apply: Callable[[pl.LazyFrame], pl.LazyFrame]) -> None:
        self.apply = apply

    def __call__(self, data: pl.DataFrame) -> pl.DataFrame:
        return self.apply(data.lazy()).collect(engine=ENGINE)


class _Trim(_Lazy):
    """``trim``: spaces at both ends of text go; a field of only spaces is empty, and
    empty is null (it fails ``required``)."""

    def __init__(self, columns: list[str] | Literal["all"]) -> None:
        self.columns = columns
        super().__init__(self.skipping(frozenset()))

    def skipping(self, trimmed: frozenset[str]) -> Callable[[pl.LazyFrame], pl.LazyFrame]:
        """The step, leaving alone ``trimmed`` columns (the reader found no value there
        that it would change)."""
        sel: pl.Expr
        if self.columns == "all":
            sel = cs.string() - cs.by_name(*trimmed, require_all=False) if trimmed else cs.string()
        else:
            names = [c for c in self.columns if c not in trimmed]
            if not names:
                return lambda d: d
            sel = pl.col(names)
        done = sel.str.strip_chars().replace("", None)
        return lambda d: d.with_columns(done)


class _Dropping(_Lazy):
    """A step that drops rows by a rule (filter, dedupe) and counts them.

    It materializes the rows once, to decide and count, and hands on a lazy filter by
    the mask, so the rows it keeps are copied by the next query (the next steps', or
    validation's) instead of once more here.
    """


_KEEP = "__keep"


def _kept(data: pl.DataFrame) -> pl.LazyFrame:
    """The rows of ``data`` whose ``__keep`` is true, lazily, without that column."""
    return data.lazy().filter(pl.col(_KEEP)).drop(_KEEP)


Compiled = Callable[[pl.DataFrame], pl.DataFrame]


def _count(filtered: dict[str, int], rule: str, n: int) -> None:
    if n:
        filtered[rule] = filtered.get(rule, 0) + n


@dataclass
class StepRunner:
    pipeline: PipelineConfig
    columns: list[str]
    #: how the unit's text writes a number's decimal mark (its CSV's ``csv.decimal``),
    #: for the ``cast`` and ``amount`` steps as for the table's columns
    mark: DecimalMark = "."
    filtered: dict[str, int] = field(default_factory=dict)
    _steps: list[tuple[str, Compiled]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for i, step in enumerate(self.pipeline.transforms):
            self._steps.append(self._compile(i, step))
        self._check()

    @property
    def computed(self) -> frozenset[str]:
        """Columns whose text a step computes from an expression (``derive``)."""
        return frozenset(
            s.derive.column for s in self.pipeline.transforms if isinstance(s, DeriveStep)
        )

    def _key(self, i: int, kind: str) -> str:
        return f"transforms.{i}.{kind}"

    def _compile(self, i: int, step: object) -> tuple[str, Compiled]:
        # The compiled steps hold the counts they add to, never the runner: a runner
        # they held would be cyclic garbage once its unit is done, and with it the keys
        # `dedupe` has seen, until the collector's next full pass (a run of many small
        # files held every finished unit's, RSS up about 1 MB per unit).
        filtered, mark = self.filtered, self.mark
        if isinstance(step, TrimStep):
            return "trim", _Trim(step.trim)
        if isinstance(step, CaseStep):
            fn = {"upper": "to_uppercase", "lower": "to_lowercase", "title": "to_titlecase"}
            method = fn[step.case.to]
            cased = getattr(pl.col(step.case.columns).str, method)()
            return "case", _Lazy(lambda d: d.with_columns(cased))
        if isinstance(step, CastStep):
            a = step.cast

            def run_cast(d: pl.DataFrame) -> pl.DataFrame:
                value, reason = cast(a.column, d.schema[a.column], a.to, a, mark=mark)
                d = add_reasons(d, [reason])
                return d.with_columns(value.alias(a.column))

            return "cast", run_cast
        if isinstance(step, AmountStep):
            names = step.amount.columns

            def run_amount(d: pl.DataFrame) -> pl.DataFrame:
                pairs = [amount(name, mark) for name in names]
                d = add_reasons(d, [reason for _, reason in pairs])
                return d.with_columns(v.alias(n) for n, (v, _) in zip(names, pairs, strict=True))

            return "amount", run_amount
        if isinstance(step, UtcStep):
            u = step.utc

            def run_utc(d: pl.DataFrame) -> pl.DataFrame:
                value, reason = utc(u.column, u.offset_from, d.schema[u.column], u)
                d = add_reasons(d, [reason])
                return d.with_columns(value.alias(u.column))

            return "utc", run_utc
        if isinstance(step, DeriveStep):
            try:
                expr = pl.sql_expr(step.derive.sql).alias(step.derive.column)
            except Exception as exc:
                raise TransformError(
                    f"cannot compile SQL expression {step.derive.sql!r}: {exc}",
                    where=Where(key=self._key(i, "derive.sql")),
                    hint="write a SQL expression over the table's columns, e.g. upper(city)",
                ) from None
            return "derive", _Lazy(lambda d: d.with_columns(expr))
        if isinstance(step, FilterStep):
            try:
                keep = pl.sql_expr(step.filter.keep).fill_null(False)
            except Exception as exc:
                raise TransformError(
                    f"cannot compile SQL condition {step.filter.keep!r}: {exc}",
                    where=Where(key=self._key(i, "filter.keep")),
                    hint="write a SQL condition, e.g. state IN ('CA', 'NY')",
                ) from None
            rule = step.filter.name or f"filter: {step.filter.keep}"

            def run_filter(lazy: pl.LazyFrame) -> pl.LazyFrame:
                d = lazy.with_columns(keep.alias(_KEEP)).collect(engine=ENGINE)
                _count(filtered, rule, d.height - int(d.get_column(_KEEP).sum()))
                return _kept(d)

            return "filter", _Dropping(run_filter)
        if isinstance(step, DedupeStep):
            seen = SeenKeys()
            keys = step.dedupe.keys
            rule = "dedupe: " + ", ".join(keys)

            def run_dedupe(lazy: pl.LazyFrame) -> pl.LazyFrame:
                d = lazy.collect(engine=ENGINE)
                fresh = seen.first_time(d, keys)
                _count(filtered, rule, d.height - int(fresh.sum()))
                return _kept(d.with_columns(fresh.alias(_KEEP)))

            return "dedupe", _Dropping(run_dedupe)
        raise TransformError(f"unknown step {step!r}")  # pragma: no cover

    def _count(self, rule: str, n: int) -> None:
        _count(self.filtered, rule, n)

    def _check(self) -> None:
        """Run every step on an empty frame: unknown columns fail now, not mid-load.

        Once per process for the same steps and columns (:data:`_CHECKED`): the outcome
        depends on nothing else. A failed check is not kept, so it fails every time."""
        key = (
            tuple(step.model_dump_json() for step in self.pipeline.transforms),
            tuple(self.columns),
        )
        if key in _CHECKED:
            return
        self._check_on_empty()
        with _CHECKED_LOCK:  # runs in threads (the service's inline executor)
            _CHECKED[key] = None
            while len(_CHECKED) > _CHECKED_KEPT:
                del _CHECKED[next(iter(_CHECKED))]

    def _check_on_empty(self) -> None:
        empty = pl.DataFrame(schema={**dict.fromkeys(self.columns, pl.String), LINE: pl.Int64})
        empty = with_reasons(empty)
        saved = dict(self.filtered)
        for i, (kind, fn) in enumerate(self._steps):
            try:
                empty = fn(empty)
            except pl.exceptions.PolarsError as exc:
                raise TransformError(
                    f"step {kind} cannot run: {str(exc).splitlines()[0]}",
                    where=Where(key=self._key(i, kind)),
                    hint="columns available: " + ", ".join(self.columns),
                ) from None
        self.filtered.clear()  # in place: the compiled steps hold this very dict
        self.filtered.update(saved)

    def drop_blank(self, data: pl.DataFrame, fields: list[str]) -> pl.DataFrame:
        """Rows where every field is empty are filtered by the ``blank_row`` rule."""
        if not self.pipeline.skip_blank_rows or not fields:
            return data
        # A column without a null (counted as the column was made) has no blank row.
        if any(data.get_column(f).null_count() == 0 for f in fields):
            return data
        blank = data.select(pl.all_horizontal(pl.col(fields).is_null())).to_series()
        if not blank.any():  # the usual case: no copy of the batch
            return data
        kept = data.filter(~blank)
        self._count(BLANK_ROW, data.height - kept.height)
        return kept

    def drop_header_rows(
        self, data: pl.DataFrame, fields: list[str], header: tuple[str, ...] | None
    ) -> pl.DataFrame:
        """Rows that repeat the file's ``header`` record, field for field, are filtered
        by the ``header_row`` rule: a file joined to another with its header row (a
        second file's byte order mark may lead it)."""
        if not header or len(header) != len(fields):
            return data
        first = pl.col(fields[0])
        # One column first: most batches hold no such row, and stop here.
        maybe = data.select(first.is_in([header[0], "\ufeff" + header[0]])).to_series()
        if not maybe.any():
            return data
        same = [first.is_in([header[0], "\ufeff" + header[0]])]
        same += [pl.col(f) == h for f, h in zip(fields[1:], header[1:], strict=True)]
        again = data.select(pl.all_horizontal(same).fill_null(False)).to_series()
        if not again.any():
            return data
        kept = data.filter(~again)
        self._count(HEADER_ROW, data.height - kept.height)
        return kept

    def drop_footer_rows(self, data: pl.DataFrame, lines: Iterable[int]) -> pl.DataFrame:
        """``data`` without the rows at ``lines`` (a file's footer rows), filtered by
        the ``footer`` rule."""
        kept = data.filter(~pl.col(LINE).is_in(list(lines)))
        self._count(FOOTER, data.height - kept.height)
        return kept

    def run(self, data: pl.DataFrame) -> pl.DataFrame:
        """Every step on ``data``; runs of column-wise steps are one lazy query."""
        return self.run_lazy(data).collect(engine=ENGINE)

    def run_lazy(self, data: pl.DataFrame, trimmed: frozenset[str] = frozenset()) -> pl.LazyFrame:
        """Every step on ``data``, the last filter by a rule left lazy for the next query.

        What is left lazy is only the selection of rows already decided, which cannot
        fail: a step that can is collected here, where its error names the step.
        ``trimmed``: columns whose values a ``trim`` would not change, as the reader
        found them; ``trim`` steps before any other step leave them alone.
        """
        lazy = with_reasons(data).lazy()
        pending: list[str] = []  # the steps chained into `lazy`, not yet run
        try:
            for kind, fn in self._steps:
                pending.append(kind)
                if isinstance(fn, _Trim) and trimmed:
                    lazy = fn.skipping(trimmed)(lazy)
                    continue
                trimmed = frozenset()  # a step changed values: the reader's word is old
                if isinstance(fn, _Lazy):
                    lazy = fn.apply(lazy)
                    if isinstance(fn, _Dropping):  # it ran the steps before it
                        pending = []
                    continue
                lazy = fn(lazy.collect(engine=ENGINE)).lazy()
                pending = []
            return lazy.collect(engine=ENGINE).lazy() if pending else lazy
        except pl.exceptions.PolarsError as exc:
            raise TransformError(
                f"step {' / '.join(pending)} failed: {str(exc).splitlines()[0]}",
                hint="check the step's columns and expressions",
            ) from None
