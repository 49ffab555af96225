"""The service's run run process (``python -m sluice.executors.run_process``) when it cannot
record its run: one line on stderr for the server to quote, never a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from sluice.testing import copy_example


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_state_store_it_cannot_open_is_one_line_naming_the_variable(tmp_path: Path) -> None:
    project = tmp_path / "leads"
    copy_example("leads", project)
    url = f"postgresql://postgres:s3cret@127.0.0.1:{_closed_port()}/test"
    env = {**os.environ, "SLUICE_STATE_URL": url}
    args = ["--project", str(project), "--pipeline", "leads", "--run-id", "20261130T000000-1"]
    done = subprocess.run(
        [sys.executable, "-m", "sluice.executors.run_process", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: cannot open the state store"), line
    assert "SLUICE_STATE_URL" in line and "s3cret" not in line
