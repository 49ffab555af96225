"""The CLI as a user runs it: ``sluice(...)`` in a process of its own."""

from __future__ import annotations

import os
import subprocess
import sys

from sluice.testing import processes


def sluice(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # Only what the test sets: a URL exported in the caller's shell must not leak in.
    base = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    full_env = {**base, **(env or {})}
    return processes.run(
        [sys.executable, "-m", "sluice", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=full_env,
    )
