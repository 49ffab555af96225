"""`sluice init` ends with the commands to run next: pasted into a shell, they work."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SLUICE = shutil.which("sluice", path=str(Path(sys.executable).parent)) or "sluice"


@pytest.mark.parametrize("folder", ["my project", "."])
def test_the_next_step_init_prints_runs_as_pasted(tmp_path: Path, folder: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    env["PATH"] = f"{Path(SLUICE).parent}{os.pathsep}{env.get('PATH', '')}"
    env["COLUMNS"] = "60"  # a narrow terminal must not wrap the command
    made = subprocess.run(
        [SLUICE, "init", folder], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert made.returncode == 0, made.stderr
    (line,) = [ln for ln in made.stdout.splitlines() if ln.startswith("next: ")]
    command = line.removeprefix("next: ")
    assert ("cd " in command) == (folder != "."), command
    ran = subprocess.run(
        ["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert ran.returncode in (0, 3), ran.stdout + ran.stderr
    assert "ok: sluice.yaml" in ran.stdout
