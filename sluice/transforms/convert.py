"""Conversions that SQL cannot state cleanly, as Polars expressions with reasons.

- :func:`amount`: ``10.00K``, ``2.5M``, ``1B``, ``-$5``, ``(5.00)`` -> decimal.
- :func:`utc`: a local time plus its zone's UTC offset (``CST-6``, ``CDT``) -> a UTC datetime.

Like :func:`sluice.transforms.cast.cast`, each returns ``(value, reason)``: the reason is
a readable text where the input was present but could not be converted, else null, so a
bad value quarantines its row instead of becoming a silent null.
"""

from __future__ import annotations

import polars as pl

from sluice.config import UtcStep
from sluice.dtypes import POLARS_TYPES
from sluice.transforms.cast import (
    COMMA_DECIMAL_NOTE,
    COMMA_NOTE,
    DASH_NOTE,
    DASHES,
    EITHER_WAY,
    EITHER_WAY_NOTE,
    THOUSANDS,
    DateOptions,
    DecimalMark,
    cast,
)

#: Suffix -> multiplier of :func:`amount` (NOAA's damage columns use K, M and B).
MULTIPLIERS = {"": 1, "H": 100, "K": 1_000, "M": 1_000_000, "B": 1_000_000_000}
SHIFTS = {unit: len(str(m)) - 1 for unit, m in MULTIPLIERS.items()}
#: An optional sign, a currency symbol, the number (thousands commas only in groups of
#: three), a multiplier, a trailing symbol, a trailing minus (``1,234.56-``, as SAP and
#: other ERP and mainframe reports write a negative amount); the whole may be in
#: accounting parentheses.
_AMOUNT = (
    r"^(?P<sign>[+-])?\s*(?P<lead>[$€£¥])?\s*(?P<sign2>[+-])?\s*"
    r"(?P<number>{number})"
    r"\s*(?P<unit>[HKMB])?\s*(?P<trail>[$€£¥])?\s*(?P<sign3>-)?$"
)
AMOUNT = _AMOUNT.format(
    number=r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]*)?|[0-9]+(?:\.[0-9]*)?|\.[0-9]+"
)
AMOUNT_FORMS = (
    "1234.56, 1,234.56, .5, $5, €5, £5, ¥5, 5 €, -5, -$5.00, 5.00-, (5.00), "
    "with a suffix H, K, M or B: 10.00K, .5K, 2.5M, 1B"
)
#: The same under a decimal comma (``csv.decimal: ','``): thousands grouped by dots or
#: spaces (as :data:`~sluice.transforms.cast.COMMA_DECIMAL`), the fraction after a comma.
AMOUNT_COMMA = _AMOUNT.format(
    number=r"[0-9]{1,3}(?:\.[0-9]{3})+(?:,[0-9]*)?|[0-9]{1,3}(?:[ \u00a0\u202f][0-9]{3})+"
    r"(?:,[0-9]*)?|[0-9]+(?:,[0-9]*)?|,[0-9]+"
)
AMOUNT_COMMA_FORMS = (
    "1234,56, 1.234,56, 1 234,56, ,5, €5, 5 €, -5, -5,00 €, 5,00-, (5,00), "
    "with a suffix H, K, M or B: 10,00K, 2,5M, 1B"
)
# Letters (a zone's name, optional), then a signed offset in hours, optionally :MM.
OFFSET = r"^[A-Z]*([+-]?)(\d{1,2})(?::?(\d{2}))?$"
#: Zone names written without an offset (NOAA files before about 2007) -> minutes east
#: of UTC. Daylight names mean daylight time; GST is Guam (NOAA's use; ChST officially).
ZONE_NAMES: dict[str, int] = {
    "UTC": 0,
    "GMT": 0,
    "Z": 0,
    "AST": -4 * 60,
    "ADT": -3 * 60,
    "EST": -5 * 60,
    "EDT": -4 * 60,
    "CST": -6 * 60,
    "CDT": -5 * 60,
    "MST": -7 * 60,
    "MDT": -6 * 60,
    "PST": -8 * 60,
    "PDT": -7 * 60,
    "AKST": -9 * 60,
    "AKDT": -8 * 60,
    "HST": -10 * 60,
    "HDT": -9 * 60,
    "SST": -11 * 60,
    "GST": 10 * 60,
    "CHST": 10 * 60,
}


def _reason(present: pl.Expr, column: str, text: pl.Expr, what: str) -> pl.Expr:
    message = pl.concat_str([pl.lit(f"{column}: '"), text, pl.lit(f"' is not {what}")])
    return pl.when(present).then(message).otherwise(None)


def amount(column: str, mark: DecimalMark = ".") -> tuple[pl.Expr, pl.Expr]:
    """(``column`` as a decimal amount, reason) for text like ``10.00K``, ``-$5``, ``(5.00)``.

    Case and spaces do not matter; no suffix means units; ``(5.00)`` is -5 as in
    accounting. Null and blank stay null (``required`` catches them when they matter).
    Anything else is refused with the accepted forms listed, never guessed at: ``1,2``
    is not 12, ``5,00 €`` is not 500. ``mark``: the file's decimal mark, as for a
    ``decimal`` column (:data:`~sluice.transforms.cast.DecimalMark`): under ``","``,
    ``5,00 €`` is 5 and ``1.234`` is 1234; ``"unstated"`` refuses ``1,234``, which may be
    either 1234 or 1.234 there.
    """
    text = pl.col(column).cast(pl.String)
    clean = text.str.strip_chars().str.to_uppercase()
    inner = clean.str.extract(r"^\((.*)\)$", 1)
    paren = inner.is_not_null()
    g = pl.coalesce(inner.str.strip_chars(), clean).str.extract_groups(
        AMOUNT_COMMA if mark == "," else AMOUNT
    )
    signs = [g.struct.field(s) for s in ("sign", "sign2", "sign3")]
    lead, trail = g.struct.field("lead"), g.struct.field("trail")
    minus = pl.any_horizontal([(s == "-").fill_null(False) for s in signs])
    signed_at_all = pl.sum_horizontal([s.is_not_null().cast(pl.Int8) for s in signs])
    # One sign at most, one symbol at most, and no sign inside accounting parentheses.
    ok = (
        (signed_at_all <= 1)
        & ~(lead.is_not_null() & trail.is_not_null())
        & ~(paren & (signed_at_all > 0))
    )
    number = g.struct.field("number")
    if mark == ",":  # to the form below: thousands marks out, the comma a point
        number = number.str.replace_all(r"[. \u00a0\u202f]", "").str.replace(",", ".", literal=True)
    elif mark == "unstated":
        ok = ok & ~number.str.contains(EITHER_WAY).fill_null(False)
    # The suffix shifts the decimal point in the text, so no digit is lost and no
    # product can overflow: "1.2345678K" -> "1234.5678"; too many digits -> refused.
    digits = number.str.replace_all(",", "", literal=True)
    whole = digits.str.extract(r"^([0-9]*)", 1)
    fraction = digits.str.extract(r"\.([0-9]*)$", 1).fill_null("")
    shift = (
        g.struct.field("unit")
        .fill_null("")
        .replace_strict(SHIFTS, default=None, return_dtype=pl.Int64)
    )
    padded = fraction.str.pad_end(9, "0")
    moved = pl.concat_str([whole, padded.str.slice(0, shift), pl.lit("."), padded.str.slice(shift)])
    too_long = moved.str.len_chars() > 40
    magnitude = pl.when(~too_long).then(moved).cast(POLARS_TYPES["decimal"], strict=False)
    negative = minus | paren
    signed = pl.when(negative).then(-magnitude).otherwise(magnitude)
    value = pl.when(ok.fill_null(False)).then(signed).cast(POLARS_TYPES["decimal"])
    bad = (clean != "") & value.is_null()
    if mark == ",":
        said = f"an amount (accepted: {AMOUNT_COMMA_FORMS}){COMMA_DECIMAL_NOTE}"
        return value, _reason(bad, column, text, said)
    reason = _reason(bad, column, text, f"an amount (accepted: {AMOUNT_FORMS})")
    either = pl.lit(False)
    if mark == "unstated":
        either = number.str.contains(EITHER_WAY).fill_null(False)
        reason = (
            pl.when(either).then(pl.concat_str([reason, pl.lit(EITHER_WAY_NOTE)])).otherwise(reason)
        )
    # `5,00 €` and `120,50` are a decimal comma's, refused here: say which setting reads
    # them, as a number column's reason does (a comma grouping thousands is no such case).
    digits_of = clean.str.extract(r"([0-9][0-9.,]*)", 1)
    comma = digits_of.str.contains(",", literal=True) & ~digits_of.str.contains(THOUSANDS)
    comma = comma.fill_null(False) & ~either
    reason = pl.when(comma).then(pl.concat_str([reason, pl.lit(COMMA_NOTE)])).otherwise(reason)
    dash = clean.str.contains(f"[{DASHES}]")  # a typographic minus before `$5` (see DASHES)
    # the derive must run before this step reads the text
    note = pl.lit(DASH_NOTE.format(name=column, where=" before this step"))
    return value, pl.when(dash).then(pl.concat_str([reason, note])).otherwise(reason)


def utc_offset_minutes(column: str) -> pl.Expr:
    """Minutes east of UTC from ``CST-6``, ``EST-5``, ``GST10``, ``+05:30``, or a name (``CDT``).

    A name alone is read through :data:`ZONE_NAMES`; any other text is null.
    """
    text = pl.col(column).cast(pl.String).str.strip_chars().str.to_uppercase()
    parts = text.str.extract_groups(OFFSET)
    hours = parts.struct.field("2").cast(pl.Int64)
    minutes = parts.struct.field("3").cast(pl.Int64).fill_null(0)
    sign = pl.when(parts.struct.field("1") == "-").then(-1).otherwise(1)
    total = sign * (hours * 60 + minutes)
    valid = (hours <= 14) & (minutes < 60)
    named = text.replace_strict(ZONE_NAMES, default=None, return_dtype=pl.Int64)
    return pl.when(valid).then(total).otherwise(named)


def utc(
    column: str, offset_from: str, source: pl.DataType, step: UtcStep.Args
) -> tuple[pl.Expr, pl.Expr]:
    """(``column``, a local time, as UTC using the offset in ``offset_from``; reason).

    The local time is parsed with the step's ``formats`` (Python strptime, without a zone), then
    shifted by the offset: ``01-JAN-24 13:05:00`` at ``CST-6`` is 19:05 UTC.
    """
    spec = DateOptions(step.formats, step.century_pivot, step.century_from)
    local, time_reason = cast(column, source, "datetime", spec)
    offset = utc_offset_minutes(offset_from)
    value = local - pl.duration(minutes=offset)
    zone = pl.col(offset_from).cast(pl.String)
    bad_zone = local.is_not_null() & zone.is_not_null() & offset.is_null()
    no_zone = local.is_not_null() & zone.is_null()
    reason = pl.coalesce(
        time_reason,
        # Named after the column it leaves empty (so "required but empty" is not said
        # again), quoting the zone text that could not be read.
        pl.when(bad_zone).then(
            pl.concat_str(
                [
                    pl.lit(f"{column}: {offset_from} '"),
                    zone,
                    pl.lit(
                        "' is not a UTC offset (like CST-6, EST-5, +05:30) or a known zone "
                        "name (" + ", ".join(ZONE_NAMES) + ")"
                    ),
                ]
            )
        ),
        pl.when(no_zone).then(pl.lit(f"{column}: no UTC offset in {offset_from}")),
    )
    return value, reason


__all__ = ["AMOUNT_FORMS", "MULTIPLIERS", "ZONE_NAMES", "amount", "utc", "utc_offset_minutes"]
