"""SQLite loads drive ADBC's driver through its low-level bindings: the DB-API module
would import ``pyarrow.dataset``, and with it pandas wherever pandas is installed."""

from __future__ import annotations

import sqlite3
import sys
import textwrap
from pathlib import Path

from sluice.testing import processes

SCRIPT = textwrap.dedent(
    """
    import sys
    import polars as pl
    from sluice.destinations import connect
    from sluice.schema import ColumnSpec, TableSpec

    spec = TableSpec("t", [ColumnSpec("id", "integer"), ColumnSpec("day", "date")], keys=["id"])
    dest = connect(f"sqlite:///{sys.argv[1]}")
    for mode in ("append", "merge"):
        dest.prepare(spec, mode)
    batch = pl.DataFrame({"id": [1, 2], "day": ["2024-01-31", None]}).with_columns(
        pl.col("day").str.to_date()
    )
    print("first:", dest.load(spec, "merge", "k1", [batch]).rows)
    print("again:", dest.load(spec, "merge", "k1", [batch]).already_loaded)
    print("imported:", sorted(m for m in ("pandas", "pyarrow.dataset") if m in sys.modules))
    """
)


def test_a_sqlite_load_imports_neither_pyarrow_dataset_nor_pandas(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    out = processes.run(
        [sys.executable, "-c", SCRIPT, str(db)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    # The load's statements (marker lookup with a parameter, stage, upsert, marker)
    # all went through: the marker is found the second time.
    assert "first: 2" in out.stdout and "again: True" in out.stdout, out.stdout
    assert "imported: []" in out.stdout, out.stdout
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT id, day FROM t ORDER BY id").fetchall() == [
            (1, "2024-01-31"),
            (2, None),
        ]
