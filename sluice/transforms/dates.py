"""Dates and times read exactly as Python's ``datetime.strptime`` reads them, vectorised.

Each format is one anchored regex (:mod:`sluice.dateformat`, the regexes CPython uses);
the groups it captures become numbers, and the numbers become a value only when Python
would make one: a day that the month has, seconds up to 59, nothing left over. Why not
Polars' own ``strptime``: it is chrono's, where ``%Y`` takes ``24`` as year 24 and ``%f``
reads ``.5`` as five nanoseconds. Everything here stays in Polars expressions.

Rules that change a value are stated, in the docs and in :func:`rules_of`:
- ``%y`` (two digits): Python's rule (00-68 -> 2000s, 69-99 -> 1900s) unless the column
  sets ``century_pivot`` (years land in pivot..pivot+99) or ``century_from`` (the year
  ending in those digits nearest the four-digit year that starts another column).
- A time without an offset is in ``timezone`` (an IANA name, default UTC). A time the
  clocks skipped (a DST gap) is not a time there: it quarantines. A time that happens
  twice (the hour the clocks go back) is the first one, as Python's ``fold=0``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

import polars as pl

from sluice.dateformat import MONTH_NUMBERS, DateFormat, compile_format
from sluice.dtypes import repeated

TEXT = "text"
REF = "ref"
# "+01", then ":MM[:SS[.ffffff]]" with colons throughout, or "MM[SS[.ffffff]]" without.
_OFFSET = (
    r"^([+-])([0-9]{2})(?::([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,6}))?)?"
    r"|([0-9]{2})(?:([0-9]{2})(?:\.([0-9]{1,6}))?)?)$"
)


@dataclass(frozen=True)
class DateRule:
    """How a column's text becomes a date: formats and the rules that fill gaps."""

    formats: tuple[DateFormat, ...]
    century_pivot: int | None = None
    century_from: str | None = None
    timezone: str | None = None

    @classmethod
    def of(
        cls,
        formats: list[str],
        century_pivot: int | None = None,
        century_from: str | None = None,
        timezone: str | None = None,
    ) -> DateRule:
        compiled = tuple(compile_format(f) for f in formats)
        return cls(compiled, century_pivot, century_from, timezone)


def _int(name: str) -> pl.Expr:
    # Only %d may carry a space (" 5"); the other groups are bare digits.
    col = pl.col(name).str.strip_chars() if name == "d_" else pl.col(name)
    return col.cast(pl.Int32, strict=False)


def _year(fmt: DateFormat, rule: DateRule, has_ref: bool) -> pl.Expr:
    if "Y" in fmt.directives:
        return _int("Y_")
    if "y" not in fmt.directives:
        return pl.lit(1900, pl.Int32)  # Python's default year
    yy = _int("y_")
    if rule.century_from is not None and has_ref:
        # The year ending in `yy` nearest the reference year: 1999 and "00" -> 2000.
        ref = pl.col(REF).cast(pl.String).str.strip_chars().str.slice(0, 4)
        ref_year = pl.when(ref.str.contains(r"^[0-9]{4}$")).then(ref.cast(pl.Int32))
        step = (yy - ref_year % 100 + 100) % 100
        return ref_year + pl.when(step >= 50).then(step - 100).otherwise(step)
    if rule.century_pivot is not None:
        pivot = rule.century_pivot
        return pivot + (yy - pivot % 100 + 100) % 100
    return pl.when(yy <= 68).then(yy + 2000).otherwise(yy + 1900)


def _month(fmt: DateFormat) -> pl.Expr:
    if "m" in fmt.directives:
        return _int("m_")
    for d in ("B", "b"):
        if d in fmt.directives:
            names = pl.col(f"{d}_").str.to_lowercase()
            return names.replace_strict(MONTH_NUMBERS, default=None, return_dtype=pl.Int32)
    return pl.lit(1, pl.Int32)


def _hour(fmt: DateFormat) -> pl.Expr:
    if "H" in fmt.directives:
        return _int("H_")
    if "I" not in fmt.directives:
        return pl.lit(0, pl.Int32)
    hour = _int("I_")
    pm = pl.col("p_").str.to_lowercase() == "pm" if "p" in fmt.directives else pl.lit(False)
    # As Python: 12 AM is 0 h, 12 PM is 12 h; %I without %p is AM.
    return pl.when(pm.fill_null(False)).then(hour % 12 + 12).otherwise(hour % 12)


def _or(fmt: DateFormat, d: str, default: int) -> pl.Expr:
    return _int(f"{d}_") if d in fmt.directives else pl.lit(default, pl.Int32)


def _days_in_month(year: pl.Expr, month: pl.Expr) -> pl.Expr:
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    return (
        pl.when(month == 2)
        .then(pl.when(leap).then(29).otherwise(28))
        .when(month.is_in([4, 6, 9, 11]))
        .then(30)
        .otherwise(31)
    )


def _offset_us(fmt: DateFormat) -> tuple[pl.Expr, pl.Expr]:
    """(microseconds east of UTC, valid) of the %z group, with Python's colon rules."""
    if not fmt.zoned:
        return pl.lit(0, pl.Int64), pl.lit(True)
    z = pl.col("z_")
    g = z.str.extract_groups(_OFFSET)

    def part(colon: str, plain: str) -> pl.Expr:
        return pl.coalesce(g.struct.field(colon), g.struct.field(plain)).cast(pl.Int64)

    hours = g.struct.field("2").cast(pl.Int64)
    minutes = part("3", "6")
    seconds = part("4", "7").fill_null(0)
    fraction = pl.coalesce(g.struct.field("5"), g.struct.field("8"))
    micro = fraction.str.pad_end(6, "0").cast(pl.Int64).fill_null(0)
    total = ((hours * 60 + minutes) * 60 + seconds) * 1_000_000 + micro
    signed = pl.when(g.struct.field("1") == "-").then(-total).otherwise(total)
    is_z = z == "Z"
    value = pl.when(is_z).then(pl.lit(0, pl.Int64)).otherwise(signed)
    # Python refuses an offset of a day or more, and colons used in one place only.
    valid = is_z | (hours.is_not_null() & (total < 86_400_000_000))
    return value, valid.fill_null(False)


def _days_from_civil(year: pl.Expr, month: pl.Expr, day: pl.Expr) -> pl.Expr:
    """Days since 1970-01-01 of a valid proleptic Gregorian date, in integer arithmetic.

    H. Hinnant's algorithm: far cheaper than Polars' date constructor, and exact.
    """
    y = (year - (month <= 2).cast(pl.Int64)).cast(pl.Int64)
    era = y // 400
    yoe = y - era * 400
    mp = (month + 9) % 12  # March = 0
    doy = (153 * mp + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468


def parse_one(
    data: pl.DataFrame, fmt: DateFormat, rule: DateRule, to: Literal["date", "datetime"]
) -> pl.Series:
    """``data[TEXT]`` (and ``data[REF]``) parsed with one format; null where Python refuses."""
    text = data.get_column(TEXT)
    groups = text.str.extract_groups(fmt.regex).struct.unnest()
    if REF in data.columns:
        groups = groups.with_columns(data.get_column(REF).alias(REF))
    # Stage by stage, so each part is computed once (an expression used twice is not).
    # A date is read as Python reads the whole value: its time must be valid too.
    micro = pl.col("f_").str.pad_end(6, "0").cast(pl.Int64) if "f" in fmt.directives else 0
    offset, offset_ok = _offset_us(fmt)
    parts = [
        (pl.col("rest") == "").alias("_done"),
        _year(fmt, rule, REF in data.columns).cast(pl.Int64).alias("_y"),
        _month(fmt).cast(pl.Int64).alias("_m"),
        _or(fmt, "d", 1).cast(pl.Int64).alias("_d"),
        _hour(fmt).cast(pl.Int64).alias("_H"),
        _or(fmt, "M", 0).cast(pl.Int64).alias("_M"),
        _or(fmt, "S", 0).cast(pl.Int64).alias("_S"),
        pl.lit(micro, pl.Int64).alias("_f") if isinstance(micro, int) else micro.alias("_f"),
        offset.alias("_z"),
        offset_ok.alias("_zok"),
    ]
    y, m, d = pl.col("_y"), pl.col("_m"), pl.col("_d")
    valid = pl.col("_done") & y.is_between(1, 9999) & m.is_between(1, 12)
    valid = valid & d.is_between(1, 31) & (d <= _days_in_month(y, m))
    valid = valid & (pl.col("_S") <= 59) & pl.col("_zok")
    staged = groups.select(parts).with_columns(valid.fill_null(False).alias("_ok"))
    days = pl.when(pl.col("_ok")).then(_days_from_civil(y, m, d))
    if to == "date":
        # Python's .date(): the local date, whatever the offset
        value = days.cast(pl.Int32).cast(pl.Date)
    else:
        seconds = days * 86_400 + pl.col("_H") * 3600 + pl.col("_M") * 60 + pl.col("_S")
        micros = seconds * 1_000_000 + pl.col("_f")
        if fmt.zoned:
            micros = micros - pl.col("_z")
        value = _zone(micros.cast(pl.Datetime("us")), fmt, rule)
    if to == "datetime":
        # An offset can move year 1 or 9999 out of the range Python's datetime holds.
        value = pl.when(value.is_between(*_HELD["datetime"])).then(value)
    return staged.select(value.alias(text.name)).to_series()


#: The first and last value Python's date and (UTC) datetime hold: years 1 to 9999.
#: Compared as they are stored, where taking each value's year cost 17 ms per 1M dates
#: (0.4 ms compared).
_HELD: dict[str, tuple[date | datetime, date | datetime]] = {
    "date": (date.min, date.max),
    "datetime": (datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)),
}


def _zone(local: pl.Expr, fmt: DateFormat, rule: DateRule) -> pl.Expr:
    """A naive datetime from ``fmt`` as UTC: already UTC if zoned, else in the rule's zone."""
    if fmt.zoned:
        return local.dt.replace_time_zone("UTC")
    if rule.timezone and rule.timezone != "UTC":
        zoned = local.dt.replace_time_zone(rule.timezone, ambiguous="earliest", non_existent="null")
        return zoned.dt.convert_time_zone("UTC")
    return local.dt.replace_time_zone("UTC")


def _fast(text: pl.Series, fmt: DateFormat, rule: DateRule, to: str) -> pl.Series:
    """chrono's reading of values that passed ``fmt.full``; null where it could not.

    Only for formats where chrono reads what Python reads or nothing (see
    :func:`sluice.dateformat._chrono`); its nulls go on to the exact path.
    """
    assert fmt.chrono is not None
    if to == "date" and not fmt.directives & _TIME:
        value = text.str.strptime(pl.Date, fmt.chrono, strict=False, exact=True)
    elif to == "date":
        naive = text.str.strptime(pl.Datetime("us"), fmt.chrono, strict=False, exact=True)
        value = naive.dt.date()
    elif fmt.zoned:
        value = text.str.strptime(pl.Datetime("us", "UTC"), fmt.chrono, strict=False, exact=True)
    else:
        local = text.str.strptime(pl.Datetime("us"), fmt.chrono, strict=False, exact=True)
        value = pl.select(_zone(pl.lit(local), fmt, rule)).to_series()
    # chrono takes year 0, which Python refuses (and a UTC instant must be in 1-9999).
    if "Y" in fmt.directives or fmt.zoned:
        outside = ~value.is_between(*_HELD[to])
        if outside.any():
            value = value.set(outside, None)
    return value


#: Directives that carry a time of day (a date format without them parses straight
#: to a date).
_TIME = frozenset("HIMSfpz")
#: Directives Python reads the same everywhere (no locale): values of these formats
#: that chrono could not read may be handed to Python's own strptime.
_PLAIN = frozenset("YmdHMSfzyI")
#: At most this many values go to Python's strptime one by one; more take the
#: vectorised exact path, whose fixed cost (~3 ms) is less than theirs.
PYTHON_AT_MOST = 200


def _python_reads(fmt: DateFormat, rule: DateRule, to: str) -> bool:
    """Python's strptime makes of this format's values exactly what sluice stores."""
    if not fmt.directives <= _PLAIN:
        return False  # month and day names, AM/PM: Python's depend on the locale
    if fmt.two_digit_year and (rule.century_pivot is not None or rule.century_from):
        return False
    zone = rule.timezone
    return to == "date" or fmt.zoned or not zone or zone == "UTC"


def _python(text: pl.Series, fmt: DateFormat, to: str, dtype: pl.DataType) -> pl.Series:
    """Each value as Python's own ``strptime`` reads it (see :func:`_python_reads`)."""
    out: list[date | datetime | None] = []
    for value in text:
        try:
            moment = datetime.strptime(value, fmt.text)
            if to == "date":
                out.append(moment.date())  # the local date, whatever the offset
            elif moment.tzinfo is None:
                out.append(moment.replace(tzinfo=UTC))
            else:
                out.append(moment.astimezone(UTC))
        except (ValueError, OverflowError):  # refused, or out of 1-9999 in UTC
            out.append(None)
    return pl.Series(text.name, out, dtype=dtype)


def _matching(text: pl.Series, todo: pl.Series | None, pattern: str) -> pl.Series:
    """``todo`` (None: every value, none null) where ``text`` matches ``pattern``. When a
    format before read most values, only the few left are tested: a regex over every
    value cost as much as chrono's reading of them."""
    if todo is None:
        return text.str.contains(pattern)
    left = todo.sum()
    if left * 4 >= len(text):
        return todo & text.str.contains(pattern)
    where = todo.arg_true()
    hits = where.filter(text.gather(where).str.contains(pattern))
    return repeated(False, len(text), pl.Boolean()).scatter(hits, True)


def parse(data: pl.DataFrame, rule: DateRule, to: Literal["date", "datetime"]) -> pl.Series:
    """Each value parsed with the first of the rule's formats that Python would accept.

    A later format only sees the values the earlier ones left unparsed, and a format
    only looks at the values a cheap whole-value match lets through: a column in one
    format costs one pass, however many formats are listed. Where chrono is known to
    agree with Python it reads those values; what it leaves goes the exact way: a few
    values (typically impossible days, 02/30) to Python's strptime itself, many to
    :func:`parse_one`.
    """
    text = data.get_column(TEXT)
    dtype = pl.Date() if to == "date" else pl.Datetime("us", "UTC")
    out = repeated(None, len(text), dtype, text.name)
    # The values no format has read yet, None while that is all of them and none is
    # null. Null counts stand in for masks where they can: each mask is a query
    # (~0.1 CPU-ms), and most batches' dates are all read by one format.
    todo = text.is_not_null() if text.null_count() else None
    for fmt in rule.formats:
        candidates = _matching(text, todo, fmt.full)
        count = candidates.sum()
        if not count:
            continue
        every = count == len(text)
        # Dates from zoned formats are local dates: chrono would not parse them without
        # the offset, so they go the exact way.
        if fmt.chrono is not None and not (to == "date" and fmt.zoned):
            if every:  # the usual case: one format, no empty values
                out = _fast(text, fmt, rule, to).alias(text.name)
            elif count * 4 >= len(text):
                # Most values: chrono reads them all, its reading kept where the regex
                # let a value through (gathering them and scattering back was 0.024
                # CPU-s more per 1M dates with a few empty or bad ones).
                out = out.zip_with(~candidates, _fast(text, fmt, rule, to))
            else:
                where = candidates.arg_true()
                out = out.scatter(where, _fast(text.gather(where), fmt, rule, to))
            if out.null_count():
                candidates = candidates & out.is_null()
                count = candidates.sum()
            else:  # chrono read every value
                count = 0
            every = count == len(text)
        if not count:
            pass
        elif count <= PYTHON_AT_MOST and _python_reads(fmt, rule, to):
            where = candidates.arg_true()
            out = out.scatter(where, _python(text.gather(where), fmt, to, dtype))
        elif every:
            out = parse_one(data, fmt, rule, to)
        else:
            rest = parse_one(data.filter(candidates), fmt, rule, to)
            out = out.scatter(candidates.arg_true(), rest)
        if not out.null_count():
            break
        todo = out.is_null() if todo is None else todo & out.is_null()
        if not todo.any():
            break
    return out


def _day_month_twins(formats: tuple[DateFormat, ...]) -> list[tuple[str, str]]:
    """Pairs of formats, in the order listed, that differ only in where the day and the
    month go (``%m/%d/%Y`` and ``%d/%m/%Y``): both read ``01/02/2024``, differently, and
    the first listed wins. A column mixing files of both orders reads each such value
    the first way, so the report says so."""
    texts = [f.text for f in formats]
    pairs = []
    for i, a in enumerate(texts):
        if "%d" not in a or "%m" not in a:
            continue
        twin = a.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")
        pairs += [(a, b) for b in texts[i + 1 :] if b == twin]
    return pairs


def _example(fmt: str) -> str:
    """``fmt`` writing the 2nd of January 2024 (1 February the other way)."""
    return datetime(2024, 1, 2).strftime(fmt)


def rules_of(name: str, rule: DateRule, to: str) -> list[str]:
    """The value-changing rules this column applies, as sentences for the run report."""
    out: list[str] = []
    if any(f.two_digit_year for f in rule.formats):
        if rule.century_from:
            how = f"the century from column {rule.century_from} (nearest year)"
        elif rule.century_pivot is not None:
            how = f"years {rule.century_pivot}-{rule.century_pivot + 99}"
        else:
            how = "Python's rule: 00-68 -> 2000-2068, 69-99 -> 1969-1999"
        out.append(f"{name}: two-digit years (%y) read as {how}")
    if to == "datetime" and not all(f.zoned for f in rule.formats):
        zone = rule.timezone or "UTC"
        out.append(f"{name}: times without an offset read as {zone}")
    for first, then in _day_month_twins(rule.formats):
        out.append(
            f"{name}: a value both {first!r} and {then!r} read (a day of 1-12, as in "
            f"{_example(first)}) is read by {first!r}, the first listed"
        )
    timed = [f.text for f in rule.formats if f.directives & _TIME]
    if to == "date" and timed:
        said = ", ".join(repr(t) for t in timed)
        out.append(f"{name}: a date; the time of day its format reads is dropped ({said})")
    return out


__all__ = ["DateRule", "parse", "parse_one", "rules_of"]
