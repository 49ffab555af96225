"""Exit codes a script or an orchestrator relies on, and errors on the right stream."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.cli.test_commands import EXAMPLE, sluice


@pytest.fixture
def leads(tmp_path: Path) -> Path:
    root = tmp_path / "leads"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".sluice", "*.db"))
    return root


def test_allow_quarantine_exits_0_for_run_and_replay_while_entries_remain(leads: Path) -> None:
    out = sluice("run", "leads", "-p", str(leads), "--json", "--allow-quarantine")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["status"] == "succeeded_with_quarantine"

    # Nothing is fixed: every entry stays open, so a replay is "succeeded with quarantine".
    replayed = sluice("quarantine", "replay", "-p", str(leads), "--json")
    assert replayed.returncode == 3, replayed.stdout + replayed.stderr
    assert json.loads(replayed.stdout)[0]["status"] == "succeeded_with_quarantine"
    allowed = sluice("quarantine", "replay", "-p", str(leads), "--allow-quarantine")
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    listed = json.loads(sluice("quarantine", "list", "-p", str(leads), "--json").stdout)
    assert listed and all(e["status"] == "open" for e in listed)
