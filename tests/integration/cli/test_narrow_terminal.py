"""The CLI at 80 columns: tables fit, commands and run ids are never wrapped, every
time carries its zone (real runs, the real command in a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.unit.test_logs import FILES, PROJECT


def sluice(folder: Path, *args: str, columns: int = 80) -> str:
    env = {**os.environ, "COLUMNS": str(columns), "SLUICE_PROGRESS": "none"}
    done = subprocess.run(
        [sys.executable, "-m", "sluice", *args, "-p", str(folder)],
        capture_output=True,
        text=True,
        env=env,
        cwd=folder,
    )
    assert done.returncode in (0, 3), done.stderr
    return done.stdout


def test_runs_show_and_summaries_fit_80_columns(make_project: Callable[..., Path]) -> None:
    folder = make_project(PROJECT, FILES)
    summary = sluice(folder, "run", "p")
    (first,) = [r["run_id"] for r in json.loads(sluice(folder, "runs", "--json"))]
    # the suggested command, whole on one line (a terminal folds it, a copy keeps it)
    assert f"sluice quarantine list --run {first}\n" in summary
    sluice(folder, "quarantine", "replay")
    sluice(folder, "run", "p", "--full-refresh")

    listed = json.loads(sluice(folder, "runs", "--json"))
    assert [r["kind"] for r in listed] == ["run", "replay", "run"]
    assert all(r["started_at"].endswith("+00:00") for r in listed)

    table = sluice(folder, "runs")
    lines = table.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 80, table
    for r in listed:  # each id whole, on the line its start time (with its zone) follows
        (at,) = [i for i, line in enumerate(lines) if r["run_id"] in line]
        assert lines[at + 1].split()[:3] == [*r["started_at"][:19].split("T"), "UTC"]
        assert r["kind"] in lines[at] and r["status"] in lines[at + 1]
    wide = sluice(folder, "runs", columns=160)
    assert "started_at" in wide and "+00:00" in wide and "replay" in wide

    shown = sluice(folder, "show", first)
    drawn = [line for line in shown.splitlines() if line[:1] in "┏┃┡│└"]  # its tables
    assert drawn and max(len(line.rstrip()) for line in drawn) <= 80, shown
    log = shown.split("\nlog\n", 1)[1].splitlines()
    assert log and all(line.split()[0].endswith("+00:00") for line in log)
    doc = json.loads(sluice(folder, "show", first, "--json"))
    assert doc["started_at"].endswith("+00:00") and doc["finished_at"].endswith("+00:00")
    assert all(e["at"].endswith("+00:00") for e in doc["log"])
    assert doc["report"]["started_at"].endswith("+00:00")


def test_a_superseding_run_id_is_never_wrapped_in_the_quarantine_list(
    make_project: Callable[..., Path],
) -> None:
    folder = make_project(PROJECT, FILES)
    sluice(folder, "run", "p")
    sluice(folder, "run", "p", "--full-refresh")  # closes the first run's entries
    latest = json.loads(sluice(folder, "runs", "--json"))[0]["run_id"]
    listed = sluice(folder, "quarantine", "list", "--status", "all")
    assert max(len(line.rstrip()) for line in listed.splitlines()) <= 80, listed
    assert latest in listed
