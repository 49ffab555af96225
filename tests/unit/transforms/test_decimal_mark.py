"""Numbers written with a decimal comma (a CSV source's ``csv.decimal: ','``), and a
comma that may be either mark in a file delimited by ``;`` with the mark unstated."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sluice.config import TableConfig
from sluice.transforms import Validator
from sluice.transforms.cast import COMMA_DECIMAL_NOTE, EITHER_WAY_NOTE, DecimalMark
from tests.unit.transforms.test_validate import reasons_by_line, text_frame

DECIMAL = " (at most 32 digits before the point and 6 after)"


def validator(columns: dict[str, object], mark: DecimalMark) -> Validator:
    return Validator(TableConfig.model_validate({"name": "t", "columns": columns}), mark=mark)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(min_value=-(10**15), max_value=10**15),
    st.integers(min_value=0, max_value=999_999),
    st.sampled_from([".", " ", "\u00a0", "\u202f", ""]),
)
def test_numbers_written_with_a_decimal_comma_read_as_python_writes_them_with_a_point(
    whole: int, cents: int, group: str
) -> None:
    # Python's own grouping (format's ","), its marks turned as a decimal-comma locale
    # writes them: 1.234.567,5 (German), 1 234 567,5 (French, also with no-break spaces).
    written = f"{whole:,}.{cents:06d}"
    expected = Decimal(written.replace(",", ""))
    text = written.replace(".", "#").replace(",", group).replace("#", ",")
    ok, bad = validator({"x": "decimal", "y": "float"}, ",").run(text_frame(x=[text], y=[text]))
    assert bad.height == 0, reasons_by_line(bad)
    assert ok.row(0)[:2] == (expected, float(expected))
    # the same number as Python writes it (a point, commas between thousands) is no
    # number where the comma is the mark: it is refused, never read as a thousandth
    ok, bad = validator({"x": "decimal"}, ",").run(text_frame(x=[written]))
    assert ok.height == 0
    assert reasons_by_line(bad) == {
        2: [f"x: '{written}' is not a valid decimal{DECIMAL}{COMMA_DECIMAL_NOTE}"]
    }


def test_an_integer_written_with_a_decimal_comma() -> None:
    texts = ["1.234", "1.234.567", "12,0", "-5.000", " 7 ", "1 234", "12,5", "1.5", "1,234.5"]
    ok, bad = validator({"x": "integer"}, ",").run(text_frame(x=texts))
    assert ok.get_column("x").to_list() == [1234, 1234567, 12, -5000, 7, 1234]
    assert reasons_by_line(bad) == {
        8: ["x: '12,5' is not a valid integer"],  # 12.5: the marks were no trouble
        9: ["x: '1.5' is not a valid integer" + COMMA_DECIMAL_NOTE],
        10: ["x: '1,234.5' is not a valid integer" + COMMA_DECIMAL_NOTE],
    }


def test_a_decimal_comma_keeps_every_place_or_refuses_the_value() -> None:
    # 0,1234567 has a place more than a decimal column keeps: refused, not rounded
    ok, bad = validator({"x": "decimal"}, ",").run(text_frame(x=["0,1234567", "0,1234560"]))
    assert ok.get_column("x").to_list() == [Decimal("0.123456")]
    assert reasons_by_line(bad) == {2: [f"x: '0,1234567' is not a valid decimal{DECIMAL}"]}


@pytest.mark.parametrize("type_", ["integer", "float", "decimal"])
def test_one_comma_group_is_refused_as_either_where_the_mark_is_unstated(type_: str) -> None:
    # `1,234` in a file delimited by ';' is 1234 or 1.234: it was stored as 1234 beside
    # rows (`1,5`) that showed the file writes a decimal comma. Unambiguous ones read.
    texts = ["1,234", "-1,234", "12,345,678", "1,234.5", "1234"]
    ok, bad = validator({"x": type_}, "unstated").run(text_frame(x=texts))
    read = [12345678.0, 1234.0] if type_ == "integer" else [12345678.0, 1234.5, 1234.0]
    assert ok.get_column("x").cast(pl.Float64).to_list() == read
    said = DECIMAL if type_ == "decimal" else ""
    expected = {
        2: [f"x: '1,234' is not a valid {type_}{said}{EITHER_WAY_NOTE}"],
        3: [f"x: '-1,234' is not a valid {type_}{said}{EITHER_WAY_NOTE}"],
    }
    if type_ == "integer":  # 1,234.5 is no integer either way
        expected[5] = ["x: '1,234.5' is not a valid integer"]
    assert reasons_by_line(bad) == expected


def test_a_point_as_the_mark_reads_one_comma_group_as_thousands() -> None:
    ok, bad = validator({"x": "integer"}, ".").run(text_frame(x=["1,234", "-1,234"]))
    assert ok.get_column("x").to_list() == [1234, -1234] and bad.height == 0
