"""A table its owner made with fewer places than a declared decimal keeps
(``NUMERIC(10,2)``): PostgreSQL and DuckDB rounded 12.345 to 12.35 without a word,
MariaDB failed the whole load on its warning, and a value past the column's digits
failed it everywhere. Now such values are quarantined, each reason naming the two ways
on (the step that rounds it, or a wider column), and both are followed here as the
reason gives them."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sluice.dburl import normalize
from tests.conftest import warehouse_url
from tests.support.cli import sluice

PROJECT = """\
warehouse: {url}
pipelines:
  p:
    sources:
      s: {{type: file, path: data/*.csv}}
    destination: {{mode: {mode}}}
    table:
      name: prices
      keys: [id]
      columns:
        id: {{type: integer, required: true}}
        price: decimal
"""

#: id, price as written: fits NUMERIC(10,2), more places, too many digits before the point
CSV = b"id,price\n1,12.50\n2,12.345\n3,-0.001\n4,123456789.5\n5,99999999.99\n"

WIDEN = {
    "postgresql": "ALTER TABLE prices ALTER COLUMN price TYPE NUMERIC(38, 6)",
    "mysql": "ALTER TABLE prices MODIFY price DECIMAL(38, 6)",
    "duckdb": "ALTER TABLE prices ALTER COLUMN price TYPE DECIMAL(38, 6)",
}


def _sql(url: str, *statements: str) -> list[Any]:
    """Run ``statements`` on the warehouse; the last one's rows, if any."""
    if url.startswith("duckdb"):
        import duckdb

        with duckdb.connect(url.removeprefix("duckdb:///")) as conn:
            for s in statements:
                cur = conn.execute(s)
            return cur.fetchall() if statements[-1].startswith("SELECT") else []
    engine = sa.create_engine(normalize(url))
    try:
        with engine.begin() as conn:
            for s in statements:
                result = conn.execute(sa.text(s))
            return [tuple(r) for r in result] if statements[-1].startswith("SELECT") else []
    finally:
        engine.dispose()


def _project(root: Path, url: str, mode: str, step: str = "") -> None:
    yaml = PROJECT.format(url=url, mode=mode)
    if step:
        yaml = yaml.replace("    table:\n", f"    transforms:\n      - {step}\n    table:\n")
    (root / "sluice.yaml").write_text(yaml)


@pytest.mark.parametrize("mode", ["append", "merge"])
@pytest.mark.parametrize("dialect", ["postgresql", "mysql", "duckdb"])
def test_values_a_narrow_column_would_change_are_refused_and_both_fixes_load_them(
    request: pytest.FixtureRequest, tmp_path: Path, dialect: str, mode: str
) -> None:
    url = warehouse_url(request, dialect, tmp_path)
    _sql(url, "CREATE TABLE prices (id BIGINT PRIMARY KEY, price DECIMAL(10, 2))")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "prices.csv").write_bytes(CSV)
    _project(tmp_path, url, mode)
    out = sluice("run", "p", "-p", str(tmp_path), "--json")
    assert out.returncode == 3, out.stdout + out.stderr
    assert _sql(url, "SELECT id, price FROM prices ORDER BY id") == [
        (1, Decimal("12.50")),
        (5, Decimal("99999999.99")),
    ]
    entries = json.loads(sluice("quarantine", "list", "-p", str(tmp_path), "--json").stdout)
    reasons = {e["line"]: e["reasons"] for e in entries}
    assert sorted(reasons) == [3, 4, 5]
    shown = re.search(r"the table's column price \(([^)]+)\)", reasons[3][0])
    assert shown is not None and "10" in shown[1] and "2" in shown[1]
    assert "has more places after the point than the 2" in reasons[3][0]
    assert reasons[4][0].startswith("price: '-0.001' has more places")
    assert reasons[5][0].startswith("price: '123456789.5' has more than 8 digits before")
    assert len(reasons[5]) == 1

    # the step the reason names, pasted: the two with more places load rounded to 2
    step = reasons[3][0].split("add the step ")[1].split(", then `")[0]
    _project(tmp_path, url, mode, step)
    again = sluice("quarantine", "replay", "-p", str(tmp_path), "--json")
    assert again.returncode == 3, again.stdout + again.stderr  # the large one stays
    rows = dict(_sql(url, "SELECT id, price FROM prices ORDER BY id"))
    assert rows == {
        1: Decimal("12.50"),
        2: Decimal("12.34"),  # half to even
        3: Decimal("0.00"),
        5: Decimal("99999999.99"),
    }
    # the other way: the column widened in the warehouse, then replay
    _sql(url, WIDEN[dialect])
    _project(tmp_path, url, mode)
    last = sluice("quarantine", "replay", "-p", str(tmp_path), "--json")
    assert last.returncode == 0, last.stdout + last.stderr
    assert dict(_sql(url, "SELECT id, price FROM prices ORDER BY id"))[4] == Decimal("123456789.5")
    assert json.loads(sluice("quarantine", "list", "-p", str(tmp_path), "--json").stdout) == []


def test_a_replace_loads_every_place_into_the_table_it_makes(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = warehouse_url(request, "postgresql", tmp_path)
    _sql(url, "CREATE TABLE prices (id BIGINT PRIMARY KEY, price NUMERIC(10, 2))")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "prices.csv").write_bytes(CSV)
    _project(tmp_path, url, "replace")
    out = sluice("run", "p", "-p", str(tmp_path), "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    assert [v for _, v in _sql(url, "SELECT id, price FROM prices ORDER BY id")] == [
        Decimal(v) for v in ("12.50", "12.345", "-0.001", "123456789.5", "99999999.99")
    ]


def test_sqlite_keeps_what_it_is_given_whatever_digits_the_column_names(tmp_path: Path) -> None:
    import sqlite3
    from contextlib import closing

    url = f"sqlite:///{tmp_path / 'w.db'}"
    _sql(url, "CREATE TABLE prices (id BIGINT PRIMARY KEY, price NUMERIC(10, 2))")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "prices.csv").write_bytes(CSV)
    _project(tmp_path, url, "append")
    assert sluice("run", "p", "-p", str(tmp_path)).returncode == 0
    with closing(sqlite3.connect(tmp_path / "w.db")) as conn:
        stored = conn.execute("SELECT CAST(price AS TEXT) FROM prices ORDER BY id").fetchall()
    assert [Decimal(v) for (v,) in stored] == [
        Decimal(v) for v in ("12.5", "12.345", "-0.001", "123456789.5", "99999999.99")
    ]
