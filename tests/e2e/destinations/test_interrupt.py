"""Ctrl-C inside a driver's own bulk call is a cancelled load, not a failed one.

ADBC's SQLite driver installs its own SIGINT handler while it ingests and raises its
own error (NOT_IMPLEMENTED: it cannot cancel) with the KeyboardInterrupt as its cause;
sluice's handler never runs. The destination must still call it a cancellation.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

from sluice.testing import processes

SCRIPT = textwrap.dedent(
    """
    import os, signal, sys, threading, time
    import polars as pl
    from sluice.destinations import connect
    from sluice.errors import RunCancelled
    from sluice.schema import ColumnSpec, TableSpec

    spec = TableSpec("t", [ColumnSpec("id", "integer"), ColumnSpec("name", "string")])
    dest = connect(f"sqlite:///{sys.argv[1]}")
    dest.prepare(spec, "append")
    n = 2_000_000  # ingested in ~0.7 s here: the signal comes 50 ms into it
    big = pl.DataFrame({"id": range(n), "name": pl.repeat("x" * 20, n, eager=True)})
    python_handler = []
    signal.signal(signal.SIGINT, lambda *a: python_handler.append(1))

    from sluice.destinations import sqlite_adbc as dbapi
    ingest = dbapi.Cursor.adbc_ingest

    def ingest_then_ctrl_c(self, *args, **kwargs):
        # Ctrl-C once the driver's own call has begun (its handler is installed then),
        # not at a guessed moment of the whole load.
        threading.Timer(0.05, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
        dbapi.Cursor.adbc_ingest = ingest
        return ingest(self, *args, **kwargs)

    dbapi.Cursor.adbc_ingest = ingest_then_ctrl_c
    try:
        dest.load(spec, "append", "k1", [big])
    except RunCancelled as exc:
        print("cancelled:", exc)
    else:
        print("loaded" if not python_handler else "missed")
    print("rows:", dest.count("t"))
    """
)


def test_ctrl_c_inside_the_sqlite_bulk_call_is_a_cancellation(tmp_path: Path) -> None:
    for _ in range(3):  # the signal may land outside the driver's call: try again
        db = tmp_path / "w.db"
        db.unlink(missing_ok=True)
        out = processes.run(
            [sys.executable, "-c", SCRIPT, str(db)], capture_output=True, text=True, timeout=120
        )
        assert out.returncode == 0, out.stderr
        if "missed" not in out.stdout:
            break
    assert "loading table 't' was interrupted (Ctrl-C)" in out.stdout, out.stdout
    assert "rows: 0" in out.stdout  # the table is as it was
