"""sluice.dtypes: the Series every batch's casts start from."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

import polars as pl
import pytest

from sluice.dtypes import repeated


@pytest.mark.parametrize(
    ("value", "dtype"),
    [(None, pl.Date()), (False, pl.Boolean()), ("", pl.String()), (None, pl.Datetime("us", "UTC"))],
)
@pytest.mark.parametrize("length", [0, 1, 19_000])
def test_repeated_is_what_polars_repeat_makes(
    value: object, dtype: pl.DataType, length: int
) -> None:
    made = repeated(value, length, dtype, "x")
    expected = pl.repeat(cast(Any, value), length, dtype=dtype, eager=True).alias("x")
    assert made.dtype == dtype
    assert made.equals(expected, check_names=True)


def test_a_repeated_series_takes_values_of_its_own() -> None:
    # The casts scatter into it: one batch's values must not show up in the next one's.
    first = repeated(None, 4, pl.Date()).scatter([1], dt.date(2024, 1, 2))
    second = repeated(None, 4, pl.Date())
    assert first.to_list() == [None, dt.date(2024, 1, 2), None, None]
    assert second.null_count() == 4
