"""The Celery executor's mistakes and outages: one clear line, never a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from sluice.config import load_project
from sluice.state.store import StateStore
from sluice.testing import processes

EXAMPLE = Path(__file__).parents[3] / "examples" / "leads"


def sluice(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return processes.run(
        [sys.executable, "-m", "sluice", *args], env=env, capture_output=True, text=True, timeout=60
    )


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def env(pg_url: str) -> dict[str, str]:
    return {**os.environ, "SLUICE_STATE_URL": pg_url, "SLUICE_WAREHOUSE_URL": pg_url}


def test_no_broker_and_a_sqlite_state_store_are_refused_with_a_hint(env: dict[str, str]) -> None:
    env.pop("SLUICE_BROKER_URL", None)
    done = sluice("run", "leads", "-p", str(EXAMPLE), "--executor", "celery", env=env)
    assert done.returncode == 2 and "set SLUICE_BROKER_URL" in done.stderr
    env["SLUICE_BROKER_URL"] = "redis://127.0.0.1:6379/13"
    env["SLUICE_STATE_URL"] = "sqlite:///:memory:"
    done = sluice("run", "leads", "-p", str(EXAMPLE), "--executor", "celery", env=env)
    assert done.returncode == 2 and "PostgreSQL or MySQL, not SQLite" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_worker_without_a_broker_or_a_shared_state_store_does_not_start(
    env: dict[str, str],
) -> None:
    env.pop("SLUICE_BROKER_URL", None)
    done = sluice("worker", "-p", str(EXAMPLE), env=env)
    assert done.returncode == 2 and "set SLUICE_BROKER_URL" in done.stderr
    env["SLUICE_BROKER_URL"] = "redis://127.0.0.1:6379/13"
    env["SLUICE_STATE_URL"] = "sqlite:///:memory:"
    done = sluice("worker", "-p", str(EXAMPLE), env=env)
    assert done.returncode == 2 and "not SQLite" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("scheme", ["redis://127.0.0.1:{}/0", "amqp://guest:secret@127.0.0.1:{}//"])
def test_a_broker_that_is_down_fails_the_run_with_the_cause(
    env: dict[str, str], pg_url: str, scheme: str
) -> None:
    env["SLUICE_BROKER_URL"] = scheme.format(closed_port())
    done = sluice("run", "leads", "-p", str(EXAMPLE), "--executor", "celery", env=env)
    assert done.returncode == 2, done.stderr
    assert "cannot queue the run on the broker" in done.stderr and "refused" in done.stderr
    assert "secret" not in done.stderr and "Traceback" not in done.stderr
    store = StateStore(pg_url)
    try:
        (run,) = store.runs("leads")
    finally:
        store.close()
    assert run.status == "failed"  # recorded, not left "running" to block the next one
    assert load_project(EXAMPLE).executor == "local"
