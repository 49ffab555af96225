"""A typed source's numbers (Parquet) become integers, booleans and times as the same
numbers written as text do: a cast never cuts 1.5 to 1, makes 2 true, or takes a number
for days or microseconds since 1970."""

from __future__ import annotations

import math

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sluice.transforms.cast import DateOptions, cast


def typed_and_text(
    values: pl.Series, to: str, formats: list[str] | None = None
) -> tuple[list[object], list[object]]:
    """``values`` cast to ``to`` as typed, and as the text Python writes of them."""
    spec = DateOptions(formats=formats)
    text = pl.Series([None if v is None else repr(v) for v in values.to_list()], dtype=pl.String)
    got = pl.DataFrame({"x": values}).select(cast("x", values.dtype, to, spec)[0])
    said = pl.DataFrame({"x": text}).select(cast("x", pl.String(), to, spec)[0])
    return got.to_series().to_list(), said.to_series().to_list()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.none()), max_size=20))
def test_a_float_is_an_integer_only_when_python_says_it_is_whole(
    values: list[float | None],
) -> None:
    got, said = typed_and_text(pl.Series(values, dtype=pl.Float64), "integer")
    expected = [
        int(v) if v is not None and math.isfinite(v) and v.is_integer() and abs(v) < 2**63 else None
        for v in values
    ]
    assert got == expected
    # the text Python writes of it reads the same (1e+16 is text no integer reads: its
    # exponent; the typed value is whole)
    assert [g for g, s, v in zip(got, said, values, strict=True) if "e" not in repr(v)] == [
        s for s, v in zip(said, values, strict=True) if "e" not in repr(v)
    ]


@given(st.lists(st.one_of(st.integers(-3, 3), st.none()), max_size=20))
def test_a_number_is_a_boolean_only_as_1_or_0(values: list[int | None]) -> None:
    got, said = typed_and_text(pl.Series(values, dtype=pl.Int64), "boolean")
    assert got == [None if v not in (0, 1) else v == 1 for v in values]
    assert got == said


@pytest.mark.parametrize(
    ("formats", "expected"),
    [
        (["epoch_ms"], "2023-11-14 22:13:20+00:00"),
        (["epoch_s"], None),  # year 55,841: past what strptime reads (9999)
        (None, None),  # no format reads a number: refused, not taken for microseconds
    ],
)
def test_a_number_is_a_time_only_by_the_columns_formats(
    formats: list[str] | None, expected: str | None
) -> None:
    got, said = typed_and_text(pl.Series([1_700_000_000_000]), "datetime", formats)
    assert [str(v) if v is not None else None for v in got] == [expected]
    assert got == said
