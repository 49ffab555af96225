"""The format a refused date is written in, as its reason names it, checked against
Python's own ``strptime``: the format named must read the value as the file meant it."""

from __future__ import annotations

import _strptime
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sluice.transforms.date_hints import _ORDERED, DATES, OTHERS, TIMES, note, written_as

ISO = ("%Y-%m-%d",)
IST = timezone(timedelta(hours=5, minutes=30))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("05-Jan-24", ("%d-%b-%y",)),  # Oracle's and Excel's DD-MON-YY
        ("Jan 5, 2024", ("%b %d, %Y",)),
        ("January 5, 2024", ("%B %d, %Y",)),
        ("5 January 2024", ("%d %B %Y",)),
        ("5.1.2024", ("%d.%m.%Y",)),  # German
        ("2024/01/05", ("%Y/%m/%d",)),  # Japanese
        ("20240105", ("%Y%m%d",)),
        ("25/12/2024", ("%d/%m/%Y",)),  # only day first reads it
        ("12/25/2024", ("%m/%d/%Y",)),  # only month first
        ("05/01/2024", ("%d/%m/%Y", "%m/%d/%Y")),  # either: the file's other rows tell
        ("1/5/2024 10:00:00 AM", ("%d/%m/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M:%S %p")),
        ("2024-01-05 10:00", ("%Y-%m-%d %H:%M",)),
        ("2024-01-05T10:00", ("%Y-%m-%dT%H:%M",)),
        ("Fri Jan  5 10:00:00 2024", ("%a %b %d %H:%M:%S %Y",)),
        # offsets, as logs, feeds and other tools write them
        ("20240105T100000Z", ("%Y%m%dT%H%M%S%z",)),  # ISO 8601 basic (iCalendar)
        ("2024-01-05 10:00:00.123 +0100", ("%Y-%m-%d %H:%M:%S.%f %z",)),  # Java's logs
        ("2024-01-05 10:00:00 +0000 UTC", ("%Y-%m-%d %H:%M:%S %z UTC",)),  # Go's
        ("Fri, 05 Jan 2024 10:00:00 +0000", ("%a, %d %b %Y %H:%M:%S %z",)),  # RFC 2822
        ("5 Jan 2024 10:00:00 -0500", ("%d %b %Y %H:%M:%S %z",)),
        ("25/12/2024 10:00:00+01:00", ("%d/%m/%Y %H:%M:%S%z",)),
        ("Friday, January 5, 2024", ("%A, %B %d, %Y",)),  # a spreadsheet's long date
        ("Friday 5 January 2024", ("%A %d %B %Y",)),
        ("  05-Jan-2024 ", ("%d-%b-%Y",)),
        # none: not a date, an impossible one, or one only a format tried already reads
        ("30/02/2024", ()),
        ("soon", ()),
        ("2024-01-05", ()),
        ("2024-01-05 10:00:00 UTC", ()),
    ],
)
def test_the_format_named_is_one_strptime_reads_the_value_with(
    value: str, expected: tuple[str, ...]
) -> None:
    found = written_as(value, ISO)
    assert found == expected
    for fmt in found:
        datetime.strptime(value.strip(), fmt)  # the real thing reads it


def test_a_column_that_reads_one_order_is_not_told_to_add_the_other() -> None:
    # Month first already: 13/01/2024 is a wrong date there, not a day-first one to add.
    assert written_as("13/01/2024", ("%m/%d/%Y",)) == ()
    assert written_as("05/01/2024 10:00", ("%m/%d/%Y",)) == ("%m/%d/%Y %H:%M",)
    assert written_as("25/01/2024 10:00", ("%d/%m/%Y",)) == ("%d/%m/%Y %H:%M",)
    # nor with two-digit years, nor where it reads day first with dots
    assert written_as("05/01/24", ("%d/%m/%Y",)) == ("%d/%m/%y",)
    assert written_as("05/01/24", ("%d.%m.%Y",)) == ("%d/%m/%y",)
    assert written_as("05/01/24", ("%m/%d/%Y",)) == ("%m/%d/%y",)
    assert written_as("05/01/24", ISO) == ("%d/%m/%y", "%m/%d/%y")


def test_the_note_lists_the_formats_the_column_would_read_with() -> None:
    assert note(ISO, "05-Jan-24") == (
        "; it is written as '%d-%b-%y': add it to the column's formats (formats: "
        "['%Y-%m-%d', '%d-%b-%y']), then `sluice quarantine replay`"
    )
    assert note(ISO, "05/01/2024", owner="cast step") == (
        "; it is written as '%d/%m/%Y' (day first) or '%m/%d/%Y' (month first): add the "
        "one the file uses to the cast step's formats (formats: ['%Y-%m-%d', '%d/%m/%Y'] "
        "or ['%Y-%m-%d', '%m/%d/%Y']), then `sluice quarantine replay`"
    )
    assert note(ISO, "soon") == note(ISO, None) == ""
    # a format of the column's with a quote in it is pasted as YAML reads it
    assert "(formats: ['%d ''de'' %B', '%d-%b-%y'])" in note(("%d 'de' %B",), "05-Jan-24")


@given(
    st.datetimes(
        min_value=datetime(1950, 1, 1),
        max_value=datetime(2049, 12, 31),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5), "EST"), IST]),
    ),
    st.sampled_from([d for pair in DATES for d in pair if d]),
    st.sampled_from(TIMES),
)
def test_any_date_written_in_a_known_format_is_read_back_as_written(
    when: datetime, day: str, time: str
) -> None:
    written = when.strftime(day + time)
    found = written_as(written, ISO)
    if day + time == "%Y-%m-%d":  # the column reads it already
        assert found == ()
        return
    assert found, written
    # one of the formats named reads it as the format it was written in does
    assert datetime.strptime(written, day + time) in [datetime.strptime(written, f) for f in found]


@pytest.mark.parametrize(
    "value",
    [
        "20240105T100000Z",
        "2024-01-05 10:00:00.123 +0100",
        "2024-01-05 10:00:00 +0000 UTC",
        "Fri, 05 Jan 2024 10:00:00 +0000",
        "25/12/2024 10:00:00+01:00",
        "Friday, January 5, 2024",
    ],
)
def test_the_format_named_pasted_into_the_column_loads_what_strptime_reads(value: str) -> None:
    import polars as pl

    from sluice.batch import LINE
    from sluice.config import TableConfig
    from sluice.transforms import Validator

    (fmt,) = written_as(value, ISO)
    table = TableConfig.model_validate(
        {"name": "t", "columns": {"x": {"type": "datetime", "formats": [fmt]}}}
    )
    ok, bad = Validator(table).run(pl.DataFrame({"x": [value], LINE: [2]}))
    assert bad.height == 0
    read = datetime.strptime(value, fmt)
    read = read.replace(tzinfo=UTC) if read.tzinfo is None else read.astimezone(UTC)
    assert ok.get_column("x").item() == read


def _every_format_tried(value: str, have: tuple[str, ...]) -> tuple[str, ...]:
    """What :func:`written_as` names, found by trying every format with ``strptime``
    itself, in its order (each date part with each time, then the others)."""
    text = value.strip()

    def reads(fmt: str) -> bool:
        try:
            datetime.strptime(text, fmt)
        except ValueError:
            return False
        return True

    orders = {i for f in have for i, d in enumerate(_ORDERED) if any(f.startswith(t) for t in d)}
    for day_first, month_first in DATES:
        twins = [day_first] if month_first is None else [day_first, month_first]
        if month_first is not None and len(orders) == 1:
            twins = [twins[next(iter(orders))]]
        for time in TIMES:
            found = tuple(t + time for t in twins if t + time not in have and reads(t + time))
            if found:
                return found
    return next(((f,) for f in OTHERS if f not in have and reads(f)), ())


def test_the_formats_tried_for_a_value_are_those_its_start_allows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only the date parts a value starts with are tried with every time: the same
    format named as trying all of them, for a value of every format (a possible date,
    an impossible day, a stray character after it) and for two columns' formats."""
    # strptime keeps 100 formats' regexes: trying 300 in turn compiled each every time
    monkeypatch.setattr(_strptime, "_CACHE_MAX_SIZE", 1000)
    moment = datetime(2024, 1, 5, 10, 7, 9, 120000, tzinfo=UTC)
    values: dict[str, set[str]] = {"": set(), "twins": set()}  # of a date part with a twin
    for date_part, twin in DATES:
        for fmt in [date_part + t for t in TIMES] + ([twin + t for t in TIMES] if twin else []):
            text = moment.strftime(fmt)
            values["twins" if twin else ""] |= {text, text + "x", text.replace("05", "32", 1)}
    values[""] |= {moment.strftime(f) for f in OTHERS}
    assert len(values[""] | values["twins"]) > 500
    # a column reading one order (day first) is told of that order only
    for have, tried in ((ISO, values[""] | values["twins"]), (("%d/%m/%Y",), values["twins"])):
        for value in sorted(tried):
            assert written_as(value, have) == _every_format_tried(value, have), (value, have)
