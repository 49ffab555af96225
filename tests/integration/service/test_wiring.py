"""What `sluice serve` does on its own: metrics, alerts after a run, folder triggers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from sluice.config import load_project
from sluice.service import create_app
from sluice.testing import Capture
from tests.support.service import OP, VIEW, settings, wait, wait_for


def test_metrics_count_the_runs_the_service_made(client: TestClient) -> None:
    assert client.get("/metrics").status_code == 401
    run_id = client.post("/api/pipelines/leads/runs", headers=OP).json()["run_id"]
    wait(client, run_id)
    # The hooks run just after the run is recorded: wait for them too.
    line = 'sluice_runs_total{kind="run",pipeline="leads",status="succeeded_with_quarantine"} 1.0'
    wait_for(lambda: line in client.get("/metrics", headers=VIEW).text, timeout=10)
    text = client.get("/metrics", headers=VIEW).text
    assert 'sluice_rows_loaded_total{pipeline="leads"} 54.0' in text


def test_a_run_over_the_quarantine_threshold_alerts_the_webhook(
    leads: Path, capture: Capture
) -> None:
    text = (leads / "sluice.yaml").read_text()
    alerts = f"alerts:\n  webhook: {capture.url}/hook\n  base_url: http://svc:8000\n"
    (leads / "sluice.yaml").write_text(alerts + text)
    with TestClient(create_app(load_project(leads), settings())) as c:
        run_id = c.post("/api/pipelines/leads/runs", headers=OP).json()["run_id"]
        wait(c, run_id)
        wait_for(lambda: bool(capture.received), timeout=20)
    (message,) = capture.received
    assert f"http://svc:8000/runs/{run_id}" in str(message)
    assert "leads" in message["text"]


def test_a_watched_folder_starts_a_run_when_the_server_starts(leads: Path) -> None:
    text = (leads / "sluice.yaml").read_text()
    (leads / "sluice.yaml").write_text(text.replace("  leads:\n", "  leads:\n    watch: data\n", 1))
    with TestClient(create_app(load_project(leads), settings())) as c:

        def runs() -> list[dict[str, Any]]:
            return list(c.get("/api/runs", headers=VIEW).json()["runs"])

        wait_for(lambda: bool(runs()), timeout=30)
        run_id = runs()[0]["run_id"]
        doc = wait(c, run_id)
        assert doc["totals"]["loaded"] == 54
        log = c.get(f"/api/runs/{run_id}/log", headers=VIEW).json()
        started = log["events"][0]
        assert started["message"] == "run of leads started"
        assert started["data"]["trigger"] == "watch"
