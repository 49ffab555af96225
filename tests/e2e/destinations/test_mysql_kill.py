"""A process killed while it loads into MySQL/MariaDB leaves no row data behind in
temporary files (LOAD DATA LOCAL spools each batch to a CSV file first)."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from sluice.destinations.mysql import SPOOL_PREFIX
from sluice.testing import processes

LOADER = """
import sys
import polars as pl
from sluice.destinations import connect
from sluice.schema import ColumnSpec, TableSpec

dest = connect(sys.argv[1])
spec = TableSpec("big", [ColumnSpec("id", "integer"), ColumnSpec("s", "string")], ["id"])
n = int(sys.argv[2])
frame = pl.DataFrame({"id": range(n), "s": ["row data " * 4] * n})
dest.prepare(spec, "append")
dest.load(spec, "append", f"load-{n}", [frame])
dest.close()
print("loaded")
"""


def test_a_killed_load_leaves_no_row_data_in_temporary_files(
    mysql_url: str, tmp_path: Path
) -> None:
    """LOAD DATA LOCAL's CSV files: gone when a load ends, and those of a process
    killed mid-load are removed by the next process that opens a MySQL destination."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}

    def spooled() -> list[Path]:
        return [p for p in tmp.rglob("*") if p.is_file()]

    killed = processes.Popen(
        [sys.executable, "-c", LOADER, mysql_url, "2000000"], env=env, cwd=tmp_path
    )
    # Killed while a batch's file exists: it is frozen first (SIGSTOP) and looked at
    # again, since a load removes each batch's file as it ends and a kill between two
    # batches found none (seen once under a full suite on three workers).
    deadline = time.monotonic() + 60
    while killed.poll() is None and time.monotonic() < deadline:
        if spooled():
            os.kill(killed.pid, signal.SIGSTOP)
            while _state(killed.pid) not in ("T", "Z", None):
                time.sleep(0.001)
            if spooled():
                break
            os.kill(killed.pid, signal.SIGCONT)
        time.sleep(0.001)
    assert spooled(), "the load wrote no temporary file"
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait(10)
    assert spooled()  # the killed process could not clean up

    done = processes.run(
        [sys.executable, "-c", LOADER, mysql_url, "10"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.strip() == "loaded", done.stderr
    # What matters is the rows: no file holds them, and no spool folder is left (its own
    # went with its close). A library may leave a file of its own in TMPDIR when killed
    # (an 8-letter name was seen twice in a day of runs): not row data, not ours.
    assert [p for p in spooled() if b"row data" in p.read_bytes()] == []
    assert [d for d in tmp.iterdir() if d.name.startswith(SPOOL_PREFIX)] == []


def _state(pid: int) -> str | None:
    """The process's state letter (``T``: stopped), None once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return None
