"""Validation rules: type, required, unique, regex, range, accepted; every reason kept."""

from __future__ import annotations

import math
import re
from datetime import date
from decimal import Context, Decimal

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_series_equal

from sluice.batch import LINE
from sluice.config import TableConfig
from sluice.dtypes import POLARS_TYPES
from sluice.transforms import Validator
from sluice.transforms.cast import (
    BOOLEAN_WORDS_NOTE,
    DECIMAL_KEEPS,
    MORE_PLACES_NOTE,
    NOT_FINITE_NOTE,
    OUT_OF_RANGE_NOTE,
    TICK_NOTE,
    cast_value,
)


def validator(
    columns: dict[str, object], keys: list[str] | None = None, unique_keys: bool = False
) -> Validator:
    table = TableConfig.model_validate({"name": "t", "columns": columns, "keys": keys or []})
    return Validator(table, unique_keys=unique_keys)


def text_frame(**cols: list[str | None]) -> pl.DataFrame:
    n = len(next(iter(cols.values())))
    data = {k: pl.Series(k, v, dtype=pl.String) for k, v in cols.items()}
    return pl.DataFrame({**data, LINE: list(range(2, n + 2))})


def reasons_by_line(bad: pl.DataFrame) -> dict[int, list[str]]:
    return dict(
        zip(bad.get_column(LINE).to_list(), bad.get_column("_reasons").to_list(), strict=True)
    )


# 2**53 + 1 stays exact: integers are not parsed through a float.
BIG = ("9007199254740993", 9007199254740993)


@pytest.mark.parametrize(
    ("type_", "good", "bad"),
    [
        (
            "integer",
            [
                *[("42", 42), ("1,200", 1200), ("-3", -3), ("12.0", 12), ("12.", 12), BIG],
                # spaces between thousands (ISO 80000; French and Swiss exports, no-break)
                *[("1 200", 1200), ("-1\u00a0234\u00a0567", -1234567), ("2\u202f500", 2500)],
            ],
            ["12.5", "xy", "1e+", "1.0.0", "+", "12 34", "1 2345"],
        ),
        (
            "float",
            [("1.5", 1.5), ("-2", -2.0), ("3,000.25", 3000.25), ("3 000.25", 3000.25)],
            ["abc", "3 0.25"],
        ),
        (
            "decimal",
            [
                ("10.25", Decimal("10.25")),
                ("1.5000000", Decimal("1.5")),
                ("1\u00a0234.5", Decimal("1234.5")),
            ],
            ["ten", "0.1234567", "1 234 5"],
        ),
        (
            "boolean",
            [
                *[("yes", True), ("N", False), ("TRUE", True), ("0", False)],
                # as PostgreSQL reads them: forms' and devices' exports write on and off
                *[("on", True), ("OFF", False)],
            ],
            ["maybe", "o", "of"],
        ),
        ("date", [("2024-02-29", date(2024, 2, 29))], ["2023-02-29", "30/02/2024"]),
    ],
)
def test_type_casts_and_reasons(type_: str, good: list[tuple[str, object]], bad: list[str]) -> None:
    v = validator({"x": type_})
    inputs = [g for g, _ in good] + bad + [None]
    ok, rejected = v.run(text_frame(x=inputs))
    assert ok.get_column("x").to_list() == [expected for _, expected in good] + [None]
    assert reasons_by_line(rejected) == {
        2 + len(good) + i: [
            f"x: '{b}' is not a valid {type_}"
            + (" (formats tried: %Y-%m-%d)" if type_ == "date" else "")
            + (" (at most 32 digits before the point and 6 after)" if type_ == "decimal" else "")
            + (BOOLEAN_WORDS_NOTE if type_ == "boolean" else "")
            + (
                MORE_PLACES_NOTE.format(name="x", scale=6, keeps=DECIMAL_KEEPS)
                if b == "0.1234567"
                else ""
            )
        ]
        for i, b in enumerate(bad)
    }


#: what the reason of a number refused with a comma in it adds
COMMA = (
    "; a comma only separates thousands (1,234.5) unless the file is read with a decimal "
    "comma: set its source's csv.decimal: ',' (a CSV source), then `sluice quarantine replay`"
)


@pytest.mark.parametrize(
    ("type_", "text", "said"),
    [
        # a decimal comma (European exports): taking the comma out made these 125,
        # 1.23456 and 15
        ("decimal", "12,5", " (at most 32 digits before the point and 6 after)"),
        ("decimal", "1.234,56", " (at most 32 digits before the point and 6 after)"),
        ("float", "1,5", ""),
        ("integer", "1,2", ""),
        ("integer", "12,00", ""),
        ("integer", "1,2345", ""),
        ("decimal", ",5", " (at most 32 digits before the point and 6 after)"),
        ("decimal", "1,,234", " (at most 32 digits before the point and 6 after)"),
    ],
)
def test_a_comma_that_does_not_group_thousands_is_refused_not_taken_out(
    type_: str, text: str, said: str
) -> None:
    ok, bad = validator({"x": type_}).run(text_frame(x=[text, "1,234"]))
    assert ok.get_column("x").cast(pl.Float64).to_list() == [1234.0]
    assert reasons_by_line(bad) == {2: [f"x: '{text}' is not a valid {type_}{said}{COMMA}"]}


#: what the reason of an integer refused with dots between thousands adds
DOT = (
    "; a dot may separate thousands here (5.000 as 5000), so it is not read as either; "
    "a CSV source's csv.decimal: ',' reads it as 5000"
)


def test_an_integer_with_dots_between_thousands_is_refused_not_read_as_a_fraction() -> None:
    # A European export writes 5000 as 5.000: it was stored as 5 (its ".000" taken for
    # decimal zeros) while 1.234 was refused. Both are refused, with the same note;
    # decimal zeros that cannot be thousands (12.0, 0.000, 1234.000) still read.
    texts = ["5.000", "-7.000", "1.234", "1.000.000", "12.0", "0.000", "1234.000", " 12.00 "]
    ok, bad = validator({"x": "integer"}).run(text_frame(x=texts))
    assert ok.get_column("x").to_list() == [12, 0, 1234, 12]
    assert reasons_by_line(bad) == {
        line: [f"x: '{text}' is not a valid integer{DOT}"]
        for line, text in enumerate(texts[:4], start=2)
    }
    # in a decimal or float column a dot is the decimal point: 5.000 is 5
    ok, bad = validator({"x": "decimal", "y": "float"}).run(text_frame(x=["5.000"], y=["1.234"]))
    assert ok.row(0)[:2] == (Decimal("5.000"), 1.234) and bad.height == 0


def test_a_float_is_stored_only_when_it_is_the_finite_number_written() -> None:
    # Checked against Python's float(): NaN and infinities were stored (SQLite turned
    # NaN into NULL, MariaDB failed the load), 1e309 as infinity and 1e-400 as 0.

    texts = ["NaN", "nan", "inf", "-Infinity", "1e309", "-1e309", "1e-400", "0e-400"]
    texts += ["0.000", "-0.0", "1e-310", "1.5", "1.7976931348623157e308", "5e-324"]
    ok, bad = validator({"x": "float"}).run(text_frame(x=texts))
    kept = [t for t in texts if not _not_as_written(t)]
    assert kept == texts[7:]
    assert ok.get_column("x").to_list() == [float(t) for t in kept]
    note = NOT_FINITE_NOTE.format(name="x")
    assert reasons_by_line(bad) == {
        line: [f"x: '{t}' is not a valid float{note if 'n' in t.lower() else OUT_OF_RANGE_NOTE}"]
        for line, t in enumerate(texts[:7], start=2)
    }


def test_nan_in_a_typed_float_column_is_refused_too() -> None:
    frame = pl.DataFrame({"x": [1.5, float("nan"), float("inf")], LINE: [2, 3, 4]})
    ok, bad = validator({"x": "float"}).run(frame)
    assert ok.get_column("x").to_list() == [1.5]
    assert sorted(reasons_by_line(bad)) == [3, 4]


@settings(max_examples=300, deadline=None)
@given(
    st.integers(min_value=-(10**15), max_value=10**15),
    st.integers(min_value=0, max_value=999_999),
    st.booleans(),
)
def test_numbers_grouped_as_python_writes_them_read_back_and_swapped_ones_do_not(
    whole: int, cents: int, swap: bool
) -> None:
    # Python's own thousands grouping (format's ","), read back to the same number; the
    # same text with "." and "," swapped (a decimal comma) is no number unless Python's
    # grouping happens to allow it (a whole number of 3-digit groups, no decimals).
    text = f"{whole:,}.{cents:06d}"
    expected = Decimal(text.replace(",", ""))
    if swap:
        text = text.translate(str.maketrans(".,", ",."))
    ok, bad = validator({"x": "decimal"}).run(text_frame(x=[text]))
    got = ok.get_column("x").to_list()
    if not swap:
        assert got == [expected]
    else:
        assert got == [] and bad.height == 1


def test_each_value_gets_the_first_date_format_that_fits() -> None:
    v = validator({"d": {"type": "date", "formats": ["%Y-%m-%d", "%m/%d/%Y", "%d %b %Y"]}})
    ok, bad = v.run(text_frame(d=["2024-01-02", "03/04/2024", "05 Jun 2024", None, "13/13/2024"]))
    assert ok.get_column("d").to_list() == [
        date(2024, 1, 2),
        date(2024, 3, 4),
        date(2024, 6, 5),
        None,
    ]
    assert reasons_by_line(bad) == {
        6: ["d: '13/13/2024' is not a valid date (formats tried: %Y-%m-%d, %m/%d/%Y, %d %b %Y)"]
    }


def test_required_counts_null_but_not_a_failed_cast_twice() -> None:
    v = validator({"n": {"type": "integer", "required": True}})
    ok, bad = v.run(text_frame(n=["1", None, "xy"]))
    assert ok.get_column("n").to_list() == [1]
    assert reasons_by_line(bad) == {
        3: ["n: required but empty"],
        4: ["n: 'xy' is not a valid integer"],
    }


def test_regex() -> None:
    v = validator({"zip": {"type": "string", "regex": r"^\d{5}$"}})
    ok, bad = v.run(text_frame(zip=["02134", "2134", None, "021345"]))
    assert ok.get_column("zip").to_list() == ["02134", None]
    assert reasons_by_line(bad) == {
        3: [r"zip: '2134' does not match ^\d{5}$"],
        5: [r"zip: '021345' does not match ^\d{5}$"],
    }


def test_range_numbers() -> None:
    v = validator(
        {"n": {"type": "integer", "min": 0, "max": 500}, "f": {"type": "float", "min": 0.5}}
    )
    ok, bad = v.run(text_frame(n=["0", "500", "-1", "501"], f=["0.5", "1", "2", "0.4"]))
    assert ok.get_column("n").to_list() == [0, 500]
    assert reasons_by_line(bad) == {
        4: ["n: -1 is below the minimum 0"],
        5: ["n: 501 is above the maximum 500", "f: 0.4 is below the minimum 0.5"],
    }


def test_range_dates() -> None:
    v = validator({"d": {"type": "date", "min": "2000-01-01", "max": "2025-12-31"}})
    ok, bad = v.run(text_frame(d=["2000-01-01", "1999-12-31", "2026-01-01", "2025-12-31"]))
    assert ok.get_column("d").to_list() == [date(2000, 1, 1), date(2025, 12, 31)]
    assert reasons_by_line(bad) == {
        3: ["d: 1999-12-31 is below the minimum 2000-01-01"],
        4: ["d: 2026-01-01 is above the maximum 2025-12-31"],
    }


def test_accepted_strings_and_numbers() -> None:
    v = validator(
        {
            "s": {"type": "string", "accepted": ["active", "pending"]},
            "n": {"type": "integer", "accepted": [1, 2, 3]},
        }
    )
    ok, bad = v.run(text_frame(s=["active", "Active", None], n=["2", "4", "3"]))
    assert ok.rows() == [("active", 2, 2), (None, 3, 4)]  # an empty value is not checked
    assert reasons_by_line(bad) == {
        3: ["s: 'Active' is not one of: active, pending", "n: '4' is not one of: 1, 2, 3"],
    }
    assert ok.columns == ["s", "n", LINE]


def test_unique_across_batches_keeps_the_first_good_row() -> None:
    v = validator({"id": {"type": "integer", "unique": True}, "d": "date"})
    ok1, bad1 = v.run(text_frame(id=["1", "2", "1"], d=["2024-01-01", "bad", "2024-01-02"]))
    # the row with a bad date does not claim id 2
    assert ok1.get_column("id").to_list() == [1]
    assert reasons_by_line(bad1) == {
        3: ["d: 'bad' is not a valid date (formats tried: %Y-%m-%d)"],
        4: ["id: duplicate value '1' (the first one was kept)"],
    }
    ok2, bad2 = v.run(
        text_frame(id=["2", "1"], d=["2024-01-03", None]).with_columns(pl.Series(LINE, [10, 11]))
    )
    assert ok2.get_column("id").to_list() == [2]
    assert reasons_by_line(bad2) == {11: ["id: duplicate value '1' (the first one was kept)"]}


def test_merge_keys_are_unique_within_a_load() -> None:
    v = validator({"a": "string", "b": "integer"}, keys=["a", "b"], unique_keys=True)
    ok, bad = v.run(text_frame(a=["x", "x", "x"], b=["1", "2", "1"]))
    assert ok.rows() == [("x", 1, 2), ("x", 2, 3)]
    assert reasons_by_line(bad) == {4: ["a, b: duplicate value 'x, 1' (the first one was kept)"]}


def test_a_row_failing_several_rules_carries_every_reason() -> None:
    v = validator(
        {
            "id": {"type": "string", "required": True, "regex": "^[0-9]+$"},
            "state": {"type": "string", "regex": "^[A-Z]{2}$", "accepted": ["CA", "NY"]},
            "n": {"type": "integer", "max": 10},
            "d": {"type": "date", "required": True},
        }
    )
    ok, bad = v.run(text_frame(id=["abc"], state=["texas"], n=["11"], d=["31/12/2024"]))
    assert ok.height == 0
    assert reasons_by_line(bad) == {
        2: [
            "id: 'abc' does not match ^[0-9]+$",
            "state: 'texas' does not match ^[A-Z]{2}$",
            "state: 'texas' is not one of: CA, NY",
            "n: 11 is above the maximum 10",
            "d: '31/12/2024' is not a valid date (formats tried: %Y-%m-%d); it is written as "
            "'%d/%m/%Y': add it to the column's formats (formats: ['%Y-%m-%d', '%d/%m/%Y']), "
            "then `sluice quarantine replay`",
        ]
    }


def test_several_date_formats_for_one_column() -> None:
    v = validator({"d": {"type": "date", "formats": ["%Y-%m-%d", "%m/%d/%Y", "%d %b %Y"]}})
    ok, bad = v.run(
        text_frame(
            d=["2024-03-01", "03/02/2024", "3 Apr 2024", " 2024-05-06 ", "13/01/2024", "2024/01/01"]
        )
    )
    assert ok.get_column("d").to_list() == [
        date(2024, 3, 1),
        date(2024, 3, 2),
        date(2024, 4, 3),
        date(2024, 5, 6),
    ]
    assert reasons_by_line(bad) == {
        # a day-first date where the column reads month first: no format mends that
        6: ["d: '13/01/2024' is not a valid date (formats tried: %Y-%m-%d, %m/%d/%Y, %d %b %Y)"],
        7: [
            "d: '2024/01/01' is not a valid date (formats tried: %Y-%m-%d, %m/%d/%Y, %d %b %Y); "
            "it is written as '%Y/%m/%d': add it to the column's formats (formats: "
            "['%Y-%m-%d', '%m/%d/%Y', '%d %b %Y', '%Y/%m/%d']), then `sluice quarantine replay`"
        ],
    }


def test_datetime_formats_are_utc() -> None:
    v = validator({"t": "datetime"})
    ok, bad = v.run(text_frame(t=["2024-01-02T03:04:05+02:00", "2024-01-02 03:04:05", "nope"]))
    got = [x.isoformat() for x in ok.get_column("t").to_list()]
    assert got == ["2024-01-02T01:04:05+00:00", "2024-01-02T03:04:05+00:00"]
    assert list(reasons_by_line(bad)) == [4]


# --------------------------------------------------------------------------- full run

RUN = """
pipelines:
  p:
    sources:
      s: {type: file, path: data/*.csv}
    table:
      name: leads
      columns:
        license: {type: string, required: true, unique: true, regex: '^\\d{5}$'}
        status: {type: string, accepted: [active, expired]}
        capacity: {type: integer, min: 0, max: 500}
        since: {type: date, formats: ['%Y-%m-%d', '%m/%d/%Y'], min: '1990-01-01'}
"""


def test_nul_bytes_are_looked_for_unless_the_reader_saw_none() -> None:
    data = text_frame(name=["ada", "lin\x00us"])
    reason = "name: holds a NUL byte"
    for nul_free in (False, True):
        _, bad = validator({"name": "string"}).run(data, nul_free=nul_free)
        assert bad.height == (0 if nul_free else 1)
    # A column a step computes (derive) may hold one even when the file did not.
    table = TableConfig.model_validate({"name": "t", "columns": {"name": "string"}})
    checked = Validator(table, computed=frozenset({"name"}))
    _, bad = checked.run(data, nul_free=True)
    assert reason in reasons_by_line(bad)[3][0]


def test_run_quarantines_with_every_reason(make_project, run_project) -> None:
    content = (
        "license,status,capacity,since\n"
        "00123,active,10,2001-02-03\n"  # 2 ok
        "00124,expired,20,02/03/2004\n"  # 3 ok, second date format
        "00123,active,5,2001-01-01\n"  # 4 duplicate license
        "12,gone,-1,1989-12-31\n"  # 5 four reasons
        ",active,ten,someday\n"  # 6 three reasons
    )
    out = run_project(make_project(RUN, {"data/a.csv": content}))
    c = out.counts("s")
    assert (c.read, c.loaded, c.quarantined, c.filtered) == (5, 2, 3, 0)
    assert out.rows() == [
        {"license": "00123", "status": "active", "capacity": 10, "since": "2001-02-03"},
        {"license": "00124", "status": "expired", "capacity": 20, "since": "2004-02-03"},
    ]
    got = {e.line: e.reasons for e in out.quarantine("row")}
    assert got == {
        4: ["license: duplicate value '00123' (the first one was kept)"],
        5: [
            r"license: '12' does not match ^\d{5}$",
            "status: 'gone' is not one of: active, expired",
            "capacity: -1 is below the minimum 0",
            "since: 1989-12-31 is below the minimum 1990-01-01",
        ],
        6: [
            "license: required but empty",
            "capacity: 'ten' is not a valid integer",
            "since: 'someday' is not a valid date (formats tried: %Y-%m-%d, %m/%d/%Y)",
        ],
    }
    payload = {e.line: e.payload for e in out.quarantine("row")}[5]
    assert payload == {"license": "12", "status": "gone", "capacity": "-1", "since": "1989-12-31"}


NUMBERS = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.decimals(allow_nan=False, places=3).map(str),
    st.from_regex(r"\A[ ]?[+-]?[0-9]{0,4}(,[0-9]{3})*(\.[0-9]*)?(e[+-]?[0-9])?[ ]?\Z"),
    st.from_regex(r"\A[+-]?[0-9]{0,4}([ \u00a0\u202f][0-9]{2,4})*(\.[0-9]*)?\Z"),
    st.sampled_from(["", " ", ".", "-", "nan", "1_000", "0x10", "12.00", "1,2,3", "١٢"]),
)


@settings(max_examples=300, deadline=None)
@given(texts=st.lists(st.one_of(NUMBERS, st.none()), min_size=1, max_size=30))
@pytest.mark.parametrize("type_", ["integer", "float", "decimal"])
def test_numbers_are_what_cleaning_every_value_first_makes_of_them(
    type_: str, texts: list[str | None]
) -> None:
    """Numbers cast as written, and only those that fail cleaned and cast again, are
    the numbers that cleaning every value first (spaces, the commas of a number grouped
    by thousands, an integer's ``.0``) and casting it gives. A comma anywhere else is
    left in, and the value is no number (``12,5`` is not 125)."""
    target = POLARS_TYPES[type_]
    raw = pl.Series("x", texts, dtype=pl.String)
    clean = pl.Series([_ungrouped(t) for t in texts], dtype=pl.String)
    if type_ == "integer":  # dots between thousands (5.000) are refused, not read as 5
        grouped = r"[+-]?[1-9]\d{0,2}(\.\d{3})+"
        dotted = [t is not None and re.fullmatch(grouped, t) is not None for t in clean]
        clean = clean.str.replace(r"\.0*$", "").set(pl.Series(dotted, dtype=pl.Boolean), None)
    expected = clean.cast(target, strict=False)
    if type_ == "float":  # stored only as the finite number Python reads
        changed = [t is not None and _not_as_written(t) for t in clean.to_list()]
        expected = expected.set(pl.Series(changed, dtype=pl.Boolean), None)  # type: ignore[arg-type]
    if type_ == "decimal":  # places past the scale are refused, never rounded away
        lost = [t is not None and _past_scale(t) for t in clean.to_list()]
        expected = expected.set(pl.Series(lost, dtype=pl.Boolean), None)  # type: ignore[arg-type]
    got = pl.DataFrame([raw]).select(cast_value(pl.col("x"), pl.String(), type_)).to_series()
    assert_series_equal(got, expected, check_names=False)  # NaN equals NaN here


def _not_as_written(text: str) -> bool:
    """Python reads ``text`` as NaN, an infinity, or 0 where it has a non-zero digit."""
    try:
        number = float(text)
    except ValueError:
        return False
    mantissa = re.split("[eE]", text)[0]
    return not math.isfinite(number) or (number == 0 and any(c in "123456789" for c in mantissa))


def _ungrouped(text: str | None) -> str | None:
    """``text`` without spaces around it and, where they group its digits by thousands
    (as Python's ``f"{n:,}"`` writes them, or as ISO 80000 does), without its commas or
    spaces."""
    if text is None:
        return None
    text = text.strip(" \u00a0\u202f")  # as Polars strips them (Unicode White_Space)
    if re.fullmatch(r"[+-]?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]*)?", text):
        return text.replace(",", "")
    if re.fullmatch(r"[+-]?[0-9]{1,3}(?:[ \u00a0\u202f][0-9]{3})+(?:\.[0-9]*)?", text):
        return re.sub(r"[ \u00a0\u202f]", "", text)
    return text


def _past_scale(text: str) -> bool:
    """Whether Python's decimal reads ``text`` with digits past 6 places."""
    try:
        number = Decimal(text)
        cut = number.quantize(Decimal("1e-6"), context=Context(prec=100))
    except ArithmeticError:  # not a number, or too large for any decimal column
        return False
    return number != cut


def test_the_step_the_nan_reason_names_reads_nan_as_null_in_text_and_typed_floats() -> None:
    from sluice.config import parse_project
    from sluice.transforms.steps import StepRunner

    step = NOT_FINITE_NOTE.format(name="x").split("with the step ")[1]
    project = parse_project(
        "pipelines:\n  p:\n    sources: {s: {type: file, path: a.csv}}\n"
        f"    transforms:\n      - {step}\n    table: {{name: t, columns: {{x: float}}}}\n"
    )
    pipe = project.pipeline("p")
    for values in (["1.5", "NaN", None, "nan"], [1.5, float("nan"), None, float("nan")]):
        frame = pl.DataFrame({"x": values, LINE: [2, 3, 4, 5]})
        derived = StepRunner(pipe, ["x"]).run(frame)
        ok, bad = validator({"x": "float"}).run(derived.select("x", LINE))
        assert ok.get_column("x").to_list() == [1.5, None, None, None] and bad.height == 0


def test_an_integer_past_a_bigint_says_so_and_a_grouped_comma_is_not_blamed() -> None:
    from sluice.transforms.cast import BIG_NOTE

    texts = ["9223372036854775807", "9223372036854775808", "-9223372036854775809"]
    texts += ["1,000,000,000,000,000,000,000", "1,234.5"]
    ok, bad = validator({"x": "integer"}).run(text_frame(x=texts))
    assert ok.get_column("x").to_list() == [2**63 - 1]
    assert reasons_by_line(bad) == {
        3: [f"x: '9223372036854775808' is not a valid integer{BIG_NOTE}"],
        4: [f"x: '-9223372036854775809' is not a valid integer{BIG_NOTE}"],
        5: [f"x: '1,000,000,000,000,000,000,000' is not a valid integer{BIG_NOTE}"],
        6: ["x: '1,234.5' is not a valid integer"],  # its comma groups thousands: no note
    }
    # a Parquet uint64 past it says the same
    frame = pl.DataFrame({"x": pl.Series([2**63 + 5], dtype=pl.UInt64), LINE: [2]})
    _, bad = validator({"x": "integer"}).run(frame)
    assert reasons_by_line(bad) == {2: [f"x: '{2**63 + 5}' is not a valid integer{BIG_NOTE}"]}


def test_an_integer_excel_saved_in_scientific_notation_says_its_digits_are_lost() -> None:
    from sluice.transforms.cast import EXCEL_NOTE

    # Excel's General cells as it saves them to CSV: 123456789012 -> 1.23457E+11
    texts = ["1.23457E+11", "1E+12", "-9.87654E+15", "1e3", "1.5E+3 x", "123456789012"]
    ok, bad = validator({"x": "integer"}).run(text_frame(x=texts))
    assert ok.get_column("x").to_list() == [123456789012]
    assert reasons_by_line(bad) == {
        2: [f"x: '1.23457E+11' is not a valid integer{EXCEL_NOTE}"],
        3: [f"x: '1E+12' is not a valid integer{EXCEL_NOTE}"],
        4: [f"x: '-9.87654E+15' is not a valid integer{EXCEL_NOTE}"],
        5: ["x: '1e3' is not a valid integer"],  # not how Excel writes it
        6: ["x: '1.5E+3 x' is not a valid integer"],
    }
    # a float or decimal column reads the number the file holds, as before
    ok, bad = validator({"f": "float"}).run(text_frame(f=["1.23457E+11"]))
    assert ok.get_column("f").to_list() == [123457000000.0] and bad.height == 0


def test_statistical_tables_markers_and_flags_name_what_loads_them() -> None:
    from sluice.transforms.cast import FLAG_NOTE, NULL_MARKER_NOTE, PERCENT_NOTE

    # ONS, Eurostat and US Census tables: a marker in place of a number, a flag after one
    texts = [":", "..", "[x]", "[c]", "(D)", "x", "12.5%", "-3 %", "89 (p)", "1234*"]
    texts += ["12.5 e", "5K", "567[a]", "1,5"]
    ok, bad = validator({"v": "float"}).run(text_frame(v=texts))
    assert ok.height == 0
    notes = {
        line: reasons[0].split(" is not a valid float")[1]
        for line, reasons in reasons_by_line(bad).items()
    }
    marker, percent, flag = (
        NULL_MARKER_NOTE,
        PERCENT_NOTE.format(name="v"),
        FLAG_NOTE.format(name="v"),
    )
    assert [notes[n] for n in range(2, 8)] == [marker] * 6
    assert [notes[8], notes[9]] == [percent, percent]
    assert [notes[10], notes[11], notes[12]] == [flag, flag, flag]
    assert "amount" in notes[13] and "mark follows" not in notes[13]  # money, said once
    assert notes[14] == "" and not notes[15].startswith("; a mark")
    # in a boolean column an x is a ticked box: no missing-value note, the tick's
    _, bad = validator({"b": "boolean"}).run(text_frame(b=["x"]))
    assert reasons_by_line(bad) == {
        2: ["b: 'x' is not a valid boolean" + TICK_NOTE.format(name="b")]
    }


def test_a_typographic_minus_refused_by_a_number_type_names_the_step_that_reads_it() -> None:
    from sluice.transforms.cast import DASH_NOTE

    columns = {"n": "integer", "f": "float", "d": "decimal", "s": "string"}
    texts = ["\u22125", "\u20135", "5\u2212", "x5"]
    ok, bad = validator(columns).run(text_frame(n=texts, f=texts, d=texts, s=texts))
    reasons = reasons_by_line(bad)
    said = [
        [r.endswith(DASH_NOTE.format(name=r[0], where="")) for r in reasons[n]]
        for n in (2, 3, 4, 5)
    ]
    assert said == [[True] * 3] * 3 + [[False] * 3]  # `x5` has no dash, and no note
    assert reasons[2][0].startswith("n: '\u22125' is not a valid integer; its minus is")
    assert ok.height == 0


@pytest.mark.parametrize(
    ("note", "texts"),
    [
        # `10:00+00` is no time %H:%M:%S reads, whatever its offset
        (
            "HOURS_OFFSET_NOTE",
            ["2024-01-05 10:00:00+00", "2024-01-05 10:00:00.5-03", "2024-01-05 10:00+00"],
        ),
        # BigQuery's `UTC`; EST names no one offset (Australia has one too): no step for it
        (
            "ZONE_NAMED_NOTE",
            ["2024-01-05 10:00:00 UTC", "2024-01-05T10:00GMT", "2024-01-05 10:00:00 EST"],
        ),
    ],
)
def test_a_zone_percent_z_does_not_read_names_its_step_where_the_formats_read_offsets(
    note: str, texts: list[str]
) -> None:
    from sluice.transforms import cast

    said = getattr(cast, note)
    columns = {
        "a": "datetime",  # the default formats end with %z
        "b": {"type": "datetime", "formats": ["%Y-%m-%d %H:%M:%S"]},  # no offset read
    }
    ok, bad = validator(columns).run(text_frame(a=texts, b=texts))
    reasons = reasons_by_line(bad)
    noted = [[r.endswith(said.format(name=r[0])) for r in reasons[n]] for n in (2, 3, 4)]
    assert noted == [[True, False], [True, False], [False, False]]
    assert ok.height == 0


def test_a_time_written_to_the_nanosecond_names_the_step_that_cuts_it() -> None:
    from sluice.transforms.cast import NANOSECONDS_NOTE

    texts = [
        "2024-01-05 10:00:00.123456789",  # pandas' to_csv of nanosecond times
        "2024-01-05T10:00:00.1234567Z",  # Go's RFC 3339 "nano"
        "2024-01-05 10:00:00.123456",  # microseconds: read
        "2024-01-05 10:00:00.1234567 PM",  # not a time of any format: no note
        "1234567.1234567",
    ]
    ok, bad = validator({"t": "datetime"}).run(text_frame(t=texts))
    reasons = reasons_by_line(bad)
    noted = {n: r[0].endswith(NANOSECONDS_NOTE.format(name="t")) for n, r in reasons.items()}
    assert noted == {2: True, 3: True, 5: True, 6: False}
    assert ok.get_column(LINE).to_list() == [4]


def test_a_missing_value_marker_refused_by_a_type_names_the_setting_that_reads_it_as_null() -> None:
    from sluice.transforms.cast import NULL_MARKER_NOTE

    columns = {"n": "integer", "d": "date", "b": "boolean", "s": "string"}
    ok, bad = validator(columns).run(
        text_frame(
            n=[" N/A ", "x1", "3"],
            d=["-", "2024-01-05", "#N/A"],
            b=["NULL", "y", "?"],
            s=["N/A"] * 3,
        )
    )
    reasons = reasons_by_line(bad)
    assert reasons[2] == [
        f"n: ' N/A ' is not a valid integer{NULL_MARKER_NOTE}",
        f"d: '-' is not a valid date (formats tried: %Y-%m-%d){NULL_MARKER_NOTE}",
        f"b: 'NULL' is not a valid boolean{NULL_MARKER_NOTE}",
    ]
    assert reasons[3] == ["n: 'x1' is not a valid integer"]  # no marker, no note
    assert reasons[4] == [
        f"d: '#N/A' is not a valid date (formats tried: %Y-%m-%d){NULL_MARKER_NOTE}",
        f"b: '?' is not a valid boolean{NULL_MARKER_NOTE}",
    ]
    assert ok.height == 0


def test_bad_rows_of_several_batches_explained_at_once_as_each_alone() -> None:
    """``explain`` of many batches' refused rows (three queries among them: a typed
    column, a batch the reader saw a NUL in; a key repeated from an earlier batch) says
    what ``run`` says of each batch on its own, in order."""
    columns = {
        "id": {"type": "integer", "required": True, "unique": True, "min": 1},
        "code": {"type": "string", "regex": "^[A-Z]{2}$"},
        "since": {"type": "date", "formats": ["%Y-%m-%d", "%m/%d/%Y"]},
    }
    batches = [
        text_frame(
            id=["1", "x", "3"], code=["AB", "ab", None], since=["2001-02-03", "2/30/2001", None]
        ),
        text_frame(
            id=["4", "1", "-5"], code=["CD", "EF", "GHI"], since=[None, "soon", "01/02/2003"]
        ),
        # typed ids (a Parquet file's): another schema, so another query, in between
        text_frame(
            id=["7", "8", "9"], code=["G1", "H\x00", "II"], since=["x", None, "2004-05-06"]
        ).with_columns(pl.col("id").cast(pl.Int64)),
        text_frame(id=[None, "10", "4"], code=["JJ", "K", "LL"], since=["", "2005-06-07", None]),
    ]
    batches = [b.with_columns(pl.col(LINE) + 10 * i) for i, b in enumerate(batches)]
    alone, together = validator(columns), validator(columns)
    nul_free = [True, True, False, True]
    expected = pl.concat(
        [alone.run(b, clean)[1] for b, clean in zip(batches, nul_free, strict=True)]
    )
    checked = [together.check(b, clean) for b, clean in zip(batches, nul_free, strict=True)]
    got = together.explain([refused for _, refused in checked])
    assert reasons_by_line(got) == reasons_by_line(expected)
    assert got.get_column(LINE).to_list() == sorted(reasons_by_line(expected))
    assert sorted(reasons_by_line(got)) == [3, 13, 14, 22, 23, 32, 33, 34]
    assert any("NUL" in r for r in reasons_by_line(got)[23])
    assert reasons_by_line(got)[34] == ["id: duplicate value '4' (the first one was kept)"]
    goods = [good for good, _ in checked]
    assert [g.get_column(LINE).to_list() for g in goods] == [[2, 4], [12], [24], []]
