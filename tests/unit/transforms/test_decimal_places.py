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
from sluice.transforms import Validator
from sluice.transforms.cast import DECIMAL_KEEPS, MORE_PLACES_NOTE, NOT_FINITE_DECIMAL_NOTE
from sluice.transforms.steps import StepRunner

NOTE = MORE_PLACES_NOTE.format(name="x", scale=6, keeps=DECIMAL_KEEPS)
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
