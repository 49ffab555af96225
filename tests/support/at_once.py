"""Several Python processes doing the same thing at the same moment (first-use races).

Each process imports what it needs, says it is ready, and waits for a common signal
(a file appearing), so the racy part starts within a millisecond in all of them. Inside
the body, ``barrier(k)`` lines them up again (round ``k``) for one more race.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

from sluice.testing import processes

PRELUDE = """
import glob, os, sys, time
ready, go, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.001)

def barrier(k):
    open(f"{ready}.{k}", "w").close()
    while len(glob.glob(os.path.join(os.path.dirname(ready), f"ready*.{k}"))) < n:
        time.sleep(0.001)
"""


def at_once(
    folder: Path,
    setup: str,
    body: str,
    n: int = 3,
    timeout: float = 120,
    meanwhile: Callable[[list[subprocess.Popen[str]]], None] | None = None,
) -> list[subprocess.CompletedProcess[str]]:
    """Run ``setup`` (imports) then, in all ``n`` processes together, ``body``;
    ``meanwhile(processes)`` is called once they are off (to open a gate, say)."""
    folder.mkdir(parents=True, exist_ok=True)
    go = folder / "go"
    go.unlink(missing_ok=True)
    code = textwrap.dedent(setup) + PRELUDE + textwrap.dedent(body)
    procs = []
    for i in range(n):
        ready = folder / f"ready{i}"
        ready.unlink(missing_ok=True)
        procs.append(
            (
                ready,
                processes.Popen(
                    [sys.executable, "-c", code, str(ready), str(go), str(n)],
                    cwd=folder,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                ),
            )
        )
    deadline = time.monotonic() + timeout
    while not all(r.exists() for r, _ in procs) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    if meanwhile is not None:
        meanwhile([p for _, p in procs])
    out = []
    for _, p in procs:
        stdout, stderr = p.communicate(timeout=timeout)
        out.append(subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr))
    return out
