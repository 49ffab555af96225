"""``sluice --log-level`` and ``--log-format``: the run log on stderr, from a real run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.unit.test_logs import FILES, PROJECT


def sluice(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "80", "SLUICE_PROGRESS": "none"}
    env.pop("SLUICE_LOG_LEVEL", None)
    env.pop("SLUICE_LOG_FORMAT", None)
    return subprocess.run(
        [sys.executable, "-m", "sluice", *args, "-p", str(folder)],
        capture_output=True,
        text=True,
        env=env,
        cwd=folder,
    )


def test_log_format_json_writes_the_run_log_as_json_lines(
    make_project: Callable[..., Path],
) -> None:
    folder = make_project(PROJECT, FILES)
    done = sluice(folder, "--log-level", "info", "--log-format", "json", "run", "p", "--json")
    assert done.returncode == 3, done.stderr
    report = json.loads(done.stdout)  # stdout keeps the one document
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    run_log = [d for d in lines if d.get("logger") == "sluice.run"]
    assert run_log[0]["message"] == "run of p started"
    assert run_log[-1]["message"] == "run finished: succeeded_with_quarantine"
    assert {d["run_id"] for d in run_log} == {report["run_id"]}
    assert run_log[-1]["loaded"] == 2 and run_log[-1]["pipeline"] == "p"


def test_without_the_options_the_run_log_stays_off_stderr(
    make_project: Callable[..., Path],
) -> None:
    folder = make_project(PROJECT, FILES)
    done = sluice(folder, "run", "p", "--json")
    assert done.returncode == 3
    assert "run of p started" not in done.stderr
    text = sluice(folder, "--log-level", "info", "run", "p", "--full-refresh")
    assert "info sluice.run: run of p started [" in text.stderr
