"""`sluice serve` with `executor: celery`: triggers, file drops and cancels go to workers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from sluice.config import load_project
from sluice.executors.celery import CeleryExecutor
from sluice.service import create_app
from sluice.service.runtime.scheduler import Scheduler
from sluice.state.parts import RunParts
from sluice.state.store import StateStore
from tests.support.celery_support import Cluster, add_to_pipeline, cluster, leads_drop
from tests.support.service import OP, VIEW, settings, wait

COUNTED = 'sluice_runs_total{kind="run",pipeline="leads"'


@pytest.fixture
def served(tmp_path: Path, pg_admin: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cluster]:
    for c in cluster(tmp_path, pg_admin, "redis", tmp_path / "leads"):
        for name in ("SLUICE_BROKER_URL", "SLUICE_CELERY_QUEUE", "SLUICE_STATE_URL"):
            monkeypatch.setenv(name, c.env[name])
        monkeypatch.setenv("SLUICE_WAREHOUSE_URL", c.env["SLUICE_WAREHOUSE_URL"])
        yield c


def rows_in_warehouse(c: Cluster) -> int:
    with psycopg.connect(c.env["SLUICE_WAREHOUSE_URL"]) as conn:
        found = conn.execute("SELECT count(*) FROM leads").fetchone()
    return int(found[0]) if found else 0


def test_trigger_answers_at_once_and_the_run_ends_in_the_workers(served: Cluster) -> None:
    c = served
    leads_drop(c.root, files=12, rows=100)
    c.start(2)
    with TestClient(create_app(load_project(c.root), settings(), "celery")) as client:
        r = client.post("/api/pipelines/leads/runs", headers=OP)
        assert r.status_code == 202, r.text
        run_id = r.json()["run_id"]
        assert client.post("/api/pipelines/leads/runs", headers=OP).status_code == 409
        doc = wait(client, run_id)
        assert doc["status"] == "succeeded_with_quarantine", doc.get("errors")
        assert doc["totals"]["read"] == 12 * 100 + 18 + 20
        assert rows_in_warehouse(c) == doc["totals"]["loaded"]
        page = client.get("/api/datasets/leads?limit=5", headers=VIEW).json()
        assert len(page["rows"]) == 5
        log = client.get(f"/api/runs/{run_id}/log?limit=500", headers=VIEW).json()
        assert any("planned 15 parts" in e["message"] for e in log["events"])
        # The service's hooks hear of the end from the state store (metrics here).
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            text = client.get("/metrics", headers=VIEW).text
            if f'{COUNTED},status="succeeded_with_quarantine"}} 1.0' in text:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("the metrics never counted the run")


def test_cancel_stops_the_parts_and_keeps_what_loaded(served: Cluster) -> None:
    c = served
    leads_drop(c.root, files=30, rows=20_000)
    c.start(2)
    with TestClient(create_app(load_project(c.root), settings(), "celery")) as client:
        run_id = client.post("/api/pipelines/leads/runs", headers=OP).json()["run_id"]
        store = StateStore(c.env["SLUICE_STATE_URL"])
        try:
            deadline = time.monotonic() + 60
            while not any(p.status == "done" for p in RunParts(store).of(run_id)):
                assert time.monotonic() < deadline, "no part ever finished"
                time.sleep(0.05)
        finally:
            store.close()
        assert client.post(f"/api/runs/{run_id}/cancel", headers=OP).json()["status"] == (
            "cancelling"
        )
        doc = wait(client, run_id)
    assert doc["status"] == "cancelled"
    assert 0 < doc["totals"]["loaded"] < 30 * 20_000
    assert rows_in_warehouse(c) == doc["totals"]["loaded"]  # the parts that ended, whole
    assert any(e["type"] == "RunCancelled" for e in doc["errors"])


def _next_run(client: TestClient, seen: set[str], timeout: float = 30) -> str:
    """The id of the first run not in ``seen`` (started by the folder watcher)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for r in client.get("/api/runs?pipeline=leads", headers=VIEW).json()["runs"]:
            if r["run_id"] not in seen:
                seen.add(r["run_id"])
                return str(r["run_id"])
        time.sleep(0.2)
    raise AssertionError("the watcher started no run")


def test_a_dropped_file_is_loaded_by_the_workers(served: Cluster) -> None:
    c = served
    leads_drop(c.root, files=2, rows=50)
    add_to_pipeline(c.root, "watch: data")
    c.start(1)
    seen: set[str] = set()
    with TestClient(create_app(load_project(c.root), settings(), "celery")) as client:
        # The files there at start-up: one run, queued by the server's folder watcher.
        first = wait(client, _next_run(client, seen))
        assert first["totals"]["read"] == 2 * 50 + 18 + 20
        late = c.root / "data" / "source1" / "late.csv"
        late.write_bytes((c.root / "data" / "source1" / "leads_0000.csv").read_bytes())
        second = wait(client, _next_run(client, seen))
    # Same content under another name: the ledger knows it, nothing loads twice.
    assert second["totals"]["loaded"] == 0
    assert second["streams"]["source1"]["skipped_files"]
    assert rows_in_warehouse(c) == first["totals"]["loaded"]


def test_a_scheduled_slot_is_queued_for_the_workers(served: Cluster) -> None:
    c = served
    leads_drop(c.root, files=3, rows=50)
    add_to_pipeline(c.root, 'schedule: "0 * * * *"')
    c.start(1)
    project = load_project(c.root)
    store = StateStore(project.state_url())
    now = [datetime(2026, 3, 7, 9, 59, tzinfo=UTC)]
    executor = CeleryExecutor(project, store)
    try:
        scheduler = Scheduler(project, store, executor.submit, clock=lambda: now[0])
        assert scheduler.tick() == []  # first sight: nothing due
        now[0] = datetime(2026, 3, 7, 10, 0, 1, tzinfo=UTC)
        (fired,) = scheduler.tick()
        assert fired.outcome == "submitted" and fired.run_id
        report = executor.wait(str(fired.run_id))
        log = [e.message for e in store.events(str(fired.run_id), limit=500)]
    finally:
        executor.shutdown()  # its lease thread stops before the schema is dropped
        store.close()
    assert report["status"] == "succeeded_with_quarantine"
    assert report["totals"]["read"] == 3 * 50 + 18 + 20
    assert rows_in_warehouse(c) == report["totals"]["loaded"]
    assert any("queued for celery workers" in m for m in log)
