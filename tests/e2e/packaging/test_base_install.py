"""The base install (`pip install sluice-etl`, no extras) in a fresh venv: the CLI with
file and HTTP sources into SQLite works, and a command whose extra is missing says which
one to install, in one line.

Slow (a venv and an install from the package index: about a minute with pip's cache
warm); `make test` runs it like any other test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[3]
#: what the base install must not pull: each is an extra's
EXTRAS_ONLY = ["fastapi", "uvicorn", "celery", "redis", "psycopg", "pymysql", "duckdb", "vcrpy"]


def _checkout_copy(dest: Path) -> Path:
    """The package's source, copied: pip builds in the folder it installs from (its
    egg-info, build/), which must not be the working tree others use."""
    dest.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(
        ROOT / "sluice", dest / "sluice", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    return dest


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(COLUMNS="200", NO_COLOR="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    env.pop("SLUICE_WAREHOUSE_URL", None)
    env.pop("SLUICE_STATE_URL", None)
    return env


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_base_install_runs_sqlite_and_names_missing_extras(tmp_path: Path) -> None:
    src = _checkout_copy(tmp_path / "src")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    bin_ = venv / "bin"
    env = _env()
    install = subprocess.run(
        [str(bin_ / "python"), "-m", "pip", "install", "-q", str(src)],
        capture_output=True,
        text=True,
        env=env,
        timeout=540,
    )
    assert install.returncode == 0, install.stderr[-3000:]

    listed = subprocess.run(
        [str(bin_ / "python"), "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout.lower()
    names = {line.split("==")[0] for line in listed.splitlines()}
    assert "sluice-etl" in names
    assert not [n for n in EXTRAS_ONLY if n in names], names

    def sluice(*args: str, cwd: Path = tmp_path, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(bin_ / "sluice"), *args],
            capture_output=True,
            text=True,
            cwd=cwd,
            env={**env, **extra},
            timeout=120,
        )

    done = sluice("--version")
    assert done.returncode == 0 and done.stdout.startswith("sluice "), done.stderr

    done = sluice("init", "proj")
    assert done.returncode == 0, done.stderr
    proj = tmp_path / "proj"
    done = sluice("validate", cwd=proj)
    assert done.returncode == 0, done.stdout + done.stderr
    done = sluice("run", "contacts", cwd=proj)
    # the sample has two rows that fail validation: loaded, with rows in quarantine
    assert done.returncode == 3, done.stdout + done.stderr
    assert (proj / "warehouse.db").is_file()
    done = sluice("preview", "contacts", cwd=proj)
    assert done.returncode == 0 and "ada@example.org" in done.stdout, done.stderr

    # An extra that is not installed: one line naming what to install, exit 2, no traceback.
    done = sluice("serve", cwd=proj)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.splitlines() == [
        "error: sluice serve needs the serve extra: pip install 'sluice-etl[serve]'"
    ]
    done = sluice("run", "contacts", cwd=proj, SLUICE_WAREHOUSE_URL="postgresql://u@127.0.0.1:1/db")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.splitlines() == [
        "error: the PostgreSQL warehouse needs the postgres extra: "
        "pip install 'sluice-etl[postgres]'"
    ]
