"""The digits an existing decimal column keeps, read from what the database shows."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql

from sluice.destinations.found_types import Found, duckdb_places, narrow, places_of
from sluice.schema import Places


@pytest.mark.parametrize(
    ("type_", "places"),
    [
        (sa.Numeric(10, 2), (10, 2)),
        (postgresql.NUMERIC(12), (12, 0)),  # scale unstated: none
        (postgresql.NUMERIC(), None),  # PostgreSQL's numeric keeps every digit
        (mysql.DECIMAL(10, 2), (10, 2)),
        (sa.Float(53), None),
        (postgresql.DOUBLE_PRECISION(), None),
        (sa.BigInteger(), None),
    ],
)
def test_a_reflected_types_places(type_: sa.types.TypeEngine[object], places: object) -> None:
    assert places_of(type_) == places


@pytest.mark.parametrize(
    ("shown", "places"),
    [("DECIMAL(10,2)", (10, 2)), ("decimal(18, 3)", (18, 3)), ("DOUBLE", None), ("VARCHAR", None)],
)
def test_a_duckdb_types_places(shown: str, places: object) -> None:
    assert duckdb_places(shown) == places


def test_only_columns_keeping_fewer_digits_than_a_declared_decimal_are_narrow() -> None:
    have = {
        "a": Found(True, "NUMERIC(10, 2)", "decimal", (10, 2)),  # fewer of both
        "b": Found(True, "NUMERIC(38, 6)", "decimal", (38, 6)),  # as sluice makes it
        "c": Found(True, "NUMERIC(40, 8)", "decimal", (40, 8)),  # more of both
        "d": Found(True, "NUMERIC(20, 6)", "decimal", (20, 6)),  # 14 digits before the point
        "e": Found(True, "NUMERIC", "decimal", None),
        "f": Found(True, "NUMERIC(38, 10)", "decimal", (38, 10)),  # 28 before the point
        "g": Found(True, "TEXT", "string", None),
    }
    assert narrow(have, [*"abcdefg", "missing"]) == {
        "a": Places(10, 2, "NUMERIC(10, 2)"),
        "d": Places(20, 6, "NUMERIC(20, 6)"),
        "f": Places(38, 10, "NUMERIC(38, 10)"),
    }
