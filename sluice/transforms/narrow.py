"""Values a narrower table column would change: refused with the ways on.

A table its owner made may keep less than the type sluice makes for a declared one:
``NUMERIC(10, 2)`` for a ``decimal``, MySQL's ``DATETIME`` (whole seconds) or
PostgreSQL's ``timestamp(0)`` for a ``datetime``, ``REAL`` for a ``float``, ``INTEGER``
for an ``integer``, ``VARCHAR(50)`` or MySQL's ``utf8mb3`` for a ``string``. The
database would round such a value, cut it or refuse the whole load (naming no row);
each is quarantined
instead, its reason naming the column as the database shows it, the step that makes the
value fit where one does, and widening the column (see :class:`~sluice.schema.Narrow`).
"""

from __future__ import annotations

import re
from decimal import Decimal

import polars as pl

from sluice.dtypes import POLARS_TYPES
from sluice.schema import CHARSET_LACKS, DECIMAL_PLACES, Narrow

#: what follows a step: replay, or the other way on
_THEN = "then `sluice quarantine replay`; or widen the column in the warehouse, then replay"


def beyond(name: str, typed: pl.Expr, narrow: Narrow) -> list[tuple[pl.Expr, pl.Expr]]:
    """(failed, reason) per way a value of ``typed`` (column ``name``, cast to its
    declared type) does not fit the table's column ``narrow``."""
    column = f"the table's column {name} ({narrow.shown})"
    out: list[tuple[pl.Expr, pl.Expr]] = []
    if narrow.places is not None:
        out += _places(name, typed, narrow.places, column)
    if narrow.fraction is not None:
        digits = narrow.fraction
        past = (typed.dt.microsecond() % 10 ** (6 - digits) != 0).fill_null(False)
        # Anchored on the seconds, so a dotted date (05.01.2024) is left alone.
        cut = "(:[0-9]{2})[.][0-9]+" if digits == 0 else f"(:[0-9]{{2}}[.][0-9]{{{digits}}})[0-9]+"
        said = (
            f"' has a fraction of a second past the {digits} digit(s) {column} keeps (the "
            f"database would round or cut it): to load it cut to {digits}, add the step "
            f'derive: {{column: {name}, sql: "regexp_replace(cast({name} as varchar), '
            f"'{cut}', '\\\\1')\"}}, {_THEN}"
        )
        out.append((past, pl.when(past).then(_said(name, said))))
    if narrow.span is not None:
        first, last = narrow.span
        past = ((typed < pl.lit(first)) | (typed > pl.lit(last))).fill_null(False)
        said = (
            f"' is past what {column} holds ({first:%Y-%m-%d %H:%M:%S} to "
            f"{last:%Y-%m-%d %H:%M:%S} UTC): widen the column in the warehouse (DATETIME(6), "
            "as sluice makes a datetime), then `sluice quarantine replay`"
        )
        out.append((past, pl.when(past).then(_said(name, said))))
    if narrow.single:
        # Kept where the 4-byte float shows the number written (0.1 is, 1.23456789 not)
        shown = typed.cast(pl.Float32).cast(pl.String).cast(pl.Float64)
        lost = (shown != typed).fill_null(False)
        said = (
            f"' has more digits than {column} keeps (a 4-byte float, about 7 significant "
            "digits: the database would round it): widen the column in the warehouse to "
            "an 8-byte float (DOUBLE PRECISION, DOUBLE), then `sluice quarantine replay`"
        )
        out.append((lost, pl.when(lost).then(_said(name, said))))
    if narrow.bounds is not None:
        least, most = narrow.bounds
        past = ((typed < least) | (typed > most)).fill_null(False)
        said = (
            f"' is past what {column} holds ({least} to {most}): widen the column in the "
            "warehouse (a declared integer is made BIGINT), then `sluice quarantine replay`"
        )
        out.append((past, pl.when(past).then(_said(name, said))))
    if narrow.length is not None:
        chars = typed.str.len_chars()
        longer = (chars > narrow.length).fill_null(False)
        # The value's start only: a field may be a page of text.
        start = pl.col(name).cast(pl.String).str.slice(0, 40)
        parts = [
            pl.lit(f"{name}: '"),
            start,
            pl.when(chars > 40).then(pl.lit("...")).otherwise(pl.lit("")),
            pl.lit("' has "),
            chars.cast(pl.String),
            pl.lit(
                f" characters, longer than the {narrow.length} {column} holds: widen the "
                "column in the warehouse, then `sluice quarantine replay`"
            ),
        ]
        out.append((longer, pl.when(longer).then(pl.concat_str(parts))))
    if narrow.accepted is not None:
        other = (~typed.is_in(list(narrow.accepted))).fill_null(False)
        listed = ", ".join(narrow.accepted[:10]) + (", ..." if len(narrow.accepted) > 10 else "")
        said = (
            f"' is not one of the values {column} holds ({listed}; exactly, case and spaces "
            "too): map it to one with a derive step, or add it to the column's type in the "
            "warehouse, then `sluice quarantine replay`"
        )
        out.append((other, pl.when(other).then(_said(name, said))))
    if narrow.charset is not None:
        char = typed.str.extract(f"({CHARSET_LACKS[narrow.charset]})")
        # the type to restate, without the character set and collation it has now
        type_ = re.sub(r"\s+(?:CHARACTER SET|COLLATE)\s+\S+", "", narrow.shown, flags=re.I)
        held = char.is_not_null().fill_null(False)
        parts = [
            pl.lit(f"{name}: '"),
            pl.col(name).cast(pl.String).str.slice(0, 40),
            pl.when(typed.str.len_chars() > 40).then(pl.lit("...")).otherwise(pl.lit("")),
            pl.lit("' holds '"),
            char,
            pl.lit(
                f"', a character {column} cannot store (its character set is "
                f"{narrow.charset}): convert the column to utf8mb4 in the warehouse "
                f"(MODIFY {name} {type_} CHARACTER SET utf8mb4), then "
                "`sluice quarantine replay`"
            ),
        ]
        out.append((held, pl.when(held).then(pl.concat_str(parts))))
    return out


def _places(
    name: str, typed: pl.Expr, places: tuple[int, int], column: str
) -> list[tuple[pl.Expr, pl.Expr]]:
    precision, scale = places
    whole = precision - scale
    out: list[tuple[pl.Expr, pl.Expr]] = []
    if scale < DECIMAL_PLACES[1]:
        more = (typed.round(scale) != typed).fill_null(False)
        said = (
            f"' has more places after the point than the {scale} {column} keeps (the "
            f"database would round it): to load it rounded to {scale}, add the step derive: "
            f'{{column: {name}, sql: "coalesce(cast(try_cast({name} as decimal(38, {scale})) '
            f'as varchar), cast({name} as varchar))"}}, {_THEN}'
        )
        out.append((more, pl.when(more).then(_said(name, said))))
    if whole < DECIMAL_PLACES[0] - DECIMAL_PLACES[1]:
        limit = pl.lit(Decimal(10) ** whole, dtype=POLARS_TYPES["decimal"])
        big = (typed.abs() >= limit).fill_null(False)
        said = (
            f"' has more than {whole} digits before the point, which {column} holds: widen "
            f"the column in the warehouse (a declared decimal is made NUMERIC"
            f"({DECIMAL_PLACES[0]}, {DECIMAL_PLACES[1]})), then `sluice quarantine replay`"
        )
        out.append((big, pl.when(big).then(_said(name, said))))
    return out


def _said(name: str, said: str) -> pl.Expr:
    return pl.concat_str([pl.lit(f"{name}: '"), pl.col(name).cast(pl.String), pl.lit(said)])
