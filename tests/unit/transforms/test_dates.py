"""Dates read as Python's ``datetime.strptime`` reads them: property tests against it.

For random strings shaped like each format (right and wrong digit counts, names in any
case, out-of-range days, leftovers), every string Python parses is stored as the same
value, and every string Python refuses is refused (so its row is quarantined).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sluice.config import parse_project
from sluice.dateformat import FormatError, compile_format
from sluice.errors import ProjectInvalid
from sluice.transforms import dates
from sluice.transforms.cast import DateOptions, cast

FORMATS = [
    "%Y-%m-%d",
    "%m/%d/%Y",
    "%d-%b-%y %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f%z",
    "%Y-%m-%d %H:%M:%S%z",
    "%d %B %Y %I:%M %p",
    "%Y%m%d%H%M%S",
    "%y%m%d",
    "%b %d, %Y",
    "%H:%M:%S.%f",
    "%a, %d %b %Y %H:%M:%S",
]

MONTHS = ["Jan", "feb", "MAR", "Apr", "May", "jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
FULL = ["January", "march", "MAY", "July", "September", "december", "Sept", "Febr"]
DAYS = ["Mon", "tue", "WED", "Thu", "Fri", "sat", "Sun", "Thurs"]


def digits(lo: int, hi: int) -> st.SearchStrategy[str]:
    return st.from_regex(rf"\A[0-9]{{{lo},{hi}}}\Z")


def number(hi: int) -> st.SearchStrategy[str]:
    """A number up to ``hi``, zero-padded or not, sometimes space-padded."""
    n = st.integers(0, hi)
    return st.one_of(
        n.map(str), n.map(lambda v: f"{v:02d}"), n.map(lambda v: f" {v}"), digits(1, 3)
    )


OFFSETS = st.one_of(
    st.sampled_from(["Z", "z", "+00:00", "-05:00", "+0530", "+01:0030", "+0100:30", "+24:00"]),
    st.from_regex(r"\A[+-][0-9]{2}:?[0-9]{2}(:?[0-9]{2}(\.[0-9]{1,7})?)?\Z"),
)

PARTS: dict[str, st.SearchStrategy[str]] = {
    "Y": st.one_of(st.integers(1, 9999).map(lambda v: f"{v:04d}"), digits(1, 5)),
    "y": st.one_of(st.sampled_from(["68", "69", "00", "99"]), digits(2, 2), digits(1, 3)),
    "m": number(13),
    "d": number(32),
    "H": number(24),
    "I": number(13),
    "M": number(60),
    "S": number(62),
    "f": digits(0, 7),
    "z": OFFSETS,
    "b": st.sampled_from([*MONTHS, "Foo", "Sept"]),
    "B": st.sampled_from(FULL),
    "a": st.sampled_from(DAYS),
    "p": st.sampled_from(["AM", "pm", "Am", "XM"]),
}


@st.composite
def shaped(draw: Any, fmt: str) -> str:
    """A string shaped like ``fmt``, right or subtly wrong."""
    out: list[str] = []
    i = 0
    while i < len(fmt):
        if fmt[i] == "%":
            out.append(draw(PARTS[fmt[i + 1]]))
            i += 2
        else:
            ch = fmt[i]
            if ch == " ":
                ch = draw(st.sampled_from([" ", " ", "  ", "\t", ""]))
            out.append(ch)
            i += 1
    if draw(st.integers(0, 9)) == 0:
        out.append(draw(st.sampled_from(["x", "0", " 1", ":00", "Z"])))
    return "".join(out).strip()


def python(text: str, fmt: str, to: str) -> object:
    """What Python's strptime makes of ``text``: the value sluice must store, or None."""
    try:
        value = datetime.strptime(text, fmt)
    except ValueError:
        return None
    if to == "date":
        return value.date()
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # an instant before year 1 or after 9999: no value either
        return None


def sluice(texts: list[str], fmt: str, to: str, **rule: Any) -> list[object]:
    expr, _ = cast("c", pl.String(), to, DateOptions([fmt], **rule))
    frame = pl.DataFrame({"c": pl.Series(texts, dtype=pl.String)})
    return frame.select(expr).to_series().to_list()


#: The two exact paths for what chrono leaves: Python's strptime for a few values,
#: the vectorised reading for many (forced here by allowing Python none).
PATHS = {"python": dates.PYTHON_AT_MOST, "vectorised": 0}


@contextlib.contextmanager
def exact_path(name: str) -> Iterator[None]:
    saved = dates.PYTHON_AT_MOST
    dates.PYTHON_AT_MOST = PATHS[name]
    try:
        yield
    finally:
        dates.PYTHON_AT_MOST = saved


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("fmt", FORMATS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_value_is_what_python_strptime_makes_of_it(path: str, fmt: str, data: Any) -> None:
    texts = data.draw(st.lists(shaped(fmt), min_size=1, max_size=40))
    for to in ("datetime", "date"):
        expected = [python(t, fmt, to) for t in texts]
        with exact_path(path):
            got = sluice(texts, fmt, to)
        for text, want, have in zip(texts, expected, got, strict=True):
            assert have == want, f"{text!r} with {fmt!r} as {to}: python {want}, sluice {have}"


@pytest.mark.parametrize("path", PATHS)
@settings(max_examples=100, deadline=None)
@given(day=st.dates(date(1, 1, 1), date(9999, 12, 31)), fmt=st.sampled_from(FORMATS))
def test_every_date_python_writes_reads_back(path: str, day: date, fmt: str) -> None:
    """Real dates written in each format: whatever Python reads back, sluice reads the same."""
    moment = datetime(day.year, day.month, day.day, 13, 5, 9, 120000, tzinfo=UTC)
    # strftime pads %Y to four digits only on some platforms: write it ourselves.
    text = moment.strftime(fmt.replace("%Y", f"{day.year:04d}"))
    with exact_path(path):
        assert sluice([text], fmt, "datetime") == [python(text, fmt, "datetime")]


#: Lists of formats as columns declare them: a value is read by the first Python accepts.
FORMAT_LISTS = [
    ["%Y-%m-%d", "%m/%d/%Y", "%d %b %Y"],
    ["%m/%d/%Y", "%d-%b-%y %H:%M:%S", "%Y%m%d%H%M%S"],
    ["%y%m%d", "%Y-%m-%d", "%b %d, %Y"],
    ["%Y-%m-%d %H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%d"],
    ["%d/%m/%Y", "%m/%d/%Y", "%a, %d %b %Y %H:%M:%S"],  # 01/02/2024 is 1 February
]


def first_python(text: str, fmts: list[str], to: str) -> object:
    for fmt in fmts:
        value = python(text, fmt, to)
        if value is not None:
            return value
    return None


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("fmts", FORMAT_LISTS, ids="|".join)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_of_several_formats_the_first_python_accepts_reads_the_value(
    path: str, fmts: list[str], data: Any
) -> None:
    """Values of every listed format and none, mixed in one batch, each read as the
    first format Python's strptime accepts reads it (chrono reads most of them, the
    exact way the rest)."""
    texts = data.draw(st.lists(st.sampled_from(fmts).flatmap(shaped), min_size=1, max_size=60))
    for to in ("datetime", "date"):
        expected = [first_python(t, fmts, to) for t in texts]
        expr, _ = cast("c", pl.String(), to, DateOptions(fmts))
        with exact_path(path):
            got = pl.DataFrame({"c": pl.Series(texts, dtype=pl.String)}).select(expr)
        for text, want, have in zip(texts, expected, got.to_series(), strict=True):
            assert have == want, f"{text!r} with {fmts} as {to}: python {want}, sluice {have}"


@pytest.mark.parametrize("path", PATHS)
def test_a_later_format_reads_the_few_values_the_first_ones_left(path: str) -> None:
    """Formats after the one that read most values look only at those left (in their
    places among the rest), and still read each as Python's first accepting format."""
    fmts = ["%Y-%m-%d", "%m/%d/%Y", "%d %b %Y"]
    texts = ["05/12/2019", "1/2/2020", None] * 20
    texts[7:7] = ["12 Mar 2020", "2021-02-30", "13/45/2019", "3 mar 2001", "02/30/2020"]
    texts += ["31 Feb 2020", "1999-12-31", " 7 Jun 1987"]
    for to in ("date", "datetime"):
        expected = [None if t is None else first_python(t, fmts, to) for t in texts]
        expr, _ = cast("c", pl.String(), to, DateOptions(fmts))
        with exact_path(path):
            got = pl.DataFrame({"c": pl.Series(texts, dtype=pl.String)}).select(expr)
        assert got.to_series().to_list() == expected


def test_a_few_leftovers_go_to_python_and_many_to_the_vectorised_path() -> None:
    """Both exact paths give the same values, whichever side of the threshold."""
    texts = ["02/30/2021", "2/29/2024", "2/ 9/2024", "13/01/2024", "01/02/2024"]
    many = texts * (dates.PYTHON_AT_MOST + 1)  # two of each five left by chrono
    expected = [python(t, "%m/%d/%Y", "date") for t in many]
    assert sluice(many[:5], "%m/%d/%Y", "date") == expected[:5]
    assert sluice(many, "%m/%d/%Y", "date") == expected


@pytest.mark.parametrize(
    ("text", "fmt", "expected"),
    [
        ("01/02/24", "%m/%d/%Y", None),  # chrono read this as 0024-01-02
        ("8/24/95", "%m/%d/%Y", None),
        ("24-01-02", "%Y-%m-%d", None),
        ("14:05:00.123456", "%H:%M:%S.%f", datetime(1900, 1, 1, 14, 5, 0, 123456, UTC)),
        ("14:05:00.5", "%H:%M:%S.%f", datetime(1900, 1, 1, 14, 5, 0, 500000, UTC)),
        ("02/29/2023", "%m/%d/%Y", None),
        ("2024-01-02 10:00:60", "%Y-%m-%d %H:%M:%S", None),
    ],
)
def test_the_values_chrono_got_wrong(text: str, fmt: str, expected: datetime | None) -> None:
    assert sluice([text], fmt, "datetime") == [expected]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    ("text", "fmt", "to", "expected"),
    [
        ("0000-06-15", "%Y-%m-%d", "date", None),  # chrono reads year 0; Python refuses it
        ("0001-01-01", "%Y-%m-%d", "date", date(1, 1, 1)),
        ("9999-12-31", "%Y-%m-%d", "date", date(9999, 12, 31)),
        ("0000-06-15 10:00:00", "%Y-%m-%d %H:%M:%S", "datetime", None),
        ("0001-01-01T00:30:00+01:00", "%Y-%m-%dT%H:%M:%S%z", "datetime", None),  # year 0 in UTC
        (
            "0001-01-01T01:30:00+01:00",
            "%Y-%m-%dT%H:%M:%S%z",
            "datetime",
            datetime(1, 1, 1, 0, 30, tzinfo=UTC),
        ),
        ("9999-12-31T23:30:00-01:00", "%Y-%m-%dT%H:%M:%S%z", "datetime", None),  # year 10000
    ],
)
def test_values_outside_years_1_to_9999_are_refused(
    path: str, text: str, fmt: str, to: str, expected: object
) -> None:
    """At both ends of what Python's date and datetime hold, on both exact paths and
    chrono's: a UTC instant is refused where its offset moves it out of the range."""
    with exact_path(path):
        assert sluice([text], fmt, to) == [expected] == [python(text, fmt, to)]


def test_default_formats_are_iso_8601_and_take_a_fraction_or_an_offset() -> None:
    texts = ["2024-01-02T03:04:05Z", "2024-01-02 03:04:05.5", "2024-01-02T03:04:05+02:00"]
    texts += ["2024-01-02", "24-01-02", "2024-01-02T03:04"]
    expr, _ = cast("c", pl.String(), "datetime")
    got = pl.DataFrame({"c": texts}).select(expr).to_series().to_list()
    assert got == [
        datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=UTC),
        datetime(2024, 1, 2, 1, 4, 5, tzinfo=UTC),
        datetime(2024, 1, 2, tzinfo=UTC),
        None,
        None,
    ]


@pytest.mark.parametrize(
    ("pivot", "yy", "year"), [(1950, "50", 1950), (1950, "49", 2049), (1900, "99", 1999)]
)
def test_a_century_pivot_places_two_digit_years(pivot: int, yy: str, year: int) -> None:
    got = sluice([f"01/02/{yy}"], "%m/%d/%y", "date", century_pivot=pivot)
    assert got == [date(year, 1, 2)]


def test_python_century_rule_is_the_default() -> None:
    assert sluice(["01/02/68", "01/02/69"], "%m/%d/%y", "date") == [
        date(2068, 1, 2),
        date(1969, 1, 2),
    ]


def test_century_from_another_column_is_the_nearest_year() -> None:
    refs = [1000, 1949, 1950, 1951, 1999, 2000, 2001, 2049, 2050, 9899]
    pairs = [(ref, yy) for ref in refs for yy in range(100)]
    expr, _ = cast("c", pl.String(), "date", DateOptions(["%y"], century_from="year"))
    frame = pl.DataFrame(
        {"c": [f"{yy:02d}" for _, yy in pairs], "year": [str(r) for r, _ in pairs]}
    )
    got = frame.select(expr).to_series().to_list()
    for (ref, yy), day in zip(pairs, got, strict=True):
        candidates = [y for y in range(ref - 100, ref + 101) if y % 100 == yy]
        nearest = min(candidates, key=lambda y: (abs(y - ref), y))
        assert day == date(nearest, 1, 1), (ref, yy)


@settings(max_examples=80, deadline=None)
@given(
    moment=st.datetimes(datetime(1970, 1, 1), datetime(2037, 12, 31)),
    zone=st.sampled_from(["America/New_York", "Europe/Berlin", "Australia/Lord_Howe"]),
)
def test_a_column_timezone_is_read_as_zoneinfo_does(moment: datetime, zone: str) -> None:
    """Naive times in a named zone: the UTC instant Python's zoneinfo gives (fold=0).

    Times the clocks skipped do not exist there: Python would shift them, sluice
    refuses them (they quarantine).
    """
    from zoneinfo import ZoneInfo

    # fold=0: the text names no fold, and Hypothesis draws times with fold=1 too (the
    # second 01:00 of a night the clocks go back), which Python would read as the later
    moment = moment.replace(microsecond=0, fold=0)
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    (got,) = sluice([text], "%Y-%m-%d %H:%M:%S", "datetime", timezone=zone)
    local = moment.replace(tzinfo=ZoneInfo(zone))
    exists = local.astimezone(UTC).astimezone(ZoneInfo(zone)).replace(tzinfo=None) == moment
    assert got == (local.astimezone(UTC) if exists else None)


def test_dst_gap_and_overlap_in_new_york() -> None:
    got = sluice(
        ["2024-03-10 02:30:00", "2024-11-03 01:30:00", "2024-07-01 12:00:00"],
        "%Y-%m-%d %H:%M:%S",
        "datetime",
        timezone="America/New_York",
    )
    assert got == [
        None,  # the clocks went from 02:00 to 03:00: no such time
        datetime(2024, 11, 3, 5, 30, tzinfo=UTC),  # twice: the first (EDT), as fold=0
        datetime(2024, 7, 1, 16, 0, tzinfo=UTC),
    ]


@pytest.mark.parametrize(
    ("fmt", "message"),
    [
        ("%Y-%m-%d%.f", r"%\.f is not a Python strptime code"),
        ("%j/%Y", "%j .day of the year. is not supported"),
        ("%Y-%U", "%U .week number. is not supported"),
        ("%Y %Z", "%Z"),
        ("%Y-%m-%Q", "%Q is not a strptime directive"),
        ("%Y-%m-%d %", "stray %"),
        ("%d/%d/%Y", "uses %d twice"),
        ("date", "no directive"),
    ],
)
def test_formats_python_would_not_read_are_refused_by_name(fmt: str, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        compile_format(fmt)
    text = (
        "pipelines:\n  p:\n    sources: {s: {type: file, path: a.csv}}\n"
        f"    table: {{name: t, columns: {{d: {{type: date, formats: ['{fmt}']}}}}}}\n"
    )
    with pytest.raises(ProjectInvalid, match=message):
        parse_project(text)


def test_a_zone_the_database_does_not_know_is_a_config_error() -> None:
    text = (
        "pipelines:\n  p:\n    sources: {s: {type: file, path: a.csv}}\n"
        "    table: {name: t, columns: {d: {type: datetime, timezone: Eastern}}}\n"
    )
    with pytest.raises(ProjectInvalid, match="unknown time zone 'Eastern'"):
        parse_project(text)


def test_offsets_of_a_day_or_more_are_refused_as_python_does() -> None:
    fmt = "%Y-%m-%d %H:%M:%S%z"
    texts = ["2024-01-02 00:00:00+23:59", "2024-01-02 00:00:00+24:00"]
    assert sluice(texts, fmt, "datetime") == [
        datetime(2024, 1, 2, tzinfo=UTC) - timedelta(hours=23, minutes=59),
        None,
    ]


@settings(max_examples=300, deadline=None)
@given(
    serial=st.integers(min_value=1, max_value=2_958_464),
    fraction=st.text(alphabet="0123456789", max_size=15),
)
def test_excel_day_numbers_read_as_excel_counts_them(serial: int, fraction: str) -> None:
    """Excel's 1900 date system, computed with Python's datetime: days since 1899-12-30
    from 61 on (1900-03-01), since 1899-12-31 before its 1900-02-29 (60, refused), and
    the fraction of a day to the millisecond, rounded half up."""
    from decimal import ROUND_HALF_UP, Decimal

    text = f"{serial}.{fraction}" if fraction else str(serial)
    (day,) = sluice([text], "excel", "date")
    (at,) = sluice([text], "excel", "datetime")
    if serial == 60:
        assert (day, at) == (None, None)
        return
    base = datetime(1899, 12, 30) if serial > 60 else datetime(1899, 12, 31)
    ms = (Decimal("0." + (fraction[:12] or "0")) * 86_400_000).quantize(
        Decimal(1), rounding=ROUND_HALF_UP
    )
    expected = base + timedelta(days=serial, milliseconds=int(ms))
    assert at == expected.replace(tzinfo=UTC)
    assert day == (expected.date() if not fraction.strip("0") else None)


def test_excel_day_numbers_in_a_zone_and_out_of_range() -> None:
    got = sluice(
        ["45292.5", "0", "60", "2958466", "-1", "4.5e4", "45,292"],
        "excel",
        "datetime",
        timezone="America/New_York",
    )
    assert got == [datetime(2024, 1, 1, 17, tzinfo=UTC), *[None] * 6]
