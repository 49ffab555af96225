"""The service on a real uvicorn server on a free 127.0.0.1 port, over real HTTP."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from sluice.config import load_project
from sluice.service import close, create_app
from sluice.sim.server import SimServer
from tests.support.service import OP, VIEW, settings


def test_health_trigger_status_rows_and_log_stream_over_http(leads: Path) -> None:
    app = create_app(load_project(leads), settings())
    try:
        with SimServer(app) as server, httpx.Client(base_url=server.url, timeout=30) as http:
            assert http.get("/api/health").status_code == 401
            health = http.get("/api/health", headers=VIEW).json()
            assert health["state_store"] == "ok"
            assert http.get("/api/pipelines").status_code == 401
            assert http.post("/api/pipelines/leads/runs", headers=VIEW).status_code == 403
            r = http.post("/api/pipelines/leads/runs", headers=OP)
            assert r.status_code == 202
            run_id = r.json()["run_id"]
            with http.stream("GET", f"/api/runs/{run_id}/log/stream", headers=VIEW) as s:
                lines = [line for line in s.iter_lines() if line.startswith("data: ")]
            assert json.loads(lines[-1][6:])["status"] == "succeeded_with_quarantine"
            deadline = time.monotonic() + 30
            while (doc := http.get(f"/api/runs/{run_id}", headers=VIEW).json())[
                "status"
            ] == "running":
                assert time.monotonic() < deadline
                time.sleep(0.05)
            assert doc["totals"]["loaded"] == 54
            rows = http.get("/api/datasets/leads", headers=VIEW, params={"limit": 3}).json()
            assert len(rows["rows"]) == 3
            csv = http.get("/api/datasets/leads", headers=VIEW, params={"format": "csv"})
            assert csv.text.startswith("license_number,")
    finally:
        close(app)
