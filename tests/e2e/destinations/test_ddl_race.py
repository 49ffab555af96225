"""Two first runs at once on an empty warehouse: each finds the tables missing and
makes them; neither may fail because the other made them a moment before."""

from __future__ import annotations

from pathlib import Path

import pytest

from sluice.destinations import connect
from sluice.destinations.sql import SqlDestination
from tests.conftest import warehouse_url
from tests.support.at_once import at_once

ROUNDS = 12


# DuckDB lets one process at a time open a database file: there is no race to have.
@pytest.mark.parametrize("dialect", ["sqlite", "postgresql", "mysql"])
def test_processes_creating_the_same_tables_at_once_all_succeed(
    request: pytest.FixtureRequest, dialect: str, tmp_path: Path
) -> None:
    url = warehouse_url(request, dialect, tmp_path)
    setup = f"""
        from sluice.destinations import connect
        from sluice.schema import ColumnSpec, TableSpec
        dest = connect({url!r})
        cols = [ColumnSpec("id", "integer"), ColumnSpec("name", "string")]
    """
    body = f"""
        for k in range({ROUNDS}):
            barrier(k)
            try:
                dest.prepare(TableSpec(f"items{{k}}", cols, ["id"]), "snapshot")
                print("made")
            except Exception as exc:
                print(f"round {{k}}: {{exc}}")
    """
    done = at_once(tmp_path / "race", setup, body, n=4)
    assert [p.stdout.split("\n")[:-1] for p in done] == [["made"] * ROUNDS] * 4, done
    dest = connect(url)
    assert isinstance(dest, SqlDestination)
    try:
        assert all(dest.count(f"items{k}_latest") == 0 for k in range(ROUNDS))
    finally:
        dest.close()
