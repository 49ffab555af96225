"""The format a refused date or time is written in, named in its reason.

"'05-Jan-24' is not a valid date (formats tried: %Y-%m-%d)" leaves the user to work out
the strptime codes of what they see. A refused value is tried against the formats
people's files use (:data:`DATES` with a time of :data:`TIMES`); the first that
Python's own ``strptime`` reads it with is named, with the column's ``formats`` as they
would read then. Where a day-first and a month-first format both read it
(``05/01/2024``), both are named: only the file's other dates tell which it is.

Reasons are built for refused rows only, and a value is tried once per distinct value.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache

import polars as pl

from sluice.dateformat import compile_format
from sluice.dtypes import repeated

#: date parts, each with its month-first twin where one reads the same text
DATES: tuple[tuple[str, str | None], ...] = (
    ("%d/%m/%Y", "%m/%d/%Y"),
    ("%d-%m-%Y", "%m-%d-%Y"),
    ("%d.%m.%Y", None),
    ("%d/%m/%y", "%m/%d/%y"),
    ("%Y/%m/%d", None),
    ("%Y.%m.%d", None),
    ("%Y%m%d", None),
    ("%Y-%m-%d", None),
    ("%d-%b-%Y", None),
    ("%d-%b-%y", None),
    ("%d %b %Y", None),
    ("%d %B %Y", None),
    ("%b %d, %Y", None),
    ("%B %d, %Y", None),
    ("%b %d %Y", None),
)
#: the date parts that read the day first, and those that read the month first
_ORDERED = (
    tuple(d for d, _ in DATES if d.startswith("%d") and "%m" in d),
    tuple(m for _, m in DATES if m is not None),
)
#: what may follow the date part: nothing, or a time of day
TIMES = (
    "",
    " %H:%M:%S",
    " %H:%M",
    " %H:%M:%S.%f",
    " %I:%M:%S %p",
    " %I:%M %p",
    "T%H:%M:%S",
    "T%H:%M",
    "T%H:%M:%S.%f",
    # with an offset: after the seconds, or spaced from them (Java's and Go's logs)
    " %H:%M:%S%z",
    " %H:%M:%S.%f%z",
    " %H:%M:%S %z",
    " %H:%M:%S.%f %z",
    "T%H:%M:%S%z",
    "T%H:%M:%S.%f%z",
    # ISO 8601's basic form (iCalendar, AWS): 20240105T100000Z
    "T%H%M%S%z",
    "T%H%M%S",
)
#: formats that are not a date part and a time: C's ``ctime``, as logs write it; RFC
#: 2822's, as e-mail and RSS feeds write it; Go's ``time.Time`` printed, in UTC; a
#: long date with its weekday, as spreadsheets write it
OTHERS = (
    "%a %b %d %H:%M:%S %Y",
    "%a, %d %b %Y %H:%M:%S %z",
    "%Y-%m-%d %H:%M:%S %z UTC",
    "%Y-%m-%d %H:%M:%S.%f %z UTC",
    "%A, %B %d, %Y",
    "%A, %d %B %Y",
    "%A %d %B %Y",
)


@lru_cache(maxsize=512)  # a format's regex, each once: 313 formats in all
def _shape(fmt: str) -> re.Pattern[str]:
    return re.compile(compile_format(fmt).full)


@lru_cache(maxsize=64)
def _starts(date_part: str) -> re.Pattern[str]:
    """A date part's regex, unanchored at its end: a value a format of this date part
    and a time reads starts with a match of it."""
    return re.compile(compile_format(date_part).full.removesuffix("$"))


def _reads(value: str, fmt: str) -> bool:
    """Whether ``strptime`` reads ``value`` with ``fmt`` (the regex first: most values
    are not in most formats, and an exception per try costs more)."""
    if not _shape(fmt).match(value):
        return False
    try:
        datetime.strptime(value, fmt)
    except ValueError:
        return False
    return True


@lru_cache(maxsize=1)
def _any_shape() -> re.Pattern[str]:
    """One regex that every value some format of :func:`_formats` reads matches: most
    refused dates are impossible ones (13/45/2019) in a format the column has, which
    this turns away in one match instead of one per format. A date part, then a time
    part or none: the alternatives of each once (as one alternative per format, its
    313 formats compiled in 0.1 s to 6.4 MB)."""
    inner = re.compile(r"\(\?P<[A-Za-z]_>")

    def bare(fmt: str) -> str:  # each is "(?i)^...$": the flag and anchors once, below
        return inner.sub("(?:", compile_format(fmt).full).removeprefix("(?i)^").removesuffix("$")

    dates = "|".join(bare(d) for pair in DATES for d in pair if d)
    times = "|".join(bare(t) for t in TIMES if t)
    others = "|".join(bare(f) for f in OTHERS)
    return re.compile(f"^(?:(?:{dates})(?:{times})?|{others})$", re.IGNORECASE)


def _formats() -> list[str]:
    twins = [t for pair in DATES for t in pair if t]
    return [t + time for t in twins for time in TIMES] + list(OTHERS)


@lru_cache(maxsize=4096)
def written_as(value: str, have: tuple[str, ...]) -> tuple[str, ...]:
    """The format ``value`` is written in, or a day-first and a month-first format that
    both read it; () when none does, or only ones the column tries already."""
    text = value.strip()
    if not _any_shape().match(text):
        return ()
    # A column that reads dates day first is not mended by a month-first format, nor
    # the other way round (05/01/24 where it reads 25/12/2024): the file's dates would
    # then be read both ways.
    orders = {i for f in have for i, d in enumerate(_ORDERED) if any(f.startswith(t) for t in d)}
    for day_first, month_first in DATES:
        twins = [day_first] if month_first is None else [day_first, month_first]
        if month_first is not None and len(orders) == 1:
            twins = [twins[next(iter(orders))]]
        # Only the date parts it starts with, each with every time: an impossible date
        # (02/30/2021) tried, so compiled, all 300 formats: 0.07-0.10 CPU-s a run.
        twins = [t for t in twins if _starts(t).match(text)]
        for time in TIMES if twins else ():
            found = tuple(
                t + time for t in twins if t + time not in have and _reads(text, t + time)
            )
            if found:
                return found
    return next(((f,) for f in OTHERS if f not in have and _reads(text, f)), ())


def _with(have: tuple[str, ...], fmt: str) -> str:
    """The formats as a YAML list to paste (a quote in one doubled, as YAML has it)."""
    quoted = ("'" + f.replace("'", "''") + "'" for f in (*have, fmt))
    return "[" + ", ".join(quoted) + "]"


def note(formats: tuple[str, ...], value: str | None, owner: str = "column") -> str:
    """What to add to a refused value's reason: the format it is written in, to add to
    the formats of its ``owner`` (the column, or the step that casts it)."""
    found = written_as(value, formats) if value else ()
    then = ", then `sluice quarantine replay`"
    if len(found) == 2:
        first, second = found
        return (
            f"; it is written as '{first}' (day first) or '{second}' (month first): add "
            f"the one the file uses to the {owner}'s formats (formats: {_with(formats, first)} "
            f"or {_with(formats, second)}){then}"
        )
    if found:
        return (
            f"; it is written as '{found[0]}': add it to the {owner}'s formats "
            f"(formats: {_with(formats, found[0])}){then}"
        )
    return ""


def format_note(refused: pl.Expr, formats: list[str], owner: str = "column") -> pl.Expr:
    """Per value of ``refused`` (the text of refused dates or times, null elsewhere),
    :func:`note`; "" for a null."""
    have = tuple(formats)

    def notes(values: pl.Series) -> pl.Series:
        said = {v: note(have, v, owner) for v in values.drop_nulls().unique().to_list()}
        if not said:
            return repeated("", len(values), pl.String())
        return values.replace_strict(said, default="", return_dtype=pl.String).fill_null("")

    return refused.map_batches(notes, return_dtype=pl.String)
