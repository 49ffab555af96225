"""Runs killed at any point of their load, cancelled, or left with no one to carry them
out: nothing is lost, nothing loads twice, and every run ends with its truth.

The kills are real: a `sluice run` process is killed (SIGKILL) mid-load, inside its
warehouse commit, or just after it (``tests.support.killpoints``), or sent SIGINT and
SIGTERM. The next command that opens the state store settles what the dead run left.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sluice.config import load_project
from sluice.destinations import connect
from sluice.destinations.sql import SqlDestination
from sluice.engine import run_pipeline
from sluice.engine.lease import lease_seconds
from sluice.state.models import QuarantineEntry, Run
from sluice.state.store import StateStore
from sluice.testing import Gate, processes

REPO = Path(__file__).parents[3]

PROJECT = """
    warehouse: {warehouse}
    pipelines:
      p:
        sources:
          s:
            type: file
            path: data/*.csv
            batch_bytes: 65536
        table:
          name: items
          {keys}
          columns:
            id: {{type: integer, required: true}}
            name: string
        destination: {{mode: {mode}}}
"""

# 3 rows load, 2 are quarantined (not integers)
ROWS = "id,name\n1,a\n2,b\nx,c\n3,d\ny,e\n"


def project(warehouse: str, mode: str = "append") -> str:
    keys = "keys: [id]" if mode == "merge" else ""
    return PROJECT.format(warehouse=warehouse, mode=mode, keys=keys)


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        return "sqlite:///w.db"
    return str(request.getfixturevalue("pg_url"))


def sluice(
    root: Path, *args: str, point: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``sluice ARGS -p ROOT`` in a process of its own (killed at ``point``, if named)."""
    cmd = [sys.executable, "-m", *(("tests.support.killpoints", point) if point else ("sluice",))]
    return processes.run(
        [*cmd, *args, "-p", str(root)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
    )


def start(
    root: Path, *args: str, point: str | None = None, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """``sluice ARGS -p ROOT`` started (armed with kill ``point``, if named)."""
    cmd = [sys.executable, "-m", *(("tests.support.killpoints", point) if point else ("sluice",))]
    return processes.Popen(
        [*cmd, *args, "-p", str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
    )


def table_count(root: Path) -> int:
    dest = connect(load_project(root).warehouse_url())
    assert isinstance(dest, SqlDestination)
    try:
        with dest.engine.connect() as conn:
            if not sa.inspect(conn).has_table("items"):
                return 0
        return dest.count("items")
    finally:
        dest.close()


def runs_json(root: Path) -> dict[str, dict[str, Any]]:
    """`sluice runs --json`, by run id (the next command after a kill: it settles)."""
    out = sluice(root, "runs", "--json")
    assert out.returncode == 0, out.stderr
    return {r["run_id"]: r for r in json.loads(out.stdout)}


def entries(root: Path) -> list[QuarantineEntry]:
    store = StateStore(load_project(root).state_url())
    try:
        return list(store.quarantined(pipeline="p", status=None))
    finally:
        store.close()


def lease_end(store: StateStore, run_id: str) -> datetime:
    """When the run's lease runs out unless it is refreshed (its last beat + the lease)."""
    run = store.run(run_id)
    assert run is not None and run.heartbeat_at is not None
    beat = run.heartbeat_at
    beat = beat if beat.tzinfo else beat.replace(tzinfo=UTC)  # SQLite keeps no zone
    return beat + timedelta(seconds=lease_seconds())


def the_run(root: Path, run_id: str) -> Run:
    store = StateStore(load_project(root).state_url())
    try:
        run = store.run(run_id)
        assert run is not None
        return run
    finally:
        store.close()


def only_run(root: Path) -> str:
    store = StateStore(load_project(root).state_url())
    try:
        (run,) = store.runs("p")
        return run.id
    finally:
        store.close()


def wait_for_rows(root: Path, proc: subprocess.Popen[str]) -> str:
    """The id of the run ``proc`` carries out, once rows stream into its load."""
    store = StateStore(load_project(root).state_url())
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            runs = [r for r in store.runs("p", 5) if r.status == "running"]
            if runs and store.stages(runs[0].id):
                return runs[0].id
            time.sleep(0.05)
    finally:
        store.close()
    pytest.fail("the load never started")


def start_held(
    root: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], str]:
    """``sluice ARGS -p ROOT`` started with the batch gate armed (:class:`sluice.testing.Gate`):
    its load reads a batch and waits there, uncommitted, until it is cancelled or killed.
    The process and its run id, once it waits (a run reliably mid-load, whatever its size).
    """
    gate = Gate(root.parent / f"{root.name}-gate")
    proc = start(root, *args, env={**(env or {}), **dict([gate.env])})
    try:
        deadline = time.monotonic() + 90
        while not gate.reached:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the load never reached the gate"
            time.sleep(0.02)
        return proc, wait_for_rows(root, proc)
    except BaseException:
        proc.kill()  # a gated run waits for ever
        raise


def big_file(root: Path, n: int) -> None:
    with open(root / "data" / "big.csv", "w") as f:
        f.write("id,name\n")
        f.writelines(f"{i},name number {i}\n" for i in range(10, 10 + n))


# ---------------------------------------------------------------------- killed


@pytest.mark.parametrize("mode", ["append", "merge", "snapshot"])
@pytest.mark.parametrize("dialect", ["sqlite", "postgresql", "mysql"])
def test_killed_after_the_commit_loses_no_quarantined_row_and_counts_its_load(
    make_project: Callable[..., Path],
    request: pytest.FixtureRequest,
    tmp_path: Path,
    dialect: str,
    mode: str,
) -> None:
    from tests.conftest import warehouse_url

    warehouse = warehouse_url(request, dialect, tmp_path)
    root = make_project(project(warehouse, mode), {"data/a.csv": ROWS})
    killed = sluice(root, "run", "p", "--json", point="after_commit")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    run_id = only_run(root)
    assert the_run(root, run_id).status == "running"  # as the process left it
    assert table_count(root) == 3  # the warehouse had committed

    # The next command settles it: committed, with its counts and its quarantine.
    runs = runs_json(root)
    assert runs[run_id]["status"] == "succeeded_with_quarantine"
    assert (runs[run_id]["read"], runs[run_id]["loaded"], runs[run_id]["quarantined"]) == (5, 3, 2)
    report = the_run(root, run_id).report or {}
    assert report["streams"]["s"]["files"][0]["file"] == "data/a.csv"
    assert sorted(e.status for e in entries(root)) == ["open", "open"]

    # A run after it loads nothing twice and keeps the quarantine.
    again = sluice(root, "run", "p", "--json")
    assert again.returncode == 0, again.stdout + again.stderr
    doc = json.loads(again.stdout)
    assert doc["totals"]["read"] == 0
    assert "already loaded by run " + run_id in doc["streams"]["s"]["skipped_files"][0]["reason"]
    assert table_count(root) == 3
    assert [(e.status, e.run_id) for e in entries(root)] == [("open", run_id)] * 2
    runs = runs_json(root)
    assert sum(r["loaded"] or 0 for r in runs.values()) == table_count(root)


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_files_loaded_together_killed_after_their_commit_are_each_counted_once(
    make_project: Callable[..., Path],
    request: pytest.FixtureRequest,
    tmp_path: Path,
    dialect: str,
) -> None:
    """Small files of an append stream share one load (sluice.engine.plan.GROUP_BYTES):
    killed past its commit, every file is settled from what it staged."""
    from tests.conftest import warehouse_url

    files = {
        f"data/{i}.csv": ROWS.replace("1,a", f"{i}1,a").replace("2,b", f"{i}2,b") for i in range(3)
    }
    root = make_project(project(warehouse_url(request, dialect, tmp_path)), files)
    killed = sluice(root, "run", "p", "--json", point="after_commit")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    run_id = only_run(root)
    assert table_count(root) == 9  # the warehouse had committed the three files at once

    runs = runs_json(root)
    assert runs[run_id]["status"] == "succeeded_with_quarantine"
    assert (runs[run_id]["read"], runs[run_id]["loaded"], runs[run_id]["quarantined"]) == (
        15,
        9,
        6,
    )
    report = the_run(root, run_id).report or {}
    assert [f["file"] for f in report["streams"]["s"]["files"]] == [
        f"data/{i}.csv" for i in range(3)
    ]
    assert sorted(e.status for e in entries(root)) == ["open"] * 6

    again = sluice(root, "run", "p", "--json")
    assert again.returncode == 0, again.stdout + again.stderr
    doc = json.loads(again.stdout)
    assert doc["totals"]["read"] == 0
    assert len(doc["streams"]["s"]["skipped_files"]) == 3
    assert table_count(root) == 9


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_killed_after_the_commit_keeps_the_bad_rows_of_every_batch(
    make_project: Callable[..., Path],
    request: pytest.FixtureRequest,
    tmp_path: Path,
    dialect: str,
) -> None:
    """Bad rows in every batch of a file: their reasons are written a few hundred at a
    time (sluice.engine.process.EXPLAIN_ROWS), the last ones as the file ends; killed
    past the commit, every one of them is open, each once, and the run adds up."""
    from tests.conftest import warehouse_url

    n = 30_000  # about 8 batches of 64 KiB, a bad row in every seventh
    text = "id,name\n" + "".join(
        f"{'x' if i % 7 == 3 else ''}{i},name number {i}\n" for i in range(n)
    )
    bad = sum(1 for i in range(n) if i % 7 == 3)
    root = make_project(project(warehouse_url(request, dialect, tmp_path)), {"data/a.csv": text})
    killed = sluice(root, "run", "p", "--json", point="after_commit")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    run_id = only_run(root)
    assert table_count(root) == n - bad

    runs = runs_json(root)
    assert (runs[run_id]["read"], runs[run_id]["loaded"], runs[run_id]["quarantined"]) == (
        n,
        n - bad,
        bad,
    )
    found = entries(root)
    assert [e.status for e in found] == ["open"] * bad
    assert sorted(e.line for e in found) == [i + 2 for i in range(n) if i % 7 == 3]


def test_the_quarantine_of_a_run_killed_after_its_commit_is_listed_by_the_next_command(
    make_project: Callable[..., Path],
) -> None:
    root = make_project(project("sqlite:///w.db"), {"data/a.csv": ROWS})
    killed = sluice(root, "run", "p", point="after_commit")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    listed = sluice(root, "quarantine", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)) == 2


def test_killed_inside_the_commit_rolls_back_and_the_next_run_loads_it_once(
    make_project: Callable[..., Path], warehouse: str
) -> None:
    root = make_project(project(warehouse), {"data/a.csv": ROWS})
    killed = sluice(root, "run", "p", "--json", point="in_commit")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    run_id = only_run(root)
    assert table_count(root) == 0
    assert {e.status for e in entries(root)} == {"pending"}  # not yet the quarantine's

    runs = runs_json(root)
    assert runs[run_id]["status"] == "abandoned"
    assert (runs[run_id]["read"], runs[run_id]["loaded"]) == (0, 0)
    (error,) = (the_run(root, run_id).report or {})["errors"]
    assert "1 rolled back" in error["message"] and "killed" in error["message"]
    assert entries(root) == []  # its quarantined rows went with its load

    again = sluice(root, "run", "p", "--json")
    assert again.returncode == 3, again.stdout + again.stderr
    assert json.loads(again.stdout)["totals"]["loaded"] == 3
    assert table_count(root) == 3
    assert [e.status for e in entries(root)] == ["open", "open"]
    runs = runs_json(root)
    assert sum(r["loaded"] or 0 for r in runs.values()) == table_count(root)


def test_killed_mid_load_is_settled_by_the_next_command_not_only_by_a_run(
    make_project: Callable[..., Path], warehouse: str
) -> None:
    root = make_project(project(warehouse), {"data/a.csv": ROWS})
    assert run_pipeline(load_project(root), "p").totals.loaded == 3
    big_file(root, 5_000)
    proc, run_id = start_held(root, "run", "p", "--json")
    proc.kill()
    proc.wait(10)
    assert the_run(root, run_id).status == "running"
    runs = runs_json(root)  # not a run: still settled
    assert runs[run_id]["status"] == "abandoned" and runs[run_id]["loaded"] == 0
    assert table_count(root) == 3
    assert [e.run_id for e in entries(root)] != [run_id]  # none of its pending rows left


HTTP_PROJECT = """
    warehouse: {warehouse}
    pipelines:
      p:
        sources:
          s:
            type: http
            base_url: {api}
            endpoint: /items
            params: {{style: page}}
            records: data
            paginate: {{style: page, total_pages: total_pages}}
            incremental: {{cursor_field: updated_at, param: since}}
        table:
          name: items
          columns:
            id: {{type: integer, required: true}}
            name: string
            meta_color: string
            meta_size: integer
            updated_at: datetime
        destination: {{mode: append}}
"""


def test_an_api_pull_killed_after_its_commit_is_recorded_and_not_loaded_twice(
    make_project: Callable[..., Path], warehouse: str
) -> None:
    from sluice.sim.server import SimServer
    from tests.support.http_app import N, create_app

    with SimServer(create_app()) as server:
        root = make_project(HTTP_PROJECT.format(warehouse=warehouse, api=server.url))
        killed = sluice(root, "run", "p", "--json", point="after_commit")
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        run_id = only_run(root)
        assert table_count(root) == N

        again = sluice(root, "run", "p", "--json")
        assert again.returncode in (0, 3), again.stdout + again.stderr
        assert json.loads(again.stdout)["totals"]["loaded"] == 0  # from the saved cursor
        assert table_count(root) == N
        runs = runs_json(root)
        assert runs[run_id]["status"] in ("succeeded", "succeeded_with_quarantine")
        assert runs[run_id]["loaded"] == N
        assert sum(r["loaded"] or 0 for r in runs.values()) == N


# ---------------------------------------------------------------------- cancelled


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_mid_load_cancels_the_run_and_leaves_the_table_as_it_was(
    make_project: Callable[..., Path], warehouse: str, sig: signal.Signals
) -> None:
    root = make_project(project(warehouse), {"data/a.csv": ROWS})
    assert run_pipeline(load_project(root), "p").totals.loaded == 3
    big_file(root, 5_000)
    proc, run_id = start_held(root, "run", "p")
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, out + err
    # The gate holds the reading thread; the loading one may still be inside SQLite's
    # bulk call with the batch already read, where the driver's own SIGINT handler
    # answers and the run says "interrupted (Ctrl-C)" (tests/e2e/destinations/
    # test_interrupt.py). Once in 14 full runs a SIGINT-cancelled run named no SIGINT.
    said = (sig.name, "Ctrl-C") if sig == signal.SIGINT else (sig.name,)
    assert "cancelled" in out + err and any(s in out + err for s in said), out + err
    assert "NOT_IMPLEMENTED" not in out + err and "Traceback" not in err
    assert the_run(root, run_id).status == "cancelled"
    assert table_count(root) == 3
    # the file was not loaded: the next run loads it whole
    again = run_pipeline(load_project(root), "p")
    assert again.totals.loaded == 5_000 and table_count(root) == 5_003


def test_sluice_cancel_stops_a_run_in_another_process(
    make_project: Callable[..., Path], warehouse: str
) -> None:
    root = make_project(project(warehouse), {"data/a.csv": ROWS})
    assert run_pipeline(load_project(root), "p").totals.loaded == 3
    big_file(root, 5_000)
    proc, run_id = start_held(root, "run", "p", "--json")
    cancel = sluice(root, "cancel", run_id[:-2], "--wait", "60")
    assert cancel.returncode == 0, cancel.stdout + cancel.stderr
    assert f"run {run_id}: cancelled" in cancel.stdout
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    assert json.loads(out)["status"] == "cancelled"
    assert table_count(root) == 3

    again = sluice(root, "cancel", run_id)  # it is over
    assert again.returncode == 2 and "is not going (status: cancelled)" in again.stderr


def test_sluice_cancel_of_a_run_whose_process_is_gone_settles_it_at_once(
    make_project: Callable[..., Path],
) -> None:
    root = make_project(project("sqlite:///w.db"), {"data/a.csv": ROWS})
    assert run_pipeline(load_project(root), "p").totals.loaded == 3
    big_file(root, 5_000)
    proc, run_id = start_held(root, "run", "p", "--json")
    proc.kill()
    proc.wait(10)
    cancel = sluice(root, "cancel", run_id, "--wait", "0")
    assert cancel.returncode == 0, cancel.stderr
    assert f"run {run_id}: cancelled" in cancel.stdout
    report = the_run(root, run_id).report or {}
    assert report["errors"][0]["type"] == "RunCancelled"
    assert report["totals"]["loaded"] == 0 and table_count(root) == 3


# ---------------------------------------------------------------------- leases


def test_a_run_elsewhere_is_settled_when_its_lease_expires_not_by_host(
    make_project: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from sluice.engine.settle import cancel_run, open_store
    from sluice.errors import RunConflict
    from sluice.executors.local import LocalExecutor

    root = make_project(project("sqlite:///w.db"), {"data/a.csv": ROWS})
    proj = load_project(root)
    store = StateStore(proj.state_url())
    gone, alive = store.start_run("p"), store.start_run("p")
    with store.session() as s:
        for run_id, beat in ((gone, 120), (alive, 1)):
            run = s.get_one(Run, run_id)
            run.host, run.pid = "another-machine", 4242
            run.heartbeat_at = datetime.now(UTC) - timedelta(seconds=beat)
    store.close()
    monkeypatch.setenv("SLUICE_RUN_LEASE_SECONDS", "60")
    store = open_store(proj)
    try:
        assert store.run(gone).status == "abandoned"  # type: ignore[union-attr]
        assert store.run(alive).status == "running"  # type: ignore[union-attr]
        report = store.run(gone).report  # type: ignore[union-attr]
        assert report and "stopped before it ended" in report["errors"][0]["message"]
        # the service cancels it too (as `sluice cancel`): its owner stops at its next beat
        executor = LocalExecutor(proj, store, processes=False)
        try:
            assert executor.cancel(alive) == "cancelling"
        finally:
            executor.shutdown()
        assert store.run(alive).status == "cancelling"  # type: ignore[union-attr]
        with pytest.raises(RunConflict, match="is not going"):
            cancel_run(proj, store, gone, wait=0)
    finally:
        store.close()


def test_a_run_refreshes_its_lease_while_it_goes(
    make_project: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from sluice.engine.settle import open_store

    root = make_project(project("sqlite:///w.db"), {"data/a.csv": ROWS})
    big_file(root, 5_000)
    lease = {"SLUICE_RUN_LEASE_SECONDS": "1"}
    proc, run_id = start_held(root, "run", "p", "--json", env=lease)
    try:
        first = the_run(root, run_id).heartbeat_at
        deadline = time.monotonic() + 30
        while the_run(root, run_id).heartbeat_at == first:  # a beat is every lease/4
            assert time.monotonic() < deadline, "the run never refreshed its lease"
            time.sleep(0.05)
        monkeypatch.setenv("SLUICE_RUN_LEASE_SECONDS", "1")
        store = open_store(load_project(root))  # the lease is fresh: left alone
        store.close()
        assert the_run(root, run_id).status == "running" and proc.poll() is None
    finally:
        proc.kill()
        proc.wait(10)


def test_a_celery_run_with_no_worker_whose_waiter_died_is_settled_and_refuses_nothing(
    make_project: Callable[..., Path], pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uuid

    from sluice.engine.settle import cancel_run
    from tests.support.celery_support import broker_or_skip

    broker = broker_or_skip("redis")
    root = make_project(project("sqlite:///w.db"), {"data/a.csv": ROWS})
    env = {
        "SLUICE_BROKER_URL": broker,
        "SLUICE_CELERY_QUEUE": f"no-worker-{uuid.uuid4().hex[:8]}",  # no one takes it
        "SLUICE_STATE_URL": pg_url,
        "SLUICE_RUN_LEASE_SECONDS": "2",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    waiter = start(root, "run", "p", "--executor", "celery", "--json", env=env)
    store = StateStore(pg_url)
    try:
        deadline = time.monotonic() + 60
        while not store.runs("p") and time.monotonic() < deadline:
            time.sleep(0.1)
        (queued,) = store.runs("p")
        # The waiting CLI keeps it alive past its first lease: beats seen after it ran out.
        first = lease_end(store, queued.id)
        while lease_end(store, queued.id) < first + timedelta(seconds=2):
            assert time.monotonic() < deadline, "the waiting CLI stopped refreshing the lease"
            time.sleep(0.1)
        assert store.run(queued.id).status == "running"  # type: ignore[union-attr]
        waiter.kill()
        waiter.wait(10)
        # Nothing beats for it now: once its lease has run out, the next command settles it.
        while datetime.now(UTC) <= lease_end(store, queued.id):
            time.sleep(0.1)
        runs = runs_json(root)
        assert runs[queued.id]["status"] == "abandoned"

        from sluice.executors.celery import CeleryExecutor

        executor = CeleryExecutor(load_project(root), store)
        try:
            second = executor.trigger("p", "cli")  # not refused
            assert second.status == "running"
            assert cancel_run(load_project(root), store, second.run_id, wait=0) == "cancelled"
        finally:
            executor.shutdown()
    finally:
        if waiter.poll() is None:
            waiter.kill()
        store.close()
