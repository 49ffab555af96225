"""A warehouse per test, for every SQL dialect sluice loads into.

``WAREHOUSES`` lists the dialects; a destination test that takes ``dest`` (or ``url``)
runs once per dialect, each on a fresh, empty database.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sluice.destinations import connect
from sluice.destinations.sql import SqlDestination
from sluice.dtypes import POLARS_TYPES
from sluice.schema import ColumnSpec
from tests.conftest import warehouse_url

WAREHOUSES = ["sqlite", "postgresql", "duckdb", "mysql"]


@pytest.fixture(params=WAREHOUSES)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return warehouse_url(request, request.param, tmp_path)


@pytest.fixture
def dest(url: str) -> Iterator[SqlDestination]:
    d = connect(url)
    assert isinstance(d, SqlDestination)
    yield d
    d.close()


#: one column of every declared type: what a round trip through a warehouse checks
EVERY_TYPE = [
    ColumnSpec("d", "date"),
    ColumnSpec("t", "datetime"),
    ColumnSpec("n", "decimal"),
    ColumnSpec("b", "boolean"),
    ColumnSpec("i", "integer"),
    ColumnSpec("s", "string"),
    ColumnSpec("f", "float"),
]
#: the frame's types for those columns, as validation makes them
EVERY_TYPE_SCHEMA = {c.name: POLARS_TYPES[c.type] for c in EVERY_TYPE}


def execute(url: str, *statements: str) -> list[tuple[object, ...]]:
    """Run ``statements`` in one transaction on the warehouse at ``url``, as a user
    pastes them into its client: the rows of the last one (none for DDL)."""
    d = connect(url)
    assert isinstance(d, SqlDestination)
    try:
        with d.engine.begin() as conn:
            for statement in statements:
                result = conn.exec_driver_sql(statement)
            return [tuple(r) for r in result] if result.returns_rows else []
    finally:
        d.engine.dispose()  # DuckDB: one process holds the file at a time
