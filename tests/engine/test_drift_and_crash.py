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
    cli = subprocess.run(
        [sys.executable, "-m", "sluice", "run", "p", "-p", str(root)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 1
    assert "columns drifted" in cli.stdout + cli.stderr and "Traceback" not in cli.stderr
    assert table_count(root) == 2


def test_killed_load_leaves_table_as_it_was_and_rerun_completes(
    make_project: Callable[..., Path], warehouse: str
) -> None:
    root = make_project(
        PROJECT.format(warehouse=warehouse, drift="quarantine"),
        {"data/a.csv": "id,name\n1,a\n2,b\n3,c\n"},
    )
    assert run_pipeline(load_project(root), "p").totals.loaded == 3
    n = 400_000
    with open(root / "data" / "big.csv", "w") as f:
        f.write("id,name\n")
        f.writelines(f"{i},name number {i}\n" for i in range(10, 10 + n))

    proc = subprocess.Popen(
        [sys.executable, "-m", "sluice", "run", "p", "-p", str(root), "--json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    store = StateStore(load_project(root).state_url())
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:  # wait until rows are streaming into the load
            runs = store.runs("p", 1)
            if runs and runs[0].status == "running" and store.stages(runs[0].id):
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

    from sluice.engine.runner import table_spec

    dest.load(
        table_spec(project.pipeline("p")),
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
