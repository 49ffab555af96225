"""``sluice run`` without a terminal: progress lines (or JSON Lines) on stderr every few
seconds, with percent, bytes and ETA for a file; ``--progress none`` says nothing. A
real run of a real file, in a subprocess whose stderr is a pipe."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

PROJECT = """
    name: t
    warehouse: sqlite:///wh.db
    state: sqlite:///state.db
    pipelines:
      p:
        sources:
          drops: {type: file, path: "data/*.csv"}
        transforms:
          - trim: all
        table:
          name: people
          columns:
            id: {type: integer, required: true}
            name: string
            city: string
"""
ROWS = 300_000


@pytest.fixture
def big(make_project: Callable[..., Path]) -> Path:
    body = "".join(f"{i},name number {i},city of {i % 977}\n" for i in range(ROWS))
    return make_project(PROJECT, {"data/big.csv": "id,name,city\n" + body})


def run(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SLUICE_PROGRESS_EVERY": "0.1", "COLUMNS": "80"}
    env.pop("SLUICE_PROGRESS", None)
    return subprocess.run(
        [sys.executable, "-m", "sluice", "run", "p", "-p", str(folder), "--full-refresh", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=folder,
    )


def test_progress_lines_and_json_lines_on_stderr(big: Path) -> None:
    size = (big / "data" / "big.csv").stat().st_size
    done = run(big)  # no terminal: lines
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("progress ")]
    assert lines, done.stderr
    sized = [line for line in lines if f" of {size / 1e6:,.1f} MB (" in line]
    assert sized and any("ETA " in line for line in sized), lines
    assert all(" drops: " in line and " rows/s" in line for line in lines)

    done = run(big, "--progress", "json", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)  # stdout keeps the report alone
    events = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert events and all(e["event"] == "progress" and e["stream"] == "drops" for e in events)
    assert all(e["ts"].endswith("+00:00") for e in events)
    last = events[-1]  # written as the run ended
    assert (last["stage"], last["rows"], last["size"], last["percent"]) == ("done", ROWS, size, 100)
    assert report["streams"]["drops"]["read"] == ROWS
    percents = [e["percent"] for e in events if "percent" in e]
    assert percents == sorted(percents)


def test_progress_none_says_nothing(big: Path) -> None:
    done = run(big, "--progress", "none")
    assert done.returncode == 0, done.stderr
    assert "progress" not in done.stderr


def test_a_streams_seconds_stay_within_the_runs(big: Path, run_project: Callable[..., Any]) -> None:
    out = run_project(big)
    doc = out.report.as_dict()
    stream = doc["streams"]["drops"]
    assert 0 < stream["elapsed"] <= doc["seconds"]
    for stage, busy in stream["seconds"].items():  # each stage busy within its wall time
        assert busy <= stream["elapsed"] + 0.01, stage


def test_a_replay_shows_its_progress_too(make_project: Callable[..., Path]) -> None:
    from tests.unit.test_logs import FILES
    from tests.unit.test_logs import PROJECT as SMALL

    folder = make_project(SMALL, FILES)
    env = {**os.environ, "SLUICE_PROGRESS_EVERY": "0.1"}
    sluice = [sys.executable, "-m", "sluice"]
    ran = subprocess.run([*sluice, "run", "p", "-p", str(folder), "--progress", "none"], env=env)
    assert ran.returncode == 3
    done = subprocess.run(
        [*sluice, "quarantine", "replay", "-p", str(folder), "--progress", "json", "--json"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 3, done.stderr
    (report,) = json.loads(done.stdout)
    events = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert report["kind"] == "replay"
    assert events and events[-1]["stream"] == "drops" and events[-1]["rows"] == 1
    # The replayed rows end their stream as a run's do.
    assert events[-1]["stage"] == "done", events[-1]
