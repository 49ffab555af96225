"""The Celery executor's ``wait`` reads the state store only: tested without a cluster
(the broker is named, never reached)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sluice.config import parse_project
from sluice.engine.report import RunReport
from sluice.errors import NotFound
from sluice.state.store import StateStore
from sluice.status import RunStatus

TEXT = """
executor: celery
pipelines:
  p:
    sources: {s: {type: file, path: "*.csv"}}
    table: {name: t, columns: {a: {type: string}}}
"""


def test_wait_says_not_found_for_a_run_not_in_the_state_store_and_reports_an_ended_one(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    from sluice.executors.celery import CeleryExecutor

    monkeypatch.setenv("SLUICE_BROKER_URL", "redis://127.0.0.1:6379/15")
    project = parse_project(TEXT, str(tmp_path / "sluice.yaml"), tmp_path)
    store = StateStore(pg_url)
    try:
        executor = CeleryExecutor(project, store)
        request.addfinalizer(executor.shutdown)  # its heartbeat thread, before the schema goes
        with pytest.raises(NotFound) as err:  # never there, or pruned while waited for
            executor.wait("20260101T000000-nosuch", poll=0.01)
        assert "20260101T000000-nosuch" in str(err.value) and err.value.hint
        run_id = store.start_run("p", host="celery")
        store.finish_run(run_id, RunStatus.CANCELLED, RunReport(run_id=run_id, pipeline="p"))
        doc = executor.wait(run_id, poll=0.01)
        assert (doc["run_id"], doc["pipeline"], doc["status"]) == (run_id, "p", "cancelled")
    finally:
        store.close()
