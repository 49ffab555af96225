"""A decimal refused for its places, or as NaN, names the step that loads it; the step
pasted from the reason rounds as Python's ``Decimal`` does and leaves every other value
as it was, so it neither fails a run nor turns a refused value into a null."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from sluice.batch import LINE
from sluice.config import TableConfig, parse_project
from sluice.schema import Narrow
from sluice.transforms import Validator
from sluice.transforms.cast import MORE_PLACES_NOTE, NOT_FINITE_DECIMAL_NOTE
from sluice.transforms.steps import StepRunner

NOTE = MORE_PLACES_NOTE.format(name="x", scale=6)
REFUSED = "is not a valid decimal (at most 32 digits before the point and 6 after)"


def validated(values: list[object]) -> tuple[pl.DataFrame, dict[int, list[str]]]:
    """(the rows loaded, reasons by line) of ``values`` in the decimal column ``x``."""
    table = TableConfig.model_validate({"name": "t", "columns": {"x": "decimal"}})
    frame = pl.DataFrame({"x": values}).with_row_index(LINE, offset=2)
    ok, bad = Validator(table).run(frame.with_columns(pl.col(LINE).cast(pl.Int64)))
    reasons = {int(r[LINE]): list(r["_reasons"]) for r in bad.iter_rows(named=True)}
    return ok, reasons


def stepped(values: list[object]) -> pl.DataFrame:
    """``values`` through the step the note names, pasted as a user would."""
    step = NOTE.split("add the step ")[1].split(", then `")[0]
    project = parse_project(
        "pipelines:\n  p:\n    sources: {s: {type: file, path: a.csv}}\n"
        f"    transforms:\n      - {step}\n    table: {{name: t, columns: {{x: decimal}}}}\n"
    )
    frame = pl.DataFrame({"x": values, LINE: list(range(2, len(values) + 2))})
    return StepRunner(project.pipeline("p"), ["x"]).run(frame).select("x", LINE)


def test_places_past_the_scale_name_the_step_that_rounds_them() -> None:
    texts = ["1.1234567", " -0.30000000000000004 ", "2.5e-7", "1,234.1234567", "1e40", "7.5"]
    ok, reasons = validated(texts)
    assert reasons == {
        2: [f"x: '1.1234567' {REFUSED}{NOTE}"],
        3: [f"x: ' -0.30000000000000004 ' {REFUSED}{NOTE}"],
        4: [f"x: '2.5e-7' {REFUSED}{NOTE}"],
        # refused for its grouping or its size: no rounding loads it, no note
        5: [f"x: '1,234.1234567' {REFUSED}"],
        6: [f"x: '1e40' {REFUSED}"],
    }
    assert ok.get_column("x").to_list() == [Decimal("7.5")]


def test_a_parquet_double_with_more_places_names_the_step_too() -> None:
    ok, reasons = validated([0.1 + 0.2, 2.5e-7, 1.25])
    assert reasons == {
        2: [f"x: '0.30000000000000004' {REFUSED}{NOTE}"],
        3: [f"x: '2.5e-7' {REFUSED}{NOTE}"],
    }
    assert ok.get_column("x").to_list() == [Decimal("1.25")]


def test_nan_in_a_decimal_column_names_the_step_that_reads_it_as_null() -> None:
    ok, reasons = validated(["NaN", "-inf", "3"])
    note = NOT_FINITE_DECIMAL_NOTE.format(name="x")
    assert reasons == {2: [f"x: 'NaN' {REFUSED}{note}"], 3: [f"x: '-inf' {REFUSED}{note}"]}
    assert ok.height == 1


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=-(10**12), max_value=10**12),
            st.integers(min_value=0, max_value=10**12 - 1),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_the_step_rounds_text_half_to_even_as_pythons_decimal_does(
    numbers: list[tuple[int, int]],
) -> None:
    texts = [f"{'-' if whole < 0 else ''}{abs(whole)}.{part:012d}" for whole, part in numbers]
    ok, reasons = validated(stepped(texts).get_column("x").to_list())
    assert reasons == {}
    six = Decimal("0.000001")
    assert ok.get_column("x").to_list() == [
        Decimal(t).quantize(six, rounding=ROUND_HALF_EVEN) for t in texts
    ]


def test_the_step_keeps_every_other_value_as_written_and_rounds_doubles() -> None:
    texts = ["n/a", " 1.5 ", None, "NaN", "1,234.5", "0.0000025", "0.0000035"]
    assert stepped(texts).get_column("x").to_list() == [
        "n/a",
        " 1.5 ",
        None,
        "NaN",
        "1,234.5",
        "0.000002",  # half to even
        "0.000004",
    ]
    doubles = stepped([0.1 + 0.2, 2.5e-7, None, float("nan")]).get_column("x").to_list()
    assert doubles == ["0.300000", "0.000000", None, "NaN"]


def _narrowed(
    type_: str, narrow: Narrow, values: list[object]
) -> tuple[pl.DataFrame, dict[int, list[str]]]:
    table = TableConfig.model_validate({"name": "t", "columns": {"x": type_}})
    frame = pl.DataFrame({"x": values, LINE: list(range(2, len(values) + 2))})
    ok, bad = Validator(table, narrow={"x": narrow}).run(frame)
    return ok, {int(r[LINE]): list(r["_reasons"]) for r in bad.iter_rows(named=True)}


def test_a_narrow_decimal_column_refuses_what_it_would_round_or_could_not_hold() -> None:
    texts = ["12.5", "12.345", "-0.001", "99999999.99", "100000000", "-100000000.5", "1.1234567"]
    ok, reasons = _narrowed("decimal", Narrow("NUMERIC(10, 2)", places=(10, 2)), texts)
    assert ok.get_column("x").to_list() == [Decimal("12.5"), Decimal("99999999.99")]
    column = "the table's column x (NUMERIC(10, 2))"
    more = f"has more places after the point than the 2 {column} keeps (the database"
    big = f"has more than 8 digits before the point, which {column} holds: widen"
    assert {n: len(r) for n, r in reasons.items()} == {3: 1, 4: 1, 6: 1, 7: 1, 8: 1}
    assert reasons[3][0].startswith(f"x: '12.345' {more}")
    assert reasons[4][0].startswith(f"x: '-0.001' {more}")
    assert reasons[6][0].startswith(f"x: '100000000' {big}")
    assert reasons[7][0].startswith(f"x: '-100000000.5' {big}")
    assert reasons[8] == [f"x: '1.1234567' {REFUSED}{NOTE}"]  # past any decimal: as before


def test_a_datetime_column_of_whole_seconds_refuses_a_fraction_and_the_step_cuts_it() -> None:
    texts = ["2024-01-05 10:00:00", "2024-01-05 10:00:00.5", "2024-01-05T10:00:00.000+02:00"]
    texts += ["2024-01-05 10:00:00.000001Z"]
    ok, reasons = _narrowed("datetime", Narrow("DATETIME", fraction=0), texts)
    assert ok.get_column(LINE).to_list() == [2, 4]
    assert sorted(reasons) == [3, 5]
    said = reasons[3][0]
    assert said.startswith(
        "x: '2024-01-05 10:00:00.5' has a fraction of a second past the 0 digit(s) "
        "the table's column x (DATETIME) keeps"
    )
    step = said.split("add the step ")[1].split(", then `")[0]
    project = parse_project(
        "pipelines:\n  p:\n    sources: {s: {type: file, path: a.csv}}\n"
        f"    transforms:\n      - {step}\n    table: {{name: t, columns: {{x: datetime}}}}\n"
    )
    dotted = ["05.01.2024 10:00:00.75", "2024-01-05 10:00:00.5+02:00", None]
    frame = pl.DataFrame({"x": dotted, LINE: [2, 3, 4]})
    stepped = StepRunner(project.pipeline("p"), ["x"]).run(frame).get_column("x").to_list()
    assert stepped == ["05.01.2024 10:00:00", "2024-01-05 10:00:00+02:00", None]


def test_a_4_byte_float_column_refuses_what_it_would_show_otherwise() -> None:
    values = ["0.1", "1.5", "1.23456789", "16777217", "1e39", "123456.7", None]
    ok, reasons = _narrowed("float", Narrow("REAL", single=True), values)
    assert ok.get_column("x").to_list() == [0.1, 1.5, 123456.7, None]
    assert sorted(reasons) == [4, 5, 6]
    assert reasons[4][0].startswith(
        "x: '1.23456789' has more digits than the table's column x (REAL) keeps (a 4-byte"
    )
