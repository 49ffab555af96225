"""A warehouse connection dropped under the pool is logged in one line, not 20."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sluice.testing import processes

HOLDER = """
import sys
from sluice.destinations import connect

dest = connect(sys.argv[1])
raw = dest.engine.raw_connection()
cur = raw.cursor()
cur.execute("SELECT pg_backend_pid()")
print(cur.fetchone()[0], flush=True)
sys.stdin.readline()  # the test drops the connection meanwhile
raw.close()  # back to the pool, whose reset finds it dead
dest.close()
print("closed", flush=True)
"""


def test_the_pool_logs_a_dropped_connection_in_one_line(
    pg_url: str, pg_admin: object, tmp_path: Path
) -> None:
    proc = processes.Popen(
        [sys.executable, "-c", HOLDER, pg_url],
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    pid = int(proc.stdout.readline())
    pg_admin.execute("SELECT pg_terminate_backend(%s)", (pid,))  # type: ignore[attr-defined]
    out, err = proc.communicate("\n", timeout=60)
    assert out.strip() == "closed"
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("Exception during reset or similar: ")
    assert "terminating connection due to administrator command" in lines[0]
