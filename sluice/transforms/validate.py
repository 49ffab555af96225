"""Validation: cast to the declared types and check every rule, vectorised.

Each rule is a Polars expression that yields a readable reason or null; a row with any
reason is quarantined with all of them, the rest go on to the destination. ``unique``
(and the table's keys under ``merge``) hold across the batches of a stream.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import polars as pl

from sluice.batch import LINE
from sluice.config import ColumnConfig, TableConfig
from sluice.dtypes import POLARS_TYPES, repeated
from sluice.schema import Narrow
from sluice.transforms.cast import DecimalMark, cast
from sluice.transforms.cast import cast_reason as cast_reason_of
from sluice.transforms.narrow import beyond
from sluice.transforms.seen import SeenKeys
from sluice.transforms.steps import ENGINE, REASONS, add_reasons, with_reasons


def _bound(value: float | str, to: str) -> object:
    if to == "date" and isinstance(value, str):
        return date.fromisoformat(value)
    if to == "datetime" and isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


def _shown(col: pl.Expr) -> pl.Expr:
    return col.cast(pl.String)


_EMPTY = ": required but empty"
NUL_REASON = (
    "holds a NUL byte (\\x00), which no warehouse stores as text: "
    "remove it from the file (e.g. tr -d '\\000')"
)


#: how database dumps write a missing value in text: MySQL's ``INTO OUTFILE`` and
#: ``mysqldump --tab``, PostgreSQL's text ``COPY``
DUMPED_NULL = "\\N"
#: the reason of a text column's value that is :data:`DUMPED_NULL`
DUMPED_NULL_REASON = (
    "{name}: '\\N' is how MySQL's SELECT ... INTO OUTFILE and PostgreSQL's text COPY "
    "write a missing value: to read it as null, set the source's csv: {{null_values: "
    "['', '\\N']}}, then `sluice quarantine replay`; to load it as text, state csv: "
    "{{null_values: ['']}}, then replay"
)


def rule_checks(
    name: str, spec: ColumnConfig, value: pl.Expr, nul: bool = True
) -> list[tuple[pl.Expr, pl.Expr]]:
    """(failed, reason) per declared rule of a column; ``failed`` is never null.

    ``nul``: look for NUL bytes in text (False when the reader saw none)."""
    out: list[tuple[pl.Expr, pl.Expr]] = []

    def check(failed: pl.Expr, *parts: pl.Expr | str) -> None:
        text = pl.concat_str([p if isinstance(p, pl.Expr) else pl.lit(p) for p in parts])
        failed = failed.fill_null(False)
        out.append((failed, pl.when(failed).then(text).otherwise(None)))

    if spec.type == "string" and nul:
        # PostgreSQL refuses NUL in text and the others store it where no reader expects
        # one: the same row quarantines on every warehouse instead.
        check(value.str.contains("\x00", literal=True), f"{name}: {NUL_REASON}")
    if spec.required:
        check(value.is_null(), f"{name}{_EMPTY}")
    if spec.regex is not None:
        check(
            value.is_not_null() & ~_shown(value).str.contains(spec.regex),
            f"{name}: '",
            _shown(value),
            f"' does not match {spec.regex}",
        )
    if spec.min is not None:
        low = pl.lit(_bound(spec.min, spec.type))
        check(value < low, f"{name}: ", _shown(value), f" is below the minimum {spec.min}")
    if spec.max is not None:
        high = pl.lit(_bound(spec.max, spec.type))
        check(value > high, f"{name}: ", _shown(value), f" is above the maximum {spec.max}")
    if spec.accepted is not None:
        allowed = pl.Series([str(a) for a in spec.accepted])
        shown = ", ".join(str(a) for a in spec.accepted)
        check(
            value.is_not_null() & ~_shown(value).is_in(allowed.implode()),
            f"{name}: '",
            _shown(value),
            f"' is not one of: {shown}",
        )
    return out


_BAD = "_bad"
_UNREAD = "__bad_unread"


def _tidy(reasons: pl.Expr) -> pl.Expr:
    """Each reason once; no "x: required but empty" beside the reason x became empty.

    Two ``utc`` steps reading one bad zone both say so, and a value a step refused is
    null by validation time: the row's entry should say why once, not three times.
    """
    column = pl.element().str.extract(r"^([^:]*):", 1)
    echo = pl.element().str.ends_with(_EMPTY) & column.is_duplicated()
    return reasons.list.unique(maintain_order=True).list.eval(pl.element().filter(~echo))


def _nul(name: str) -> pl.Expr:
    """A column added by evolution (text) holds a NUL byte."""
    return pl.col(name).cast(pl.String).str.contains("\x00", literal=True).fill_null(False)


@dataclass(frozen=True, eq=False)  # told apart by identity: its fields hold expressions
class _Compiled:
    """What validation runs for frames of one schema."""

    #: casts every column, flags each failing row (``_bad``)
    query: Callable[[pl.LazyFrame], pl.LazyFrame]
    #: column -> the name its typed value has while the bad rows are explained
    typed_as: dict[str, str]
    #: the name its text has in the pass's output -> column (for the bad rows' reasons)
    raw_as: dict[str, str]
    #: (the flag column of its table column, one reason or null) per cast and rule,
    #: over the raw and the typed columns
    reasons: list[tuple[str, pl.Expr]]
    #: the flag columns the pass keeps (a row failed a rule of that table column)
    flags: list[str]


@dataclass
class Refused:
    """The rows of a batch that failed validation, their reasons not yet written.

    Writing reasons costs a fixed 5-10 ms a batch whatever its number of bad rows (a
    dozen small Polars expressions per failed column, most of them regexes): about 0.4
    of the 1.6-2.0 CPU-s that validation took on the bench's 1M-row file, with its
    0.5 % of bad rows in 53 batches. :meth:`Validator.explain` writes the reasons of
    many batches' rows at once.
    """

    #: the failed rows as the pass left them (typed values under their temporary
    #: names, text under the column's, the flags), or None
    rows: pl.DataFrame | None
    #: what the pass ran, whose reasons explain ``rows``
    checks: _Compiled | None
    #: rows already explained, as (``_line``, ``_reasons``): repeated unique keys
    explained: list[pl.DataFrame] = field(default_factory=list)

    @property
    def height(self) -> int:
        rows = self.rows.height if self.rows is not None else 0
        return rows + sum(e.height for e in self.explained)

    def lines(self) -> pl.Series:
        """The lines of its rows."""
        parts = [self.rows.get_column(LINE)] if self.rows is not None else []
        parts += [e.get_column(LINE) for e in self.explained]
        return pl.concat(parts) if parts else pl.Series(LINE, [], dtype=pl.Int64)


@dataclass
class Validator:
    table: TableConfig
    #: columns added by schema evolution: nullable text, no rules
    extra: list[str] = field(default_factory=list)
    #: under `merge`, the table's keys must be unique within a load
    unique_keys: bool = False
    #: columns whose text the steps compute (``derive``): a batch the reader found free
    #: of NUL bytes may still hold one there, so they are always checked
    computed: frozenset[str] = frozenset()
    #: significant digits the warehouse keeps of a decimal (None: all; SQLite: 15):
    #: a value with more is quarantined, not stored changed
    decimal_digits: int | None = None
    #: how the text writes a number's decimal mark (a CSV source's ``csv.decimal``)
    mark: DecimalMark = "."
    #: columns whose table column keeps less than their declared type (a table its
    #: owner made: ``NUMERIC(10,2)``, MySQL's ``DATETIME``, ``REAL``): a value it would
    #: round, cut or refuse is quarantined, not stored changed
    narrow: dict[str, Narrow] = field(default_factory=dict)
    #: a missing value's marker the source does not read as null (``\\N``, in a CSV
    #: source's default ``csv.null_values``): a text column holding it exactly is
    #: refused, not loaded as that text
    unread: str | None = None
    _seen: dict[str, SeenKeys] = field(default_factory=dict)
    _compiled: dict[tuple[Any, ...], _Compiled] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        return list(self.table.columns) + self.extra

    def _key_must_exist(self, name: str, spec: ColumnConfig) -> bool:
        """A merge matches rows by key: a row without one cannot be merged (and most
        warehouses refuse a null in a primary key, failing the whole load)."""
        return self.unique_keys and name in self.table.keys and not spec.required

    def _checks(self, schema: pl.Schema, nul_free: bool, unread_marker: bool) -> _Compiled:
        """The typed, flagged query for frames of ``schema``, built once per schema.

        Every batch of a file has the same schema, and building the expressions is
        Python work that cost about a quarter of validation when redone per batch.
        ``nul_free``: the reader found no NUL byte in the batch's text;
        ``unread_marker``: its text columns may hold the source's :attr:`unread` marker.
        """
        key = (*schema.items(), nul_free, unread_marker)
        cached = self._compiled.get(key)
        if cached is not None:
            return cached
        casts: list[pl.Expr] = []
        # One flag column per table column: Polars runs the columns of a
        # `with_columns` in parallel, but one long `a | b | c ...` on a single thread.
        flags: list[pl.Expr] = [(pl.col(REASONS).list.len() > 0).alias("__bad_reasons")]
        finals: list[pl.Expr] = []
        typed_as: dict[str, str] = {}
        raw_as: dict[str, str] = {}  # the text of cast columns, for the reasons of bad rows
        reasons: list[tuple[str, pl.Expr]] = []
        unread: list[pl.Expr] = []  # a text column holds the source's unread marker
        for i, (name, spec) in enumerate(self.table.columns.items()):
            flag = f"__bad_{i}"
            source = schema[name]
            fails: list[pl.Expr] = []
            cast_reason: pl.Expr | None = None
            narrow = self.narrow.get(name)  # what the table's column keeps, if less
            if spec.type == "string" and source == pl.String:
                typed = pl.col(name)
            else:
                tmp = typed_as[name] = f"__typed_{i}"
                raw_as[f"__raw_{i}"] = name
                typed_value, _ = cast(name, source, spec.type, spec, spec.separator, self.mark)
                casts.append(typed_value.alias(tmp))
                fails.append(pl.col(name).is_not_null() & pl.col(tmp).is_null())
                typed = pl.col(tmp)
                cast_reason = cast_reason_of(
                    name, source, spec.type, spec, typed, self.mark, narrow=narrow
                )
                reasons.append((flag, cast_reason))
            nul = not nul_free or name in self.computed
            for failed, reason in rule_checks(name, spec, typed, nul):
                fails.append(failed)
                # A value that failed its cast is reported once, not again as "required".
                reasons.append(
                    (
                        flag,
                        reason
                        if cast_reason is None
                        else pl.when(cast_reason.is_null()).then(reason),
                    )
                )
            if spec.type == "decimal" and self.decimal_digits is not None:
                digits = self.decimal_digits
                lost = typed.map_batches(
                    functools.partial(_past_digits, digits=digits), return_dtype=pl.Boolean
                )
                fails.append(lost)
                said = (
                    f"' has more than {digits} significant digits, which this warehouse "
                    f"does not keep (SQLite stores decimals as 8-byte floats): declare {name} "
                    "as string in a table made with it (a table keeps the types it was "
                    "made with), or load into PostgreSQL, MySQL or DuckDB"
                )
                reasons.append(
                    (
                        flag,
                        pl.when(lost).then(
                            pl.concat_str([pl.lit(f"{name}: '"), pl.col(name), pl.lit(said)])
                        ),
                    )
                )
            if self.unread is not None and unread_marker and spec.type == "string":
                marked = (typed == self.unread).fill_null(False)
                unread.append(marked)
                dumped = pl.lit(DUMPED_NULL_REASON.format(name=name))
                reasons.append((_UNREAD, pl.when(marked).then(dumped)))
            for failed, reason in beyond(name, typed, narrow) if narrow else []:
                fails.append(failed)
                reasons.append((flag, reason))
            if self._key_must_exist(name, spec):
                fails.append(typed.is_null())
                empty = pl.lit(f"{name}: a key of the merge but empty")
                missing = typed.is_null()
                if cast_reason is not None:
                    missing = missing & cast_reason.is_null()
                reasons.append((flag, pl.when(missing).then(empty)))
            if fails:
                flags.append(pl.any_horizontal(fails).alias(flag))
            finals.append(typed.alias(name))
        if unread:  # one flag for every text column's (its reasons in column order)
            flags.append(pl.any_horizontal(unread).alias(_UNREAD))
        extra = [pl.col(c) for c in self.extra]
        checked = [c for c in self.extra if not nul_free or c in self.computed]
        if checked:
            flags.append(pl.any_horizontal(_nul(c) for c in checked).alias("__bad_extra"))
        for name in checked:
            reasons.append(
                ("__bad_extra", pl.when(_nul(name)).then(pl.lit(f"{name}: {NUL_REASON}")))
            )
        names = [str(f.meta.output_name()) for f in flags]
        bad = pl.any_horizontal(pl.col(n) for n in names).alias(_BAD)

        def query(lf: pl.LazyFrame) -> pl.LazyFrame:
            return (
                lf.with_columns(casts)
                .with_columns(flags)
                .select(
                    *finals,
                    *extra,
                    pl.col(LINE),
                    bad,
                    *(pl.col(n) for n in names),
                    pl.col(REASONS),
                    *(pl.col(name).alias(raw) for raw, name in raw_as.items()),
                )
            )

        compiled = _Compiled(query, typed_as, raw_as, reasons, names)
        if len(self._compiled) >= 4:  # a file has one schema; replays and drift add few
            self._compiled.clear()
        self._compiled[key] = compiled
        return compiled

    def run(
        self,
        data: pl.DataFrame | pl.LazyFrame,
        nul_free: bool = False,
        backslash_free: bool = False,
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """(good rows, typed, in table order; bad rows: ``_line`` and ``_reasons``):
        :meth:`check`, then :meth:`explain` of its bad rows."""
        good, refused = self.check(data, nul_free, backslash_free)
        return good, self.explain([refused])

    def check(
        self,
        data: pl.DataFrame | pl.LazyFrame,
        nul_free: bool = False,
        backslash_free: bool = False,
    ) -> tuple[pl.DataFrame, Refused]:
        """(good rows, typed, in table order; the bad rows, to :meth:`explain`).

        Most rows are good, so the pass over every row only casts each column once
        and computes one boolean per rule on the typed values. Reason texts are built
        afterwards, for the bad rows only, from the typed values that pass computed
        (casting a few rows again costs a fixed ~30 ms a batch in date parsing).
        ``data`` may be lazy (the steps' last filter): the pass then makes the one copy.
        ``nul_free``: the reader saw no NUL byte in the batch (:attr:`Batch.nul_free`);
        ``backslash_free``: nor a backslash, so no :attr:`unread` marker.
        """
        lazy = with_reasons(data.lazy())
        unread = self.unread is not None and not backslash_free
        checks = self._checks(lazy.collect_schema(), nul_free, unread)
        out = lazy.pipe(checks.query).collect(engine=ENGINE)
        failed = out.get_column(_BAD)
        any_failed = failed.any()
        good, duplicates = self._uniques(out.filter(~failed) if any_failed else out)
        bad = None
        if any_failed:
            # The typed values under their temporary names, the text under the column's.
            bad = out.filter(failed).rename(checks.typed_as).rename(checks.raw_as)
        else:  # none: the frame of none, whose types :meth:`explain` keeps
            duplicates.insert(0, out.clear().select(LINE, REASONS))
        good = good.select(
            [
                *(pl.col(c) for c in self.table.columns),
                *(pl.col(c).cast(pl.String) for c in self.extra),
                pl.col(LINE),
            ]
        )
        return good, Refused(bad, checks, duplicates)

    def explain(self, refused: list[Refused]) -> pl.DataFrame:
        """The bad rows of ``refused`` (of one stream, in order) as ``_line`` and
        ``_reasons``, in line order: those of a schema in one query."""
        parts: list[pl.DataFrame] = []
        groups: list[tuple[_Compiled, list[pl.DataFrame]]] = []
        for r in refused:
            parts += r.explained
            if r.rows is None or r.checks is None:
                continue
            if groups and groups[-1][0] is r.checks:
                groups[-1][1].append(r.rows)
            else:
                groups.append((r.checks, [r.rows]))
        for checks, frames in groups:
            bad = frames[0] if len(frames) == 1 else pl.concat(frames, how="vertical_relaxed")
            # Only the reasons of columns a bad row failed: a few of the table's, most
            # batches (building all of them for a few rows was 0.4 s a 1M-row load).
            hit = bad.select(pl.col(checks.flags).any()).row(0, named=True)
            reasons = [reason for flag, reason in checks.reasons if hit.get(flag)]
            explained = add_reasons(bad, reasons).with_columns(_tidy(pl.col(REASONS)))
            parts.append(explained.select(LINE, REASONS))
        if not parts:
            return pl.DataFrame(schema={LINE: pl.Int64, REASONS: pl.List(pl.String)})
        return pl.concat([p.select(LINE, REASONS) for p in parts]).sort(LINE)

    def _uniques(self, good: pl.DataFrame) -> tuple[pl.DataFrame, list[pl.DataFrame]]:
        """Drop repeated keys from the good rows; return them as (line, reasons) frames."""
        checks = [[n] for n, c in self.table.columns.items() if c.unique]
        if self.unique_keys and self.table.keys and self.table.keys not in checks:
            checks.append(list(self.table.keys))
        found: list[pl.DataFrame] = []
        for keys in checks:
            label = ", ".join(keys)
            # Only rows that are otherwise good claim a key: a broken row must not
            # push a later, good row with the same key into quarantine.
            fresh = self._seen.setdefault(label, SeenKeys()).first_time(good, keys)
            if fresh.all():
                continue
            shown = pl.concat_str([pl.col(k).cast(pl.String) for k in keys], separator=", ")
            found.append(
                good.filter(~fresh).select(
                    LINE,
                    pl.concat_list(
                        pl.concat_str(
                            [
                                pl.lit(f"{label}: duplicate value '"),
                                shown,
                                pl.lit("' (the first one was kept)"),
                            ]
                        )
                    ).alias(REASONS),
                )
            )
            good = good.filter(fresh)
        return good, found


def target_dtypes(table: TableConfig) -> dict[str, pl.DataType]:
    return {n: POLARS_TYPES[c.type] for n, c in table.columns.items()}


def _past_digits(values: pl.Series, digits: int) -> pl.Series:
    """Whether each decimal has more than ``digits`` significant digits (null: False).

    Values under 10**(digits - scale) cannot have more, and are most: only the others
    are counted, from their text (0.12 CPU-s per 1M values if all were)."""
    dtype = values.dtype
    assert isinstance(dtype, pl.Decimal)
    big = (values.cast(pl.Float64).abs() >= 10.0 ** (digits - dtype.scale)).fill_null(False)
    if not big.any():
        return big
    where = big.arg_true()
    text = values.gather(where).cast(pl.String).str.replace_all(r"[-.]", "")
    counted = text.str.strip_chars("0").str.len_bytes() > digits
    return repeated(False, len(values), pl.Boolean()).scatter(where, counted)
