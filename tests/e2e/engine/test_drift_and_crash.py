"""Drift policies, a load killed mid-way, and a replay that died after its commit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from sluice.config import load_project
from sluice.destinations import connect
from sluice.destinations.sql import SqlDestination
from sluice.engine import run_pipeline
from sluice.engine.replay import replay
from sluice.state.store import StateStore
from sluice.testing import Gate, processes

PROJECT = """
    warehouse: {warehouse}
    pipelines:
      p:
        sources:
          s:
            type: file
            path: data/*.csv
            drift: {drift}
            batch_bytes: 65536
        table:
          name: items
          columns:
            id: {{type: integer, required: true}}
            name: string
        destination: {{mode: append}}
"""


def table_count(root: Path, table: str = "items") -> int:
    dest = connect(load_project(root).warehouse_url())
    assert isinstance(dest, SqlDestination)
    try:
        return dest.count(table)
    finally:
        dest.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        return "sqlite:///w.db"
    return str(request.getfixturevalue("pg_url"))


def test_drift_quarantine_evolve_and_fail(make_project: Callable[..., Path]) -> None:
    drifted = "id,name,colour\n1,a,red\n2,b,blue\n"
    root = make_project(
        PROJECT.format(warehouse="sqlite:///w.db", drift="quarantine"), {"data/a.csv": drifted}
    )
    report = run_pipeline(load_project(root), "p")
    assert report.status == "succeeded_with_quarantine"
    assert "found but not mapped: 'colour'" in report.streams["s"].quarantined_files[0]["reason"]

    text = (root / "sluice.yaml").read_text().replace("drift: quarantine", "drift: evolve")
    (root / "sluice.yaml").write_text(text)
    (evolved,) = replay(load_project(root))
    assert evolved.totals.loaded == 2
    dest = connect(load_project(root).warehouse_url())
    assert isinstance(dest, SqlDestination)
    with dest.engine.connect() as c:
        got = c.execute(sa.text("SELECT id, colour FROM items ORDER BY id")).all()
    dest.close()
    assert [tuple(r) for r in got] == [(1, "red"), (2, "blue")]
    store = StateStore(load_project(root).state_url())
    versions = store.schema_versions("p")
    assert [v.version for v in versions] == [1, 2]
    assert "colour" in versions[-1].columns and "colour" not in versions[0].columns
    store.close()

    text = text.replace("drift: evolve", "drift: fail")
    (root / "sluice.yaml").write_text(text)
    (root / "data" / "b.csv").write_text("id,size\n3,XL\n")
    cli = processes.run(
        [sys.executable, "-m", "sluice", "run", "p", "-p", str(root)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 1
    assert "columns drifted" in cli.stdout + cli.stderr and "Traceback" not in cli.stderr
    assert table_count(root) == 2


def test_killed_load_leaves_table_as_it_was_and_rerun_completes(
    make_project: Callable[..., Path], warehouse: str, tmp_path: Path
) -> None:
    root = make_project(
        PROJECT.format(warehouse=warehouse, drift="quarantine"),
        {"data/a.csv": "id,name\n1,a\n2,b\n3,c\n"},
    )
    assert run_pipeline(load_project(root), "p").totals.loaded == 3
    n = 5_000
    with open(root / "data" / "big.csv", "w") as f:
        f.write("id,name\n")
        f.writelines(f"{i},name number {i}\n" for i in range(10, 10 + n))

    # The gate holds the load after its first batch, uncommitted: killed mid-load for sure.
    gate = Gate(tmp_path / "gate")
    proc = processes.Popen(
        [sys.executable, "-m", "sluice", "run", "p", "-p", str(root), "--json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **dict([gate.env])},
    )
    store = StateStore(load_project(root).state_url())
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:  # wait until rows are streaming into the load
            runs = store.runs("p", 1)
            if gate.reached and runs and runs[0].status == "running" and store.stages(runs[0].id):
                break
            time.sleep(0.05)
        else:
            pytest.fail("the load never started")
        killed = runs[0].id
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert store.run(killed).status == "running"  # as the process left it
    assert table_count(root) == 3

    rerun = run_pipeline(load_project(root), "p")
    assert rerun.totals.loaded == n
    assert table_count(root) == 3 + n
    assert store.run(killed).status == "abandoned"
    store.close()


def test_replay_that_died_after_commit_is_finished_without_loading_twice(
    make_project: Callable[..., Path],
) -> None:
    root = make_project(
        PROJECT.format(warehouse="sqlite:///w.db", drift="quarantine"),
        {"data/a.csv": "id,name\n1,a\nx,b\n"},
    )
    run_pipeline(load_project(root), "p")
    store = StateStore(load_project(root).state_url())
    (entry,) = store.quarantined(pipeline="p")
    # Simulate a replay run R that committed its load and died before its bookkeeping.
    project = load_project(root)
    dest = connect(project.warehouse_url())
    key = f"p/replay/R/{entry.source}/{entry.file_id}"
    import polars as pl

    from sluice.transforms.normalize import Layout

    dest.load(
        Layout(project.pipeline("p")).root,
        "append",
        key,
        [pl.DataFrame({"id": [99], "name": ["from R"]})],
    )
    dest.close()
    store.set_quarantine_status([entry.id], "replaying", "R")
    (report,) = replay(load_project(root))
    assert report.totals.loaded == 0
    assert store.quarantined(status="replayed", ids=[entry.id])[0].replay_run_id == "R"
    assert table_count(root) == 2
    store.close()


def warnings_of(root: Path, run_id: str) -> list[str]:
    store = StateStore(load_project(root).state_url())
    try:
        return [e.message for e in store.events(run_id) if e.level == "warning"]
    finally:
        store.close()


def test_evolve_loads_a_missing_column_as_null_and_says_so(
    make_project: Callable[..., Path],
) -> None:
    root = make_project(
        PROJECT.format(warehouse="sqlite:///w.db", drift="evolve"),
        {"data/a.csv": "id\n1\n2\n"},
    )
    report = run_pipeline(load_project(root), "p")
    assert report.status == "succeeded" and report.totals.loaded == 2
    (drift,) = report.as_dict()["streams"]["s"]["drift"]
    assert drift["file"] == "data/a.csv" and drift["missing"] == ["name"]
    assert "name" in drift["note"] and "null" in drift["note"]
    (warning,) = warnings_of(root, report.run_id)
    assert warning.startswith("data/a.csv:") and "name" in warning


def test_evolve_quarantines_rows_missing_a_required_column(
    make_project: Callable[..., Path],
) -> None:
    root = make_project(
        PROJECT.format(warehouse="sqlite:///w.db", drift="evolve"),
        {"data/a.csv": "name\na\nb\n"},
    )
    report = run_pipeline(load_project(root), "p")
    assert report.status == "succeeded_with_quarantine"
    assert (report.totals.loaded, report.totals.quarantined) == (0, 2)
    store = StateStore(load_project(root).state_url())
    try:
        rows = store.quarantined(pipeline="p")
        assert [e.reasons for e in rows] == [["id: required but the file has no such column"]] * 2
    finally:
        store.close()
    assert report.as_dict()["streams"]["s"]["drift"][0]["missing"] == ["id"]
    # fixed by making the column optional: the replay loads them (with the null id)
    text = (root / "sluice.yaml").read_text().replace("required: true", "required: false")
    (root / "sluice.yaml").write_text(text)
    (replayed,) = replay(load_project(root))
    assert replayed.status == "succeeded", replayed.errors
    assert replayed.totals.loaded == 2 and table_count(root) == 2


@pytest.mark.parametrize("drift", ["quarantine", "fail"])
def test_a_missing_column_is_drift_under_quarantine_and_fail(
    make_project: Callable[..., Path], drift: str
) -> None:
    root = make_project(
        PROJECT.format(warehouse="sqlite:///w.db", drift=drift), {"data/a.csv": "id\n1\n"}
    )
    report = run_pipeline(load_project(root), "p")
    assert table_count(root) == 0
    if drift == "quarantine":
        (qf,) = report.streams["s"].quarantined_files
        assert qf["reason"] == "columns drifted: expected but not found: name"
        assert "`sluice quarantine replay`" in qf["hint"]
        return
    assert report.status == "failed"
    (err,) = report.errors
    assert err["message"] == "columns drifted: expected but not found: name"
    assert "`sluice run p`" in err["hint"]  # nothing was set aside: a replay has nothing
    text = (root / "sluice.yaml").read_text().replace("drift: fail", "drift: evolve")
    (root / "sluice.yaml").write_text(text)
    cli = processes.run(
        [sys.executable, "-m", "sluice", "run", "p"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert table_count(root) == 1
