"""The amount and utc steps: NOAA-style damage text to dollars, local time + offset to UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sluice.batch import LINE
from sluice.config import parse_project
from sluice.errors import ProjectInvalid, TransformError
from sluice.transforms import StepRunner
from sluice.transforms.cast import (
    COMMA_DECIMAL_NOTE,
    COMMA_NOTE,
    DASH_NOTE,
    EITHER_WAY_NOTE,
    DecimalMark,
)
from sluice.transforms.convert import (
    AMOUNT_COMMA_FORMS,
    AMOUNT_FORMS,
    ZONE_NAMES,
    utc_offset_minutes,
)

FORMAT = "'%d-%b-%y %H:%M:%S'"


def runner(steps: str, mark: DecimalMark = ".") -> StepRunner:
    text = (
        "pipelines:\n  p:\n    sources: {s: {type: file, path: a.csv}}\n"
        f"    transforms:\n{steps}"
        "    table: {name: t, columns: {amt: decimal, crops: decimal, at: datetime, tz: string}}\n"
    )
    pipe = parse_project(text).pipeline("p")
    return StepRunner(pipe, list(pipe.table.columns), mark=mark)


def frame(**cols: list[str | None]) -> pl.DataFrame:
    n = len(next(iter(cols.values())))
    data = {k: pl.Series(k, v, dtype=pl.String) for k, v in cols.items()}
    return pl.DataFrame({**data, LINE: list(range(2, n + 2))})


def test_amount_reads_k_m_b_suffixes_as_dollars() -> None:
    r = runner("      - amount: {columns: [amt, crops]}\n")
    texts = ["10.00K", "2.5M", "1B", "0.00K", "12", " 3k ", "$1,500", "1.5B", None, ""]
    out = r.run(frame(amt=texts, crops=["1.20M"] * len(texts)))
    assert out.schema["amt"] == pl.Decimal(38, 6)
    assert out.get_column("amt").to_list() == [
        Decimal(10000),
        Decimal(2500000),
        Decimal(1000000000),
        Decimal(0),
        Decimal(12),
        Decimal(3000),
        Decimal(1500),
        Decimal(1500000000),
        None,
        None,
    ]
    assert set(out.get_column("crops").to_list()) == {Decimal(1200000)}
    assert out.get_column("_reasons").to_list() == [[]] * len(texts)


def test_amount_that_is_not_one_is_a_reason_not_a_null() -> None:
    r = runner("      - amount: {columns: [amt]}\n")
    bad = ["12.5X", "about 3K", "n/a", "K", "1.2.3M", "1,2", "5,00 €", "-$-5", "-(5)", "$5€"]
    bad += ["5.00--", "-5.00-", "(5.00-)", "5.00-x", "-"]
    out = r.run(frame(amt=bad))
    assert out.get_column("amt").to_list() == [None] * len(bad)
    reasons = out.get_column("_reasons").to_list()
    assert reasons[0] == [f"amt: '12.5X' is not an amount (accepted: {AMOUNT_FORMS})"]
    assert all(len(r) == 1 for r in reasons)


@pytest.mark.parametrize(
    ("text", "dollars"),
    [
        ("-$5.00", "-5"),
        ("$-5.00", "-5"),
        ("(5.00)", "-5"),
        ("($1,234.56)", "-1234.56"),
        (".5K", "500"),
        (".25M", "250000"),
        ("1,234.56", "1234.56"),
        ("1,234,567", "1234567"),
        ("€5", "5"),
        ("£2.5K", "2500"),
        ("5 €", "5"),
        ("1.2345678K", "1234.5678"),
        ("7h", "700"),
        ("99999999999999999999B", "99999999999999999999000000000"),
        # a minus after the digits, as SAP and mainframe reports write a negative amount
        ("1,234.56-", "-1234.56"),
        ("5.00 -", "-5"),
        ("$5.00-", "-5"),
        ("2.5K-", "-2500"),
    ],
)
def test_amount_accepts_signs_parentheses_leading_dots_and_currencies(
    text: str, dollars: str
) -> None:
    out = runner("      - amount: {columns: [amt]}\n").run(frame(amt=[text]))
    assert out.get_column("amt").to_list() == [Decimal(dollars)]
    assert out.get_column("_reasons").to_list() == [[]]


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.integers(min_value=0, max_value=99),
    st.sampled_from([".", " ", "\u00a0", "\u202f", ""]),
    st.sampled_from(["{} €", "€{}", "{}", "{}K"]),
)
def test_amounts_with_a_decimal_comma_read_as_python_writes_them_with_a_point(
    whole: int, cents: int, group: str, shape: str
) -> None:
    # Under csv.decimal: ',' the amount step read `1.234` as 1.234 and `5,00 €` was
    # refused: a decimal-comma export's money, read as US text. Python's grouping,
    # its marks turned as a decimal-comma locale writes them, reads back the same.
    written = f"{abs(whole):,}.{cents:02d}"
    expected = Decimal(written.replace(",", "")) * (1000 if "K" in shape else 1)
    text = written.replace(".", "#").replace(",", group).replace("#", ",")
    text = ("-" if whole < 0 else "") + shape.format(text)
    out = runner("      - amount: {columns: [amt]}\n", ",").run(frame(amt=[text]))
    assert out.get_column("_reasons").to_list() == [[]], text
    assert out.get_column("amt").to_list() == [expected * (-1 if whole < 0 else 1)], text


def test_an_amount_with_its_minus_after_the_digits_under_a_decimal_comma() -> None:
    # SAP's German exports: 1.234,56- is -1234.56
    texts = ["1.234,56-", "5,00 €-", "12,5-"]
    out = runner("      - amount: {columns: [amt]}\n", ",").run(frame(amt=texts))
    assert out.get_column("amt").to_list() == [Decimal("-1234.56"), Decimal(-5), Decimal("-12.5")]
    assert out.get_column("_reasons").to_list() == [[]] * 3


def test_an_amount_under_a_decimal_comma_that_is_not_one_says_so() -> None:
    bad = ["1.5", "1,234.5", "12.5 €", "1.23,4"]
    out = runner("      - amount: {columns: [amt]}\n", ",").run(frame(amt=bad))
    assert out.get_column("amt").to_list() == [None] * len(bad)
    (first, *_) = out.get_column("_reasons").to_list()
    assert first == [
        f"amt: '1.5' is not an amount (accepted: {AMOUNT_COMMA_FORMS}){COMMA_DECIMAL_NOTE}"
    ]


def test_an_amount_whose_comma_may_be_either_mark_is_refused_when_the_mark_is_unstated() -> None:
    # A file delimited by ';', csv.decimal unset: `1,234` is 1234 or 1.234, as for a
    # decimal column; the step took it as 1234.
    texts = ["1,234", "$1,234", "1,234.50", "1,234,567", "12"]
    out = runner("      - amount: {columns: [amt]}\n", "unstated").run(frame(amt=texts))
    assert out.get_column("amt").to_list() == [
        None,
        None,
        Decimal("1234.5"),
        Decimal(1234567),
        Decimal(12),
    ]
    reasons = out.get_column("_reasons").to_list()
    assert reasons[0] == [
        f"amt: '1,234' is not an amount (accepted: {AMOUNT_FORMS}){EITHER_WAY_NOTE}"
    ]
    assert reasons[1][0].endswith(EITHER_WAY_NOTE) and reasons[2:] == [[], [], []]


@pytest.mark.parametrize("mark", [".", "unstated"])
def test_an_amount_with_a_decimal_comma_names_the_setting_that_reads_it(mark: DecimalMark) -> None:
    # `120,50` and `5,00 €` (a decimal comma's) were refused with the accepted forms
    # only, as if no setting read them: a number column's reason names csv.decimal.
    texts = ["120,50", "5,00 €", "1.234,56", "1,234.56 XYZ", "about 3K"]
    out = runner("      - amount: {columns: [amt]}\n", mark).run(frame(amt=texts))
    assert out.get_column("amt").to_list() == [None] * len(texts)
    reasons = [r[0] for r in out.get_column("_reasons").to_list()]
    assert reasons[0] == f"amt: '120,50' is not an amount (accepted: {AMOUNT_FORMS}){COMMA_NOTE}"
    # a comma grouping thousands is not the trouble, nor is there a comma in `about 3K`
    assert [r.endswith(COMMA_NOTE) for r in reasons] == [True, True, True, False, False]


def test_an_amount_with_a_typographic_minus_names_the_step_that_reads_it() -> None:
    texts = ["\u2212$5.00", "\u20135 \u20ac", "-$5.00-"]  # two signs: refused, no dash
    out = runner("      - amount: {columns: [amt]}\n").run(frame(amt=texts))
    assert out.get_column("amt").to_list() == [None] * 3
    note = DASH_NOTE.format(name="amt", where=" before this step")
    said = [r[0].endswith(note) for r in out.get_column("_reasons")]
    assert said == [True, True, False]


def test_a_cast_step_reads_numbers_with_the_files_decimal_mark() -> None:
    # It read `1.234` as 1.234 under csv.decimal: ',' and refused `2,5`, its reason
    # saying to set the csv.decimal that was set.
    r = runner("      - cast: {column: amt, to: float}\n", ",")
    out = r.run(frame(amt=["1.234", "2,5", "1.5"]))
    assert out.get_column("amt").to_list() == [1234.0, 2.5, None]
    assert out.get_column("_reasons").to_list()[2][0].endswith(COMMA_DECIMAL_NOTE)


def test_an_amount_too_large_for_the_column_is_a_reason_not_a_crash() -> None:
    out = runner("      - amount: {columns: [amt]}\n").run(frame(amt=["9" * 30 + "B"]))
    assert out.get_column("amt").to_list() == [None]
    assert out.get_column("_reasons").to_list()[0][0].startswith("amt: '999")


@pytest.mark.parametrize(
    ("local", "zone", "expected"),
    [
        ("01-JAN-24 13:05:00", "CST-6", datetime(2024, 1, 1, 19, 5, tzinfo=UTC)),
        ("01-JAN-24 13:05:00", "EST-5", datetime(2024, 1, 1, 18, 5, tzinfo=UTC)),
        ("15-JUL-24 20:00:00", "MST-7", datetime(2024, 7, 16, 3, 0, tzinfo=UTC)),
        ("29-FEB-24 17:30:00", "PST-8", datetime(2024, 3, 1, 1, 30, tzinfo=UTC)),
        ("31-DEC-24 23:30:00", "HST-10", datetime(2025, 1, 1, 9, 30, tzinfo=UTC)),
        ("10-mar-24 02:15:00", "akst-9", datetime(2024, 3, 10, 11, 15, tzinfo=UTC)),
        ("01-JAN-24 00:00:00", "+05:30", datetime(2023, 12, 31, 18, 30, tzinfo=UTC)),
        ("01-JAN-24 00:00:00", "GST10", datetime(2023, 12, 31, 14, 0, tzinfo=UTC)),
        ("01-JAN-24 00:00:00", "UTC", datetime(2024, 1, 1, 0, 0, tzinfo=UTC)),
    ],
)
def test_utc_shifts_local_time_by_the_zone_offset(
    local: str, zone: str, expected: datetime
) -> None:
    r = runner(f"      - utc: {{column: at, offset_from: tz, formats: [{FORMAT}]}}\n")
    out = r.run(frame(at=[local], tz=[zone]))
    assert out.schema["at"] == pl.Datetime("us", "UTC")
    assert out.get_column("at").to_list() == [expected]
    assert out.get_column("_reasons").to_list() == [[]]


def test_utc_bad_time_bad_or_missing_offset_are_reasons() -> None:
    r = runner(f"      - utc: {{column: at, offset_from: tz, formats: [{FORMAT}]}}\n")
    out = r.run(
        frame(
            at=["31-FEB-24 10:00:00", "01-JAN-24 13:05:00", "01-JAN-24 13:05:00", None],
            tz=["CST-6", "CSC", None, "CST-6"],
        )
    )
    assert out.get_column("at").to_list() == [None] * 4
    assert out.get_column("_reasons").to_list() == [
        ["at: '31-FEB-24 10:00:00' is not a valid datetime (formats tried: %d-%b-%y %H:%M:%S)"],
        [
            "at: tz 'CSC' is not a UTC offset (like CST-6, EST-5, +05:30) or a known zone name "
            "(" + ", ".join(ZONE_NAMES) + ")"
        ],
        ["at: no UTC offset in tz"],
        [],  # no time: nothing to convert (`required` catches it when it matters)
    ]


def test_offsets() -> None:
    zones = ["CST-6", "EST-5", "HST-10", "+05:30", "-0330", "UTC", "Z", "X-15", "+1:75", "GST10"]
    out = pl.DataFrame({"z": zones}).select(utc_offset_minutes("z")).to_series().to_list()
    assert out == [-360, -300, -600, 330, -210, 0, 0, None, None, 600]


@pytest.mark.parametrize(
    ("name", "minutes"),
    [
        ("CST", -360),
        ("cdt", -300),
        ("ESt", -300),
        ("EDT", -240),
        ("PDT", -420),
        ("AKST", -540),
        ("HST", -600),
        ("SST", -660),
        ("AST", -240),
        ("GST", 600),
        ("CSC", None),
        ("SCT", None),
        ("UNK", None),
        ("", None),
    ],
)
def test_bare_zone_names_of_old_noaa_files(name: str, minutes: int | None) -> None:
    out = pl.DataFrame({"z": [name]}).select(utc_offset_minutes("z")).to_series().to_list()
    assert out == [minutes]


def test_utc_takes_the_century_from_another_column() -> None:
    steps = f"      - utc: {{column: at, offset_from: tz, formats: [{FORMAT}], century_from: yr}}\n"
    text = (
        "pipelines:\n  p:\n    sources: {s: {type: file, path: a.csv}}\n"
        f"    transforms:\n{steps}"
        "    table: {name: t, columns: {at: datetime, tz: string, yr: integer}}\n"
    )
    pipe = parse_project(text).pipeline("p")
    r = StepRunner(pipe, list(pipe.table.columns))
    out = r.run(
        frame(
            at=["01-JAN-50 13:05:00", "31-DEC-99 20:00:00", "01-JAN-00 01:00:00"],
            tz=["CST", "EST-5", "PST"],
            yr=["1950", "1999", "1999"],
        )
    )
    assert out.get_column("at").to_list() == [
        datetime(1950, 1, 1, 19, 5, tzinfo=UTC),
        datetime(2000, 1, 1, 1, 0, tzinfo=UTC),
        datetime(2000, 1, 1, 9, 0, tzinfo=UTC),  # the next year, nearest to 1999
    ]


def test_utc_refuses_formats_with_a_zone_and_unknown_columns() -> None:
    with pytest.raises(ProjectInvalid, match="has a zone"):
        runner("      - utc: {column: at, offset_from: tz, formats: ['%Y-%m-%d %H:%M%z']}\n")
    with pytest.raises(TransformError, match="step utc cannot run"):
        runner("      - utc: {column: at, offset_from: nope}\n")
    with pytest.raises(TransformError, match="step amount cannot run"):
        runner("      - amount: {columns: [nope]}\n")
