"""Casting text to declared types as Polars expressions, with the reason a value failed.

A cast never turns a bad value into a silent null: :func:`cast` returns the typed
value and an expression that is a readable reason where the input was present but
could not be converted, for the row's quarantine entry.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from datetime import date, time
from decimal import ROUND_DOWN, Context, InvalidOperation
from decimal import Decimal as DecimalValue
from typing import Literal, Protocol

import polars as pl

from sluice.dateformat import EPOCH_FORMATS
from sluice.dtypes import POLARS_TYPES, json_text, repeated
from sluice.schema import Narrow
from sluice.transforms.date_hints import format_note
from sluice.transforms.dates import REF, TEXT, DateRule
from sluice.transforms.dates import parse as parse_dates
from sluice.transforms.zone_names import zone_note

#: Formats tried in order when a column names none: ISO 8601, with or without a
#: fraction and an offset (``Z`` counts as one), as Python's strptime writes them.
DEFAULT_FORMATS = {
    "date": ["%Y-%m-%d"],
    "datetime": [
        "%Y-%m-%dT%H:%M:%S.%f%z",
        "%Y-%m-%dT%H:%M:%S%z",
        "%Y-%m-%dT%H:%M:%S.%f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S.%f%z",
        "%Y-%m-%d %H:%M:%S%z",
        "%Y-%m-%d %H:%M:%S.%f",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d",
    ],
}
# As PostgreSQL reads a boolean's text (its `on` and `off` too: forms' and devices'
# exports write them).
TRUE = ["true", "t", "yes", "y", "on", "1"]
FALSE = ["false", "f", "no", "n", "off", "0"]


EPOCHS: dict[str, Literal["s", "ms", "us"]] = {"epoch_s": "s", "epoch_ms": "ms", "epoch_us": "us"}


class DateSpec(Protocol):
    """What a column or a cast step says about reading dates (see :mod:`.dates`)."""

    @property
    def formats(self) -> list[str] | None: ...
    @property
    def century_pivot(self) -> int | None: ...
    @property
    def century_from(self) -> str | None: ...
    @property
    def timezone(self) -> str | None: ...


@dataclass(frozen=True)
class DateOptions:
    """A :class:`DateSpec` made in code (the ``utc`` step has no ``timezone``)."""

    formats: list[str] | None = None
    century_pivot: int | None = None
    century_from: str | None = None
    timezone: str | None = None


#: Excel's day numbers: whole days (1 is 1900-01-01), a fraction for the time of day
_EXCEL = r"^([0-9]{1,7})(?:\.([0-9]*))?$"
#: 9999-12-31, Excel's last day
_EXCEL_LAST = 2_958_465


def _excel(text: pl.Series, to: str, zone: str | None) -> pl.Series:
    """Excel's day numbers (its 1900 date system, every Windows workbook's) as dates or
    UTC datetimes. Excel counts 1900-02-29, a day that never was: 60 is refused, and
    the days before it count from 1899-12-31, the rest from 1899-12-30. A time of day is
    rounded to the millisecond, as Excel shows it; a date takes whole days only."""
    parts = pl.DataFrame(text.str.strip_chars().str.extract_groups(_EXCEL).struct.unnest())
    whole = pl.col("1").cast(pl.Int64, strict=False)
    whole = pl.when((whole >= 1) & (whole != 60) & (whole <= _EXCEL_LAST)).then(whole)
    days = pl.when(whole < 60).then(whole + 1).otherwise(whole)
    day = pl.lit(date(1899, 12, 30)) + pl.duration(days=days)
    fraction = pl.col("2").fill_null("")
    if to == "date":
        return parts.select(pl.when(fraction.str.contains(r"^0*$")).then(day)).to_series()
    # twelve digits of the fraction: a day's 86,400,000 ms, rounded to the nearest
    twelve = fraction.str.slice(0, 12).str.pad_end(12, "0").cast(pl.Int64)
    ms = (twelve * 864 + 5_000_000) // 10_000_000
    local = parts.select(day.cast(pl.Datetime("us")) + pl.duration(milliseconds=ms)).to_series()
    zoned = local.dt.replace_time_zone(zone or "UTC", ambiguous="earliest", non_existent="null")
    return zoned.dt.convert_time_zone("UTC").cast(POLARS_TYPES["datetime"])


def _epoch(text: pl.Series, fmt: str) -> pl.Series:
    """Numbers since 1970 (APIs love epoch milliseconds) as UTC datetimes."""
    number = text.str.strip_chars().cast(pl.Int64, strict=False)
    unit = EPOCHS[fmt]
    # Years 1-9999 only, as strptime reads them: milliseconds read as seconds made
    # year 55,841, which PostgreSQL stores and no reader expects.
    low, high = _EPOCH_RANGE[unit]
    number = number.set(((number < low) | (number > high)).fill_null(False), None)
    return pl.from_epoch(number, time_unit=unit).dt.replace_time_zone("UTC")


#: the numbers since 1970 of 0001-01-01 and 9999-12-31 23:59:59.999999, per unit
_EPOCH_RANGE: dict[str, tuple[int, int]] = {
    unit: (-62_135_596_800 * per, 253_402_300_800 * per - 1)
    for unit, per in (("s", 1), ("ms", 1_000), ("us", 1_000_000))
}


def _dates(
    data: pl.DataFrame, formats: list[str], spec: DateSpec | None, to: Literal["date", "datetime"]
) -> pl.Series:
    """Text (and the century column) -> dates: epoch formats first, then strptime ones."""
    text = data.get_column(TEXT)
    epochs = [f for f in formats if f in EPOCHS]
    excel = "excel" in formats
    rule = DateRule.of(
        [f for f in formats if f not in EPOCH_FORMATS],
        century_pivot=spec.century_pivot if spec else None,
        century_from=spec.century_from if spec else None,
        timezone=spec.timezone if spec else None,
    )
    dtype = pl.Date() if to == "date" else POLARS_TYPES["datetime"]
    out = repeated(None, len(text), dtype, text.name)
    zone = spec.timezone if spec else None
    for fmt in epochs:
        value = _epoch(text, fmt)
        out = out.fill_null(value.dt.date() if to == "date" else value)
    # In the order listed: `excel` first reads the numbers before any other format does;
    # after them, only what they left (240102 is `%y%m%d` before it is a day number).
    if excel and formats[0] == "excel":
        out = out.fill_null(_excel(text, to, zone))
    if rule.formats:
        # Most columns hold no epoch and no null: every value is left to the formats,
        # known from the null counts without two masks (two queries, ~0.2 CPU-ms).
        if out.null_count() == len(out) and not text.null_count():
            out = parse_dates(data, rule, to)
        else:
            todo = out.is_null() & text.is_not_null()
            if todo.all():
                out = parse_dates(data, rule, to)
            elif todo.any():
                out = out.scatter(todo.arg_true(), parse_dates(data.filter(todo), rule, to))
    if excel and formats[0] != "excel":
        out = out.fill_null(_excel(text, to, zone))
    return out.alias(text.name)


def _items(text: pl.Series, separator: str) -> pl.Series:
    """``"a, b"`` -> ``["a", "b"]``; a JSON array (``'["a","b"]'``) is read as JSON.

    Blank items are dropped, so ``""`` is the empty list; null stays null.
    """
    is_json = text.str.starts_with("[").fill_null(False)
    index = pl.int_range(0, len(text), eager=True)
    split = (
        text.filter(~is_json)
        .str.split(separator)
        .list.eval(pl.element().str.strip_chars())
        .list.eval(pl.element().filter(pl.element().str.len_chars() > 0))
    )
    parts = [pl.DataFrame({"i": index.filter(~is_json), "v": split})]
    if is_json.any():
        arrays = text.filter(is_json)
        try:
            decoded = arrays.str.json_decode(pl.List(pl.String))
        except pl.exceptions.PolarsError:  # one bad array: value by value, bad ones null
            decoded = pl.Series([_json_list(v) for v in arrays], dtype=pl.List(pl.String))
        parts.append(pl.DataFrame({"i": index.filter(is_json), "v": decoded}))
    return pl.concat(parts).sort("i").get_column("v").alias(text.name)


def _json_list(value: str) -> list[str] | None:
    try:
        parsed = json.loads(value)
    except ValueError:
        return None
    return [str(v) for v in parsed] if isinstance(parsed, list) else None


def cast_value(
    expr: pl.Expr,
    source: pl.DataType,
    to: str,
    spec: DateSpec | None = None,
    separator: str = ",",
    mark: DecimalMark = ".",
) -> pl.Expr:
    """``expr`` (of Polars type ``source``) as the declared type ``to``; null if it cannot be.

    ``mark``: how text writes a number's decimal mark (see :data:`DecimalMark`)."""
    target = POLARS_TYPES[to]
    if to == "list" and isinstance(source, pl.Struct):
        return pl.lit(None, dtype=target)  # an object is no list (its JSON split on commas)
    if not direct(source, to):
        # A typed value (Parquet) is read as its text would be: a number is no time
        # until the column's formats say how it counts (`epoch_ms`; cast directly it
        # was days or microseconds since 1970), a date is no number (it was its days
        # since 1970), and a category's or a byte string's text is what it holds
        # (Polars refused to cast those at all, a traceback).
        expr, source = textual(expr, source), pl.String()
    if to == "list":
        if isinstance(source, pl.List):
            return expr.cast(target, strict=False)
        return expr.map_batches(lambda s: _items(s, separator), return_dtype=target)
    if source != pl.String:
        if to == "string" and isinstance(source, (pl.Struct, pl.List, pl.Array)):
            return json_text(expr)
        if to == "string":
            return expr.cast(pl.String)
        if to == "date" and isinstance(source, pl.Datetime):
            # A time of day is dropped only where a text format reads one and says so
            # in the report: a typed time at midnight is a date, another is refused
            # (TIME_OF_DAY_NOTE) rather than cut to its day without a word.
            return pl.when(expr.dt.time() == pl.lit(time(0))).then(expr.dt.date())
        if to == "datetime" and isinstance(source, pl.Datetime):
            kept = _typed_datetime(expr, source, spec)
            if source.time_unit != "ns":
                return kept
            # Every warehouse keeps microseconds: a finer digit would be cut off silently.
            return pl.when(expr.dt.nanosecond() % 1000 == 0).then(kept)
        if isinstance(target, pl.Decimal) and (source.is_float() or isinstance(source, pl.Decimal)):
            return expr.map_batches(
                functools.partial(_from_typed, target=target), return_dtype=target
            )
        if to == "boolean" and source.is_numeric():
            # 1 and 0 only, as text reads them: a cast made every other number true.
            return pl.when((expr == 0) | (expr == 1)).then(expr == 1)
        value = expr.cast(target, strict=False)
        if target.is_float():  # NaN and infinities in a typed source (Parquet)
            return pl.when(value.is_finite()).then(value)
        if to == "integer" and (source.is_float() or isinstance(source, pl.Decimal)):
            # A whole number only, as text reads them: a cast cut 1.5 to 1 and -0.5 to 0.
            return pl.when(value.cast(source) == expr).then(value)
        return value
    text = expr.str.strip_chars()
    if to == "string":
        return expr
    if to in ("date", "datetime"):
        fmts = (spec.formats if spec else None) or DEFAULT_FORMATS[to]
        inputs = [text.alias(TEXT)]
        if spec is not None and spec.century_from is not None:
            inputs.append(pl.col(spec.century_from).cast(pl.String).alias(REF))
        kind: Literal["date", "datetime"] = "date" if to == "date" else "datetime"
        return pl.struct(inputs).map_batches(
            lambda s: _dates(s.struct.unnest(), fmts, spec, kind), return_dtype=target
        )
    if to == "boolean":
        lower = text.str.to_lowercase()
        return (
            pl.when(lower.is_in(TRUE))
            .then(True)
            .when(lower.is_in(FALSE))
            .then(False)
            .otherwise(None)
        )
    if to in ("integer", "float", "decimal"):
        return expr.map_batches(
            functools.partial(_number, target=target, integer=to == "integer", mark=mark),
            return_dtype=target,
        )
    raise ValueError(f"unknown type {to}")


def direct(source: pl.DataType, to: str) -> bool:
    """Whether a value of Polars type ``source`` is cast to the declared type ``to`` as
    it is typed, rather than read from its text (:func:`textual`)."""
    if source == pl.String:
        return True
    if to == "string":
        return not isinstance(source, (pl.Duration, pl.Binary, pl.Categorical, pl.Enum))
    if to == "list":
        return isinstance(source, pl.List)
    if to in ("date", "datetime"):
        return isinstance(source, (pl.Date, pl.Datetime))
    if to == "boolean":
        return source == pl.Boolean or source.is_numeric()
    return source.is_numeric()  # integer, float, decimal


def textual(expr: pl.Expr, source: pl.DataType) -> pl.Expr:
    """A typed value as text: nested values as JSON, a duration in ISO 8601 (``P1D``),
    a byte string as UTF-8 (null if it is not), anything else as Polars writes it."""
    if source == pl.String:
        return expr
    if isinstance(source, (pl.Struct, pl.List, pl.Array)):
        return json_text(expr)
    if isinstance(source, pl.Duration):
        return expr.dt.to_string("iso")
    if isinstance(source, pl.Binary):  # Polars' cast fails on bytes that are not UTF-8
        return expr.map_batches(_utf8, return_dtype=pl.String)
    return expr.cast(pl.String, strict=False)


def _utf8(raw: pl.Series) -> pl.Series:
    def text(b: bytes | None) -> str | None:
        try:
            return None if b is None else b.decode("utf-8")
        except UnicodeDecodeError:
            return None

    return pl.Series(raw.name, [text(b) for b in raw.to_list()], dtype=pl.String)


def _typed_datetime(expr: pl.Expr, source: pl.Datetime, spec: DateSpec | None) -> pl.Expr:
    """A typed source's time (Parquet, JSON Lines) as a UTC datetime in microseconds."""
    if source.time_zone is not None:
        return expr.cast(POLARS_TYPES["datetime"], strict=False)
    # A naive time from a typed source is in the column's zone.
    zone = (spec.timezone if spec else None) or "UTC"
    local = expr.cast(pl.Datetime("us"))
    zoned = local.dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null")
    return zoned.dt.convert_time_zone("UTC")


#: added to the reason of a number refused as a date or time (typed, or text of digits)
EPOCH_NOTE = (
    "; a number is read as a time only by the column's formats: epoch_s, epoch_ms or "
    "epoch_us for seconds, milliseconds or microseconds since 1970, excel for Excel's day "
    "numbers (45292 is 2024-01-01)"
)
#: added to the reason of a time refused for digits past the microsecond
NANOSECONDS_NOTE = (
    "; it has digits past the microsecond, which no warehouse keeps: where they may go, "
    'cut them first with the step derive: {{column: {name}, sql: "regexp_replace(cast('
    "{name} as varchar), '([.][0-9]{{6}})[0-9]+', '\\\\1')\"}}, then `sluice quarantine "
    "replay`"
)
#: a time of day written with more than six digits of a second (``10:00:00.123456789``)
NANOSECONDS_TEXT = r"[0-9]:[0-9]{2}[.][0-9]{7,}"
#: added to the reason of a typed time (Parquet) refused as a date for its time of day
TIME_OF_DAY_NOTE = (
    "; it has a time of day, which a date column would drop: to keep its day, cut the "
    'time first with the step derive: {{column: {name}, sql: "left(cast({name} as varchar), '
    '10)"}}, then `sluice quarantine replay`'
)
#: ``1.0`` and ``0.0``: a boolean column with a missing value, as pandas writes it (the
#: column became floats)
FLOAT_BOOLEAN = r"^[01]\.0+$"
#: added to the reason of a boolean refused as :data:`FLOAT_BOOLEAN`
FLOAT_BOOLEAN_NOTE = (
    "; 1.0 and 0.0 are how pandas writes a boolean column that has missing values: to "
    'read them as 1 and 0, add the step derive: {{column: {name}, sql: "regexp_replace('
    "{name}, '^([01])[.]0+$', '\\\\1')\"}}, then `sluice quarantine replay`"
)
#: a ticked box, as forms and spreadsheets export one: ``x``, a check mark
TICKS = ["x", "\u2713", "\u2714", "\u2611"]
#: added to the reason of a boolean refused as one of :data:`TICKS`
TICK_NOTE = (
    "; it reads as a ticked box: to load ticks as true, add the step derive: {{column: "
    '{name}, sql: "case when lower(trim({name})) in ('
    + ", ".join(f"'{t}'" for t in TICKS)
    + ") then 'true' else {name} end\"}}, then `sluice quarantine replay` (an empty box "
    "stays null)"
)
#: added to the reason of any other boolean refused
BOOLEAN_WORDS_NOTE = (
    "; a boolean reads " + ", ".join(TRUE) + " and " + ", ".join(FALSE) + ", in any case"
)
#: A time whose offset is whole hours, as PostgreSQL writes ``timestamptz`` as text
#: (``2024-01-05 10:00:00+00``, ``...+05:30`` only where it needs the minutes): Python's
#: ``%z`` takes ``+0000`` or ``+00:00``, not ``+00``.
HOURS_OFFSET = r"[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?[+-][0-9]{2}$"
#: added to the reason of a datetime refused as :data:`HOURS_OFFSET`; the backslashes
#: are YAML's, in the double quotes the step is pasted in (SQL gets ``\1``)
HOURS_OFFSET_NOTE = (
    "; its offset is whole hours ('+00', as PostgreSQL writes it), which %z does not read: "
    'to write it as +00:00, add the step derive: {{column: {name}, sql: "regexp_replace('
    "{name}, '([+-][0-9]{{2}})$', '\\\\1:00')\"}}, then `sluice quarantine replay`"
)
#: A time that names its zone UTC or GMT after it (``2024-01-05 10:00:00 UTC``, as
#: BigQuery's exports write a TIMESTAMP): Python's ``%z`` reads offsets, not names.
ZONE_NAMED = r"[0-9]:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)? ?(?:UTC|GMT)$"
#: added to the reason of a datetime refused as :data:`ZONE_NAMED`
ZONE_NAMED_NOTE = (
    "; it names its zone (UTC, as BigQuery's exports write times), which %z does not "
    'read: to write it as +00:00, add the step derive: {{column: {name}, sql: "'
    "regexp_replace({name}, ' ?(UTC|GMT)$', '+00:00')\"}}, then `sluice quarantine replay`"
)
#: How a source's text writes a number's decimal mark: ``"."`` (``1,234.5``), ``","``
#: (``1.234,5``, as spreadsheets write where the comma is the decimal mark), or
#: ``"unstated"``: a point, in a file whose delimiter (``;``) is the one such
#: spreadsheets write, so a comma that may be either (``1,234``) is refused.
DecimalMark = Literal[".", ",", "unstated"]
#: A number whose commas group its digits by thousands (``1,234``, ``-1,234,567.5``):
#: the only commas a number may hold. ``12,5`` and ``1.234,56`` (a decimal comma) are
#: no numbers here: taking their commas out made them 125 and 1.23456. Spaces group
#: thousands as well (``1 234.5``, as ISO 80000 and French or Swiss exports write them,
#: often with a no-break space): a space is never a decimal mark.
THOUSANDS = r"^[+-]?[0-9]{1,3}(?:(?:,[0-9]{3})+|(?:[ \u00a0\u202f][0-9]{3})+)(?:\.[0-9]*)?$"
#: what groups the digits of :data:`THOUSANDS`: a comma, a space, a no-break space
GROUPING = "[, \u00a0\u202f]"
#: added to the reason of a number refused with a comma in it
COMMA_NOTE = (
    "; a comma only separates thousands (1,234.5) unless the file is read with a decimal "
    "comma: set its source's csv.decimal: ',' (a CSV source), then `sluice quarantine replay`"
)
#: One comma before three digits and no point (``1,234``): 1234 where the comma groups
#: thousands, 1.234 where it is the decimal mark. Refused where the mark is unstated.
EITHER_WAY = r"^[+-]?[0-9]{1,3},[0-9]{3}$"
#: added to the reason of a number refused as :data:`EITHER_WAY`
EITHER_WAY_NOTE = (
    "; in a file delimited by ';' a comma may be the decimal mark (1,234 as 1.234) as "
    "well as a thousands separator (1234), so it is not read as either: state which "
    "in the source's csv.decimal ('.' or ','), then `sluice quarantine replay`"
)
#: A number written with a decimal comma: digits, grouped by thousands with dots or
#: spaces or not at all (``1.234.567``, ``1 234``, ``1234``), then an optional comma and
#: fraction (``1.234,5``). Anything else is no number there: ``1.5`` is not 1.5.
COMMA_DECIMAL = (
    r"^[+-]?(?:[0-9]+|[0-9]{1,3}(?:\.[0-9]{3})+|[0-9]{1,3}(?:[ \u00a0\u202f][0-9]{3})+)"
    r"(?:,[0-9]+)?$"
)
#: added to the reason of a number refused in a source written with a decimal comma
COMMA_DECIMAL_NOTE = (
    "; this source writes numbers with a decimal comma (csv.decimal: ','), where a dot "
    "or a space only separates thousands (1.234,5)"
)
#: An integer written with dots between its thousands (``1.234``, ``5.000``), as
#: European exports write them. ``5.000`` reads as 5 with three decimal zeros as well
#: as 5000: it is refused, not guessed (it was stored as 5).
DOT_GROUPED = r"^[+-]?[1-9][0-9]{0,2}(?:\.[0-9]{3})+$"
#: values exports write for a missing one (compared trimmed, in any case)
NULL_MARKERS = [
    *("null", "n/a", "na", "none", "nil", "-", "--", "#n/a", "missing", "unknown", "?"),
    # MySQL's zero dates, as its exports (`SELECT ... INTO OUTFILE`, mysqldump) write them
    *("0000-00-00", "0000-00-00 00:00:00"),
    # a database's text export of NULL: MySQL's `SELECT ... INTO OUTFILE` and mysqldump
    # --tab, PostgreSQL's `COPY ... TO` in its text format (compared lower-cased)
    "\\n",
]
#: what statistical tables write in a number's place for one not available, withheld
#: or not applicable: Eurostat ``:``, ONS ``..``, ``x``, ``[c]``, ``[z]``, ``[low]``,
#: US Census and BLS ``(D)``, ``(X)``, ``(NA)``, ``S``, and a dash for nil. Said only of
#: number columns: in a boolean one ``x`` is a ticked box, no missing value.
STAT_MARKERS = [
    *(":", "..", "...", "x", "c", "z", "s", "~", "*", "**", ".", "\u2014", "\u2013"),
    *("[x]", "[c]", "[z]", "[u]", "[w]", "[low]", "(d)", "(x)", "(na)", "(s)", "(z)"),
    *("n.a.", "n/d", "nd", "n.d."),
]
#: added to the reason of a typed value refused that is such a marker
NULL_MARKER_NOTE = (
    "; where it marks a missing value, list it in the source's csv.null_values (a CSV "
    "source) or read it as null with a derive step (nullif), then `sluice quarantine replay`"
)
#: Money as exports write it, which only the ``amount`` step reads: a currency sign,
#: accounting parentheses, a K, M or B after the digits, or a minus (``$5``, ``5 €``,
#: ``(5.00)``, ``5.00-``)
MONEY = r"[$€£¥]|^\(.*[0-9].*\)$|[0-9.]\s*[HKMBhkmb]$|^[^-]*[0-9]\s*-$"
#: a percentage (``12.5%``, ``-3 %``)
PERCENT = r"^[+-]?[0-9][0-9.,]*\s*%$"
#: added to the reason of a number refused that is :data:`PERCENT`
PERCENT_NOTE = (
    "; it is a percentage: to load its number (12.5 for 12.5%), add the step derive: "
    "{{column: {name}, sql: \"replace({name}, '%', '')\"}}, then `sluice quarantine replay`"
)
#: a number with a mark after it: a footnote (``1234*``) or a status flag, as
#: statistical tables write them (ONS ``89 (p)`` provisional, Eurostat ``12.5 e``
#: estimated, ``7 bp``); the marks the ``derive`` step of :data:`FLAG_NOTE` takes off
FLAGGED = r"^[+-]?[0-9][0-9.,]*\s*(?:\([A-Za-z]{1,3}\)|\*{1,3}|[A-Za-z]{1,2})$"
#: added to the reason of a number refused that is :data:`FLAGGED`
FLAG_NOTE = (
    "; a mark follows the number (a footnote, or a status such as (p) for provisional): "
    "to load the number (keep the mark in a column of its own with a derive before, where "
    'it matters), add the step derive: {{column: {name}, sql: "regexp_replace({name}, '
    "'[ ]*([(][A-Za-z]{{1,3}}[)]|[*]{{1,3}}|[A-Za-z]{{1,2}})$', '')\"}}, then `sluice "
    "quarantine replay`"
)
#: added to the reason of a number refused that is :data:`MONEY`
MONEY_NOTE = (
    "; money text ($5, 5 €, (5.00), 5.00-, 10K) is read by the step amount: "
    "{{columns: [{name}]}}, then `sluice quarantine replay`"
)
#: Typographic minus signs: the minus sign (U+2212, as typeset tables and Wikipedia
#: write negative numbers) and the en dash (U+2013). ``\u22125`` looks like -5 but is no
#: number to Python's ``float`` or to a database; it is refused, and said why.
DASHES = "\u2212\u2013"
#: added to the reason of a number refused with a typographic minus in it (``where``:
#: where the step goes, for a step that reads the text itself)
DASH_NOTE = (
    "; its minus is a typographic sign ('\u2212' U+2212 or '\u2013' U+2013), not '-': to "
    'read it as one, add{where} the step derive: {{column: {name}, sql: "replace(replace({name}, '
    "'\u2212', '-'), '\u2013', '-')\"}}, then `sluice quarantine replay`"
)
#: added to the reason of an integer past a BIGINT's range
BIG_NOTE = (
    "; it is past what an integer column holds (-9223372036854775808 to "
    "9223372036854775807): such values need a decimal column, or a string one for an "
    "identifier, in a table made with it (a table's columns keep the type they were made with)"
)
#: added to the reason of an integer refused with dots between thousands
DOT_NOTE = (
    "; a dot may separate thousands here (5.000 as 5000), so it is not read as either; "
    "a CSV source's csv.decimal: ',' reads it as 5000"
)

#: A number as Excel writes it to a CSV from a General cell too narrow for its digits:
#: six significant digits at most, a capital E and a signed exponent (``1.23457E+11``)
EXCEL_ROUNDED = r"^-?[0-9](?:\.[0-9]{1,5})?E\+[0-9]{2}$"
#: added to the reason of an integer refused that is :data:`EXCEL_ROUNDED`: an account
#: or phone number, a barcode, whose digits the file lost (read as a float, it would
#: load as 123457000000, another number)
EXCEL_NOTE = (
    "; it is written as Excel saves a long number from a General cell, to 6 digits: the "
    "file has lost the rest of them. Format the column as Text (or Number, 0 decimals) in "
    "the sheet and save the CSV again, load its fixed lines (under append, only those, in "
    "a file of their own under the header) with `sluice run PIPELINE`, then `sluice "
    "quarantine discard ID`"
)


def _number(
    raw: pl.Series, target: pl.DataType, integer: bool, mark: DecimalMark = "."
) -> pl.Series:
    """Text to a number, as written (``12``, ``1.5e3``) or as exports write numbers.

    ``" 12 "``, ``"1,200"`` and, for integers, ``"12.0"`` are common in exports;
    ``"12.5"`` is not an integer, nor ``"12,5"`` a number (a decimal comma: it is
    refused, not read as 125). Integers are parsed as text, not through a float, so
    integers past 2**53 stay exact. Most values are plain: they are cast as they are,
    and only those that did not cast are cleaned and cast again. A value that casts as
    it is has no space, comma or trailing ``.0`` to clean, so both ways agree on it.
    Under a decimal comma (``mark`` ","), see :func:`_comma_number`.
    """
    if mark == ",":
        return _comma_number(raw, target, integer)
    value = raw.cast(target, strict=False)
    # A null casts to null: more nulls after the cast are values it missed. Counted
    # first, since most batches miss none (two masks are two queries, ~0.2 CPU-ms).
    if value.null_count() > raw.null_count():
        missed = value.is_null() & raw.is_not_null()
        where = missed.arg_true()
        text = raw.gather(where).str.strip_chars()
        grouped = text.str.contains(THOUSANDS)
        if mark == "unstated":
            grouped = grouped & ~text.str.contains(EITHER_WAY)
        text = text.str.replace_all(GROUPING, "").zip_with(grouped, text)
        if integer:
            dotted = text.str.contains(DOT_GROUPED)
            text = text.str.replace(r"\.0*$", "").set(dotted, None)
        value = value.scatter(where, text.cast(target, strict=False))
    return _as_written(raw, value, target)


def _comma_number(raw: pl.Series, target: pl.DataType, integer: bool) -> pl.Series:
    """Text written with a decimal comma (``1.234,5``, ``1 234,5``, ``-12,50``) to a
    number. The value is the text with its thousands separators taken out and its
    comma made a point; text of any other shape is no number (``1.5`` is neither 1.5
    nor 15), and an integer may end in ``,0``."""
    text = raw.str.strip_chars()
    shaped = text.str.contains(COMMA_DECIMAL).fill_null(False)
    plain = text.str.replace_all(r"[. \u00a0\u202f]", "").str.replace(",", ".", literal=True)
    if integer:
        plain = plain.str.replace(r"\.0*$", "")
    plain = plain.set(~shaped, None)
    return _as_written(plain, plain.cast(target, strict=False), target)


def _as_written(text: pl.Series, value: pl.Series, target: pl.DataType) -> pl.Series:
    """``value`` (``text`` cast to ``target``), null where the cast changed the number
    written: a decimal's places rounded away, a float's NaN, infinity or underflow."""
    if isinstance(target, pl.Decimal):
        return _unrounded(text, value, target.scale)
    if target.is_float():
        return _finite(text, value)
    return value


#: a float's text that is no number: NaN or an infinity, as Python and Polars read them
NOT_FINITE = r"(?i)^[+-]?(?:nan|inf|infinity)$"
#: added to the reason of a float refused as NaN or an infinity
NOT_FINITE_NOTE = (
    "; NaN and infinities are not stored (SQLite keeps NaN as NULL, MariaDB refuses "
    "both): where it marks a missing value, read it as null first with the step "
    "derive: {{column: {name}, sql: \"nullif(lower(cast({name} as varchar)), 'nan')\"}}"
)
#: the same, of a decimal (whose column holds no NaN on any warehouse)
NOT_FINITE_DECIMAL_NOTE = (
    "; NaN and infinities are no decimal: where it marks a missing value, read it as "
    "null first with the step "
    "derive: {{column: {name}, sql: \"nullif(lower(cast({name} as varchar)), 'nan')\"}}"
)
#: a number with more places after the point than a decimal column keeps (``{places}``
#: of them and more), as a double's text often has (``0.30000000000000004``, ``2.5e-7``;
#: a negative exponent is refused only for its places)
MORE_PLACES = r"^\s*[+-]?(?:[0-9]*\.[0-9]{{{places},}}|[0-9]*\.?[0-9]+[eE]-[0-9]+)\s*$"
#: whose places :data:`MORE_PLACES_NOTE` names, unless a table's column keeps fewer
DECIMAL_KEEPS = "a decimal column keeps"
#: added to the reason of a decimal refused for :data:`MORE_PLACES`. The step rounds only
#: what reads as a number (``try_cast``) and keeps the text of the rest, so it neither
#: fails a run nor turns another refused value into a null.
MORE_PLACES_NOTE = (
    "; it has more places after the point than the {scale} {keeps}: "
    "to load it rounded to {scale} (half to even), add the step derive: {{column: {name}, "
    'sql: "coalesce(cast(try_cast({name} as decimal(38, {scale})) as varchar), '
    'cast({name} as varchar))"}}, then `sluice quarantine replay`; '
    "or declare the column float, in a table made with it"
)
#: added to the reason of a float refused as out of range
OUT_OF_RANGE_NOTE = "; it is past what a float holds (magnitudes from 5e-324 to 1.8e308)"


def _finite(raw: pl.Series, value: pl.Series) -> pl.Series:
    """``value`` with null where the text is no finite number (NaN, ``inf``) or the
    cast changed it past rounding: ``1e309`` became infinity and ``1e-400`` 0. Every
    warehouse stores what is left as it was read (SQLite stored NaN as NULL)."""
    wrong = (~value.is_finite()).fill_null(False)
    zeros = (value == 0).fill_null(False).arg_true()
    if len(zeros):  # a zero whose mantissa has a non-zero digit was not written as one
        lost = raw.gather(zeros).str.contains(r"^[^eE]*[1-9]").fill_null(False)
        wrong = wrong.scatter(zeros.filter(lost), True)
    return value.set(wrong, None) if wrong.any() else value


def _from_typed(values: pl.Series, target: pl.Decimal) -> pl.Series:
    """A float or a finer decimal (Parquet) as a decimal column, refused as text is
    where it would be rounded. A float is read as its shortest text, the number it was
    written as (``1e20``, not the binary value 100000000000000004764.729344 that a
    direct cast makes of it)."""
    text = values.cast(pl.String)
    return _unrounded(text, text.cast(target, strict=False), target.scale)


#: A value that may have digits past the column's scale: a non-zero digit after the
#: first ``{scale}`` places, or an exponent. One pass finds the few; Python's decimal
#: decides each of them.
_MAYBE_PAST_SCALE = r"[eE]|\.[0-9]{{{scale}}}[0-9]*[1-9]"


def _unrounded(raw: pl.Series, value: pl.Series, scale: int) -> pl.Series:
    """``value`` with null where the cast rounded: a decimal column keeps ``scale``
    places, and Polars rounds the rest away (``0.1234567`` -> ``0.123457``) where a
    changed value must be refused, not stored. Trailing zeros are not digits lost."""
    maybe = value.is_not_null() & raw.str.contains(_MAYBE_PAST_SCALE.format(scale=scale))
    if not maybe.any():
        return value
    where = maybe.arg_true()
    step = DecimalValue(1).scaleb(-scale)
    lost = pl.Series([_loses(v, step) for v in raw.gather(where).to_list()], dtype=pl.Boolean)
    rounded = repeated(False, len(value), pl.Boolean()).scatter(where, lost)
    return value.set(rounded, None)


def _loses(text: str, step: DecimalValue) -> bool:
    """Whether ``text`` has digits finer than ``step`` (False if it is not a number)."""
    try:
        number = DecimalValue(re.sub(GROUPING, "", text.strip()))
        if not number.is_finite():
            return False
    except InvalidOperation:
        return False
    # A decimal column holds 38 digits: more than the default context's 28.
    cut = number.quantize(step, rounding=ROUND_DOWN, context=_WIDE)
    return number != cut


_WIDE = Context(prec=100)


def cast(
    name: str,
    source: pl.DataType,
    to: str,
    spec: DateSpec | None = None,
    separator: str = ",",
    mark: DecimalMark = ".",
) -> tuple[pl.Expr, pl.Expr]:
    """(typed value, reason where the value could not be cast else null) for column ``name``."""
    value = cast_value(pl.col(name), source, to, spec, separator, mark)
    return value, cast_reason(name, source, to, spec, value, mark, owner="cast step")


def cast_reason(
    name: str,
    source: pl.DataType,
    to: str,
    spec: DateSpec | None,
    value: pl.Expr,
    mark: DecimalMark = ".",
    owner: str = "column",
    narrow: Narrow | None = None,
) -> pl.Expr:
    """The reason column ``name`` (present) became the null ``value`` (its cast), else null.
    ``owner``: whose formats a date or time is read with (the column's, or a step's);
    ``narrow``: what the table's column keeps, where less than the declared type.

    ``value`` may be the cast itself or a column already holding its result: validation
    explains its few bad rows from the typed values it computed, without casting again.
    """
    col, typed_number, present = pl.col(name), source.is_numeric(), pl.col(name).is_not_null()
    nested = isinstance(source, (pl.Struct, pl.List, pl.Array))  # its text is JSON
    if not direct(source, to):  # read from its text, as cast_value reads it
        unreadable = pl.lit("<bytes that are not UTF-8>")
        col = textual(col, source)
        col = pl.coalesce(col, unreadable) if isinstance(source, pl.Binary) else col
        source = pl.String()
    what = f"a valid {to}"
    if to in ("date", "datetime") and source == pl.String:
        if to == "datetime" and spec is not None and spec.timezone:
            what += f" in {spec.timezone}"
        formats = (spec.formats if spec else None) or DEFAULT_FORMATS[to]
        what += " (formats tried: " + ", ".join(formats) + ")"
    elif to == "decimal":
        kind = POLARS_TYPES["decimal"]
        assert isinstance(kind, pl.Decimal) and kind.precision is not None
        whole = kind.precision - kind.scale
        # Said, because a value with more places is refused rather than rounded.
        what += f" (at most {whole} digits before the point and {kind.scale} after)"
    said = [pl.lit(f"{name}: '"), col.cast(pl.String), pl.lit(f"' is not {what}")]
    number = to in ("integer", "float", "decimal") and source == pl.String and not nested
    # Money text ($5, (5.00)) is the amount step's to read; its marks are no trouble.
    money = col.str.strip_chars().str.contains(MONEY) if number else pl.lit(False)
    if number:
        note = MONEY_NOTE.format(name=name)
        said.append(pl.when(money).then(pl.lit(note)).otherwise(pl.lit("")))
    if number and mark == ",":
        # said only where the marks were the trouble (not for 0,1234567: too many places)
        marked = col.str.contains(r"[.,]") & ~col.str.strip_chars().str.contains(COMMA_DECIMAL)
        marked = marked & ~money
        said.append(pl.when(marked).then(pl.lit(COMMA_DECIMAL_NOTE)).otherwise(pl.lit("")))
    if number and mark != ",":
        # `12,5` is refused, not read as 125 (see THOUSANDS): say why a comma did not do.
        trimmed = col.str.strip_chars()
        grouped = trimmed.str.contains(THOUSANDS)  # refused for another reason
        comma = col.str.contains(",", literal=True) & ~grouped & ~money
        said.append(pl.when(comma).then(pl.lit(COMMA_NOTE)).otherwise(pl.lit("")))
        if mark == "unstated":
            either = trimmed.str.contains(EITHER_WAY)
            said.append(pl.when(either).then(pl.lit(EITHER_WAY_NOTE)).otherwise(pl.lit("")))
    if number:
        trimmed = col.str.strip_chars()
        percent = trimmed.str.contains(PERCENT)
        note = PERCENT_NOTE.format(name=name)
        said.append(pl.when(percent).then(pl.lit(note)).otherwise(pl.lit("")))
        flagged = trimmed.str.contains(FLAGGED) & ~money
        note = FLAG_NOTE.format(name=name)
        said.append(pl.when(flagged).then(pl.lit(note)).otherwise(pl.lit("")))
        dash = col.str.contains(f"[{DASHES}]")
        note = DASH_NOTE.format(name=name, where="")
        said.append(pl.when(dash).then(pl.lit(note)).otherwise(pl.lit("")))
    if source == pl.String and to not in ("string", "list"):
        markers = NULL_MARKERS + STAT_MARKERS if number else NULL_MARKERS
        marker = col.str.strip_chars().str.to_lowercase().is_in(markers)
        said.append(pl.when(marker).then(pl.lit(NULL_MARKER_NOTE)).otherwise(pl.lit("")))
    if to == "float":
        text = col.cast(pl.String).str.strip_chars()
        word = text.str.contains(NOT_FINITE)
        # Past the range: infinite, or zero from digits that are not all zeros (1e-400).
        # Not merely "a float to Polars": under a decimal comma `1.5` is that, but refused.
        parsed = text.cast(pl.Float64, strict=False)
        past = parsed.is_infinite() | ((parsed == 0) & text.str.contains(r"^[^eE]*[1-9]"))
        said.append(
            pl.when(word)
            .then(pl.lit(NOT_FINITE_NOTE.format(name=name)))
            .when(past)
            .then(pl.lit(OUT_OF_RANGE_NOTE))
            .otherwise(pl.lit(""))
        )
    if to == "decimal" and not nested:
        kind = POLARS_TYPES["decimal"]
        assert isinstance(kind, pl.Decimal)
        text = col.cast(pl.String).str.strip_chars()
        word = text.str.contains(NOT_FINITE)
        note = NOT_FINITE_DECIMAL_NOTE.format(name=name)
        said.append(pl.when(word).then(pl.lit(note)).otherwise(pl.lit("")))
        if mark != ",":  # the step's cast reads a point only
            more = text.str.contains(MORE_PLACES.format(places=kind.scale + 1))
            scale, keeps = kind.scale, DECIMAL_KEEPS
            if narrow is not None and narrow.places is not None and narrow.places[1] < scale:
                # rounded to what the table keeps: one replay, not two
                scale = narrow.places[1]
                keeps = f"the table's column {name} ({narrow.shown}) keeps"
            note = MORE_PLACES_NOTE.format(name=name, scale=scale, keeps=keeps)
            said.append(pl.when(more).then(pl.lit(note)).otherwise(pl.lit("")))
    if to in ("date", "datetime") and source == pl.String:
        formats = (spec.formats if spec else None) or DEFAULT_FORMATS[to]
        refused = pl.when(present & value.is_null()).then(col)
        said.append(format_note(refused, formats, owner))
    if to in ("date", "datetime") and typed_number:
        said.append(pl.lit(EPOCH_NOTE))
    elif (
        to in ("date", "datetime")
        and source == pl.String
        and not set(EPOCH_FORMATS) & set((spec.formats if spec else None) or [])
    ):
        digits = col.str.strip_chars().str.contains(r"^[0-9]{4,}(?:\.[0-9]+)?$")
        said.append(pl.when(digits).then(pl.lit(EPOCH_NOTE)).otherwise(pl.lit("")))
    if to == "date" and isinstance(source, pl.Datetime):
        said.append(pl.lit(TIME_OF_DAY_NOTE.format(name=name)))
    if to == "boolean" and source == pl.String:
        trimmed = col.str.strip_chars()
        floaty = trimmed.str.contains(FLOAT_BOOLEAN)
        lowered = trimmed.str.to_lowercase()
        said.append(
            pl.when(floaty)
            .then(pl.lit(FLOAT_BOOLEAN_NOTE.format(name=name)))
            .when(lowered.is_in(TICKS))
            .then(pl.lit(TICK_NOTE.format(name=name)))
            .when(lowered.is_in(NULL_MARKERS))  # named as a missing value's marker
            .then(pl.lit(""))
            .otherwise(pl.lit(BOOLEAN_WORDS_NOTE))
        )
    zoned = to == "datetime" and any(
        "%z" in f for f in (spec.formats if spec else None) or DEFAULT_FORMATS[to]
    )
    if zoned and source == pl.String:
        hours = col.str.strip_chars().str.contains(HOURS_OFFSET)
        note = HOURS_OFFSET_NOTE.format(name=name)
        said.append(pl.when(hours).then(pl.lit(note)).otherwise(pl.lit("")))
        named = col.str.strip_chars().str.contains(ZONE_NAMED)
        note = ZONE_NAMED_NOTE.format(name=name)
        said.append(pl.when(named).then(pl.lit(note)).otherwise(pl.lit("")))
        said.append(zone_note(name, col.str.strip_chars()))
    if to == "datetime" and isinstance(source, pl.Datetime) and source.time_unit == "ns":
        finer = col.dt.nanosecond() % 1000 != 0
        note = NANOSECONDS_NOTE.format(name=name)
        said.append(pl.when(finer).then(pl.lit(note)).otherwise(pl.lit("")))
    elif to == "datetime" and source == pl.String:
        # pandas, Go's RFC 3339 "nano" and Java's Instant write up to nine digits of a
        # second as text; strptime's %f reads six.
        finer = col.str.contains(NANOSECONDS_TEXT)
        note = NANOSECONDS_NOTE.format(name=name)
        said.append(pl.when(finer).then(pl.lit(note)).otherwise(pl.lit("")))
    if to == "integer":
        # 2**63 and more (Parquet's uint64, a long id): a number, but not a BIGINT
        digits = col.cast(pl.String).str.strip_chars().str.replace_all(",", "", literal=True)
        big = digits.str.contains(r"^[+-]?[0-9]{19,}$")
        said.append(pl.when(big).then(pl.lit(BIG_NOTE)).otherwise(pl.lit("")))
    if to == "integer" and source == pl.String:
        rounded = col.str.strip_chars().str.contains(EXCEL_ROUNDED)
        said.append(pl.when(rounded).then(pl.lit(EXCEL_NOTE)).otherwise(pl.lit("")))
    if to == "integer" and source == pl.String and mark != ",":
        dotted = col.str.strip_chars().str.contains(DOT_GROUPED)
        said.append(pl.when(dotted).then(pl.lit(DOT_NOTE)).otherwise(pl.lit("")))
    return pl.when(present & value.is_null()).then(pl.concat_str(said)).otherwise(None)
