"""Conversions that SQL cannot state cleanly, as Polars expressions with reasons.

- :func:`amount`: ``10.00K``, ``2.5M``, ``1B`` -> decimal (10000, 2500000, 1000000000).
- :func:`utc`: a local time plus its zone's UTC offset (``CST-6``) -> a UTC datetime.

Like :func:`sluice.transforms.cast.cast`, each returns ``(value, reason)``: the reason is
a readable text where the input was present but could not be converted, else null, so a
bad value quarantines its row instead of becoming a silent null.
"""

from __future__ import annotations

import polars as pl

from sluice.schema import POLARS_TYPES
from sluice.transforms.cast import cast

#: Suffix -> multiplier of :func:`amount` (NOAA's damage columns use K, M and B).
MULTIPLIERS = {"": 1, "H": 100, "K": 1_000, "M": 1_000_000, "B": 1_000_000_000}
AMOUNT = r"^\$?(\d+(?:\.\d+)?)([HKMB]?)$"
# Letters (a zone's name, optional), then a signed offset in hours, optionally :MM.
OFFSET = r"^[A-Z]*([+-]?)(\d{1,2})(?::?(\d{2}))?$"
ZERO_OFFSET = ["UTC", "GMT", "Z"]


def _reason(present: pl.Expr, column: str, text: pl.Expr, what: str) -> pl.Expr:
    message = pl.concat_str([pl.lit(f"{column}: '"), text, pl.lit(f"' is not {what}")])
    return pl.when(present).then(message).otherwise(None)


def amount(column: str) -> tuple[pl.Expr, pl.Expr]:
    """(``column`` as a decimal amount, reason) for text like ``10.00K`` or ``2.5M``.

    Case, spaces, thousands commas and a leading ``$`` do not matter; no suffix means
    units. Null and blank stay null (``required`` catches them when they matter).
    """
    text = pl.col(column).cast(pl.String)
    clean = text.str.strip_chars().str.replace_all(",", "", literal=True).str.to_uppercase()
    parts = clean.str.extract_groups(AMOUNT)
    number = parts.struct.field("1").cast(POLARS_TYPES["decimal"], strict=False)
    factor = parts.struct.field("2").replace_strict(
        MULTIPLIERS, default=None, return_dtype=pl.Int64
    )
    value = (number * factor).cast(POLARS_TYPES["decimal"], strict=False)
    bad = (clean != "") & value.is_null()
    return value, _reason(bad, column, text, "an amount (like 10.00K, 2.5M, 1B)")


def utc_offset_minutes(column: str) -> pl.Expr:
    """Minutes east of UTC from ``CST-6``, ``EST-5``, ``HST-10``, ``+05:30``, ``UTC``...

    A zone's name alone (``CST``) is not an offset: null, like any text that is not one.
    """
    text = pl.col(column).cast(pl.String).str.strip_chars().str.to_uppercase()
    parts = text.str.extract_groups(OFFSET)
    hours = parts.struct.field("2").cast(pl.Int64)
    minutes = parts.struct.field("3").cast(pl.Int64).fill_null(0)
    sign = pl.when(parts.struct.field("1") == "-").then(-1).otherwise(1)
    total = sign * (hours * 60 + minutes)
    valid = (hours <= 14) & (minutes < 60)
    return (
        pl.when(text.is_in(ZERO_OFFSET))
        .then(pl.lit(0, pl.Int64))
        .when(valid)
        .then(total)
        .otherwise(None)
    )


def utc(
    column: str, offset_from: str, source: pl.DataType, formats: list[str] | None
) -> tuple[pl.Expr, pl.Expr]:
    """(``column``, a local time, as UTC using the offset in ``offset_from``; reason).

    The local time is parsed with ``formats`` (strftime codes, without a zone), then
    shifted by the offset: ``01-JAN-24 13:05:00`` at ``CST-6`` is 19:05 UTC.
    """
    local, time_reason = cast(column, source, "datetime", formats)
    offset = utc_offset_minutes(offset_from)
    value = local - pl.duration(minutes=offset)
    zone = pl.col(offset_from).cast(pl.String)
    bad_zone = local.is_not_null() & zone.is_not_null() & offset.is_null()
    no_zone = local.is_not_null() & zone.is_null()
    reason = pl.coalesce(
        time_reason,
        _reason(bad_zone, offset_from, zone, "a UTC offset (like CST-6, EST-5, +05:30)"),
        pl.when(no_zone).then(pl.lit(f"{column}: no UTC offset in {offset_from}")),
    )
    return value, reason


__all__ = ["MULTIPLIERS", "amount", "utc", "utc_offset_minutes"]
