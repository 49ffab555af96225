"""Latest rows (JSON, CSV, pages, crafted names) and quarantine list/show/replay."""

from __future__ import annotations

import csv
import io
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.integration.engine.test_leads_runs import fix_mapping
from tests.support.service import OP, VIEW, wait

CRAFTED = [
    "users; DROP TABLE leads",
    "leads; DROP TABLE leads --",
    "../../etc/passwd",
    "leads'--",
    'leads" OR 1=1 --',
    "sluice_loads",
    "leads_latest",
    "sqlite_master",
]


@pytest.fixture
def loaded(client: TestClient) -> TestClient:
    wait(client, client.post("/api/pipelines/leads/runs", headers=OP).json()["run_id"])
    return client


def tables(db: Path) -> set[str]:
    with closing(sqlite3.connect(db)) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}


def test_dataset_json_csv_and_pages(loaded: TestClient) -> None:
    doc = loaded.get("/api/datasets/leads", headers=VIEW, params={"limit": 1000}).json()
    assert doc["relation"] == "leads_latest" and doc["table"] == "leads"
    assert len(doc["rows"]) == 54 and "license_number" in doc["columns"]
    page = loaded.get("/api/datasets/leads", headers=VIEW, params={"limit": 10, "offset": 50})
    assert [r["license_number"] for r in page.json()["rows"]] == [
        r["license_number"] for r in doc["rows"][50:]
    ]
    as_csv = loaded.get("/api/datasets/leads", headers=VIEW, params={"format": "csv", "limit": 5})
    assert as_csv.headers["content-type"].startswith("text/csv")
    parsed = list(csv.reader(io.StringIO(as_csv.text)))
    assert parsed[0] == doc["columns"] and len(parsed) == 6
    assert parsed[1][0] == doc["rows"][0]["license_number"]
    named = loaded.get("/api/datasets/leads", headers=VIEW, params={"table": "leads"})
    assert named.status_code == 200
    assert loaded.get("/api/datasets/leads", headers=VIEW, params={"limit": 0}).status_code == 422
    bad = loaded.get("/api/datasets/leads", headers=VIEW, params={"format": "xml"})
    assert bad.status_code == 422


@pytest.mark.parametrize("name", CRAFTED)
def test_crafted_table_names_run_nothing(loaded: TestClient, leads: Path, name: str) -> None:
    before = tables(leads / "leads.db")
    r = loaded.get("/api/datasets/leads", headers=VIEW, params={"table": name})
    assert r.status_code in (400, 404), r.text
    assert set(r.json()) == {"error", "hint"}
    r = loaded.get(f"/api/datasets/{name}", headers=VIEW)
    assert r.status_code in (400, 404)
    r = loaded.get("/api/runs", headers=VIEW, params={"pipeline": name, "status": name})
    assert r.status_code == 200 and r.json()["runs"] == []
    assert tables(leads / "leads.db") == before
    assert loaded.get("/api/datasets/leads", headers=VIEW).status_code == 200


def test_dataset_before_any_run_is_404(client: TestClient) -> None:
    r = client.get("/api/datasets/leads", headers=VIEW)
    assert r.status_code == 404 and "run the pipeline" in r.json()["hint"]


def test_quarantine_list_show_and_replay(loaded: TestClient, leads: Path) -> None:
    entries = loaded.get("/api/quarantine", headers=VIEW, params={"pipeline": "leads"}).json()
    assert len(entries) == 10  # 9 rows + 1 drifted file
    (drifted,) = [e for e in entries if e["kind"] == "file"]
    assert drifted["payload"]["diff"]["missing"] == ["phone"]
    one = loaded.get(f"/api/quarantine/{drifted['id']}", headers=VIEW).json()
    assert one == drifted
    assert loaded.get("/api/quarantine/999999", headers=VIEW).status_code == 404
    assert loaded.get("/api/quarantine/0", headers=VIEW).status_code == 422
    assert loaded.get("/api/quarantine", headers=VIEW, params={"status": "x"}).status_code == 422
    missing = loaded.post("/api/quarantine/replay", headers=OP, json={"ids": [999999]})
    assert missing.status_code == 400 and "no open quarantine entry" in missing.json()["error"]

    fix_mapping(leads)  # a replay reads the config afresh: no restart
    r = loaded.post("/api/quarantine/replay", headers=OP, json={"ids": [drifted["id"]]})
    assert r.status_code == 202
    (run,) = r.json()["runs"]
    assert run["kind"] == "replay" and run["pipeline"] == "leads"
    doc = wait(loaded, run["run_id"])
    assert doc["kind"] == "replay" and doc["streams"]["source2"]["loaded"] == 12
    after = loaded.get(f"/api/quarantine/{drifted['id']}", headers=VIEW).json()
    assert after["status"] == "replayed" and after["replay_run_id"] == run["run_id"]
    rows = loaded.get("/api/datasets/leads", headers=VIEW, params={"limit": 1000}).json()
    assert len(rows["rows"]) == 51  # source2's newest drop replaces its older one
    replayed = loaded.get("/api/quarantine", headers=VIEW, params={"status": "replayed"}).json()
    assert [e["id"] for e in replayed] == [drifted["id"]]
