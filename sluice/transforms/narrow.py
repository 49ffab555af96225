"""Values a narrower table column would change: refused with the ways on.

A table its owner made may keep less than the type sluice makes for a declared one:
``NUMERIC(10, 2)`` for a ``decimal``; MySQL's ``DATETIME`` (whole seconds) or
``TIMESTAMP`` (1970 to 2038), PostgreSQL's ``timestamp(0)`` for a ``datetime``; ``REAL``
or MySQL's ``FLOAT(7, 2)`` for a ``float``; ``INTEGER`` for an ``integer``;
``VARCHAR(50)``, an enumerated type, MySQL's ``utf8mb3`` or ``TEXT`` (64 KB), or
PostgreSQL's ``uuid`` for a ``string``. The database would round such a value, cut it,
change its case or refuse the whole load (naming no row of the file); each is
quarantined instead, its reason naming the column as the database shows it, the step
that makes the value fit where one does, and widening the column (see
:class:`~sluice.schema.Narrow`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

import polars as pl

from sluice.dtypes import POLARS_TYPES
from sluice.schema import CHARSET_LACKS, DECIMAL_PLACES, Narrow

#: (failed, reason) of one way a value does not fit
Check = tuple[pl.Expr, pl.Expr]
#: what follows a step: replay, or the other way on
_THEN = "then `sluice quarantine replay`; or widen the column in the warehouse, then replay"
_REPLAY = "then `sluice quarantine replay`"
#: a UUID as PostgreSQL reads one: 32 hex digits, a hyphen after any group of four,
#: braces around the whole (its own cast, tried in the tests, agrees)
_HEX4 = "[0-9a-fA-F]{4}"
UUID = f"^(?:{_HEX4}(?:-?{_HEX4}){{7}}|[{{]{_HEX4}(?:-?{_HEX4}){{7}}[}}])$"
#: characters of a value shown in a reason (a field may be a page of text)
_SHOWN = 40


def beyond(name: str, typed: pl.Expr, narrow: Narrow) -> list[Check]:
    """(failed, reason) per way a value of ``typed`` (column ``name``, cast to its
    declared type) does not fit the table's column ``narrow``."""
    column = f"the table's column {name} ({narrow.shown})"
    kinds: list[Callable[[str, pl.Expr, Narrow, str], list[Check]]] = [
        _places,
        _fraction,
        _span,
        _single,
        _bounds,
        _length,
        _accepted,
        _charset,
        _octets,
        _uuid,
    ]
    return [check for kind in kinds for check in kind(name, typed, narrow, column)]


def _places(name: str, typed: pl.Expr, narrow: Narrow, column: str) -> list[Check]:
    if narrow.places is not None:  # a decimal keeps sluice's 6 places, or fewer
        precision, scale = narrow.places
        rounds = scale < DECIMAL_PLACES[1]
        made = f"a declared decimal is made NUMERIC({DECIMAL_PLACES[0]}, {DECIMAL_PLACES[1]})"
        limit = pl.lit(Decimal(10) ** (precision - scale), dtype=POLARS_TYPES["decimal"])
    elif narrow.float_places is not None:  # MySQL's FLOAT(7, 2) rounds every value
        precision, scale = narrow.float_places
        rounds, made = True, "DOUBLE, as sluice makes a float"
        limit = pl.lit(10.0 ** (precision - scale))
    else:
        return []
    whole = precision - scale
    out = []
    if rounds:
        more = (typed.round(scale) != typed).fill_null(False)
        said = (
            f"' has more places after the point than the {scale} {column} keeps (the "
            f"database would round it): to load it rounded to {scale}, add the step derive: "
            f'{{column: {name}, sql: "coalesce(cast(try_cast({name} as decimal(38, {scale})) '
            f'as varchar), cast({name} as varchar))"}}, {_THEN}'
        )
        out.append(_check(more, _said(name, said)))
    if whole < DECIMAL_PLACES[0] - DECIMAL_PLACES[1] or narrow.float_places is not None:
        big = (typed.abs() >= limit).fill_null(False)
        said = (
            f"' has more than {whole} digits before the point, which {column} holds: widen "
            f"the column in the warehouse ({made}), {_REPLAY}"
        )
        out.append(_check(big, _said(name, said)))
    return out


def _fraction(name: str, typed: pl.Expr, narrow: Narrow, column: str) -> list[Check]:
    if narrow.fraction is None:
        return []
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
    return [_check(past, _said(name, said))]


def _span(name: str, typed: pl.Expr, narrow: Narrow, column: str) -> list[Check]:
    if narrow.span is None:
        return []
    first, last = narrow.span
    held = f"{first:%Y-%m-%d %H:%M:%S} to {last:%Y-%m-%d %H:%M:%S} UTC"
    wider = "DATETIME(6), as sluice makes a datetime"
    return [_past(name, typed, (pl.lit(first), pl.lit(last)), column, held, wider)]


def _single(name: str, typed: pl.Expr, narrow: Narrow, column: str) -> list[Check]:
    if not narrow.single:
        return []
    # Kept where the 4-byte float shows the number written (0.1 is, 1.23456789 not)
    shown = typed.cast(pl.Float32).cast(pl.String).cast(pl.Float64)
    lost = (shown != typed).fill_null(False)
    said = (
        f"' has more digits than {column} keeps (a 4-byte float, about 7 significant "
        "digits: the database would round it): widen the column in the warehouse to an "
        f"8-byte float (DOUBLE PRECISION, DOUBLE), {_REPLAY}"
    )
    return [_check(lost, _said(name, said))]


def _bounds(name: str, typed: pl.Expr, narrow: Narrow, column: str) -> list[Check]:
    if narrow.bounds is None:
        return []
    least, most = narrow.bounds
    wider = "a declared integer is made BIGINT"
    return [_past(name, typed, (pl.lit(least), pl.lit(most)), column, f"{least} to {most}", wider)]


def _past(
    name: str, typed: pl.Expr, ends: tuple[pl.Expr, pl.Expr], column: str, held: str, wider: str
) -> Check:
    """A value before the first of ``ends`` or after the last (``held``, as said)."""
    past = ((typed < ends[0]) | (typed > ends[1])).fill_null(False)
    said = f"' is past what {column} holds ({held}): widen the column in the warehouse "
    said += f"({wider}), {_REPLAY}"
    return _check(past, _said(name, said))


def _length(name: str, typed: pl.Expr, narrow: Narrow, column: str) -> list[Check]:
    if narrow.length is None:
        return []
    return [_longer(name, typed, (typed.str.len_chars(), "characters"), narrow.length, column, "")]


def _accepted(name: str, typed: pl.Expr, narrow: Narrow, column: str) -> list[Check]:
    if narrow.accepted is None:
        return []
    other = (~typed.is_in(list(narrow.accepted))).fill_null(False)
    listed = ", ".join(narrow.accepted[:10]) + (", ..." if len(narrow.accepted) > 10 else "")
    said = (
        f"' is not one of the values {column} holds ({listed}; exactly, case and spaces "
        "too): map it to one with a derive step, or add it to the column's type in the "
        f"warehouse, {_REPLAY}"
    )
    return [_check(other, _said(name, said))]


def _charset(name: str, typed: pl.Expr, narrow: Narrow, column: str) -> list[Check]:
    if narrow.charset is None:
        return []
    char = typed.str.extract(f"({CHARSET_LACKS[narrow.charset]})")
    # the type to restate, without the character set and collation it has now
    type_ = re.sub(r"\s+(?:CHARACTER SET|COLLATE)\s+\S+", "", narrow.shown, flags=re.I)
    said = [
        _start(name, typed),
        pl.lit("' holds '"),
        char,
        pl.lit(
            f"', a character {column} cannot store (its character set is "
            f"{narrow.charset}): convert the column to utf8mb4 in the warehouse "
            f"(MODIFY {name} {type_} CHARACTER SET utf8mb4), {_REPLAY}"
        ),
    ]
    return [_check(char.is_not_null().fill_null(False), pl.concat_str(said))]


def _octets(name: str, typed: pl.Expr, narrow: Narrow, column: str) -> list[Check]:
    if narrow.octets is None:
        return []
    # a single-byte character set stores a character in a byte; utf8mb4 as UTF-8 does
    single = narrow.charset in ("latin1", "ascii")
    size = typed.str.len_chars() if single else typed.str.len_bytes()
    wider = f" (MODIFY {name} LONGTEXT, as sluice makes a string)"
    return [_longer(name, typed, (size, "bytes"), narrow.octets, column, wider)]


def _longer(
    name: str, typed: pl.Expr, size: tuple[pl.Expr, str], most: int, column: str, wider: str
) -> Check:
    """A text longer than ``most`` of ``size`` (its measure, and what it counts)."""
    measure, counted = size
    longer = (measure > most).fill_null(False)
    said = [
        _start(name, typed),
        pl.lit("' has "),
        measure.cast(pl.String),
        pl.lit(
            f" {counted}, longer than the {most:,} {column} holds: widen the column in the "
            f"warehouse{wider}, {_REPLAY}"
        ),
    ]
    return _check(longer, pl.concat_str(said))


def _uuid(name: str, typed: pl.Expr, narrow: Narrow, column: str) -> list[Check]:
    if not narrow.uuid:
        return []
    other = (~typed.str.contains(UUID)).fill_null(False)
    said = (
        f"' is not a UUID, which {column} holds (32 hex digits, as "
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11): to load such values as null, add the step "
        f"derive: {{column: {name}, sql: \"case when regexp_like({name}, '{UUID}') then "
        f'{name} end"}}, {_REPLAY}'
    )
    return [_check(other, _said(name, said))]


def _check(failed: pl.Expr, reason: pl.Expr) -> Check:
    return failed, pl.when(failed).then(reason)


def _said(name: str, said: str) -> pl.Expr:
    return pl.concat_str([pl.lit(f"{name}: '"), pl.col(name).cast(pl.String), pl.lit(said)])


def _start(name: str, typed: pl.Expr) -> pl.Expr:
    """``name: '`` and the value's first characters (``...`` where it goes on)."""
    more = pl.when(typed.str.len_chars() > _SHOWN).then(pl.lit("...")).otherwise(pl.lit(""))
    return pl.concat_str(
        [pl.lit(f"{name}: '"), pl.col(name).cast(pl.String).str.slice(0, _SHOWN), more]
    )
