"""Trigger, poll, report, log, conflicts, queue and cancel, through the API."""

from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from sluice.cli.app import app as cli
from sluice.config import load_project
from sluice.service import create_app
from sluice.state.store import StateStore
from sluice.testing import Gate, copy_example
from tests.support.service import OP, VIEW, settings, wait, wait_for

EXPECTED = {  # stream: (read, loaded, quarantined, filtered), as in tests/engine
    "source1": (29, 20, 5, 4),
    "source2": (18, 15, 3, 0),
    "source3": (20, 19, 1, 0),
}


def counts(doc: dict[str, Any]) -> dict[str, tuple[int, int, int, int]]:
    return {
        name: (s["read"], s["loaded"], s["quarantined"], s["filtered"])
        for name, s in doc["streams"].items()
    }


def rows(db: Path, table: str) -> int:
    with closing(sqlite3.connect(db)) as conn:
        return int(conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0])


def test_trigger_poll_and_the_report_is_the_cli_s(
    client: TestClient, leads: Path, tmp_path: Path
) -> None:
    r = client.post("/api/pipelines/leads/runs", headers=OP)
    assert r.status_code == 202
    run_id = r.json()["run_id"]
    assert r.json()["status"] == "running"
    doc = wait(client, run_id)
    assert doc["status"] == "succeeded_with_quarantine" and doc["run_id"] == run_id
    assert counts(doc) == EXPECTED
    t = doc["totals"]
    assert t["read"] == t["loaded"] + t["quarantined"] + t["filtered"]

    other = tmp_path / "cli"
    copy_example("leads", other)
    out = CliRunner().invoke(cli, ["run", "leads", "-p", str(other), "--json"])
    assert out.exit_code == 3, out.output
    by_cli = json.loads(out.stdout)
    assert counts(by_cli) == counts(doc)
    assert by_cli["totals"] == doc["totals"]
    assert set(by_cli) <= set(doc)
    assert by_cli["errors"] == doc["errors"] == []

    listed = client.get("/api/runs", headers=VIEW, params={"pipeline": "leads"}).json()
    assert [x["run_id"] for x in listed["runs"]] == [run_id]
    assert listed["runs"][0]["loaded"] == 54
    # every time the API gives carries its zone (the state store's SQLite keeps none)
    assert listed["runs"][0]["started_at"].endswith(("Z", "+00:00"))
    assert doc["started_at"].endswith("+00:00") and doc["finished_at"].endswith(("Z", "+00:00"))
    pipe = client.get("/api/pipelines/leads", headers=VIEW).json()
    assert pipe["last_run"]["run_id"] == run_id
    assert pipe["mode"] == "snapshot" and pipe["table"] == "leads"
    assert [s["name"] for s in pipe["sources"]] == ["source1", "source2", "source3"]
    assert pipe["next_run"] is None and pipe["running"] is None
    assert client.get("/api/pipelines", headers=VIEW).json()[0]["name"] == "leads"


def test_runs_filter_and_paginate(client: TestClient) -> None:
    first = client.post("/api/pipelines/leads/runs", headers=OP).json()["run_id"]
    wait(client, first)
    second = client.post("/api/pipelines/leads/runs", headers=OP).json()["run_id"]
    assert wait(client, second)["status"] == "succeeded"  # the ledger skips every file
    page = client.get("/api/runs", headers=VIEW, params={"limit": 1}).json()
    assert [r["run_id"] for r in page["runs"]] == [second]
    page = client.get("/api/runs", headers=VIEW, params={"limit": 1, "offset": 1}).json()
    assert [r["run_id"] for r in page["runs"]] == [first]
    found = client.get("/api/runs", headers=VIEW, params={"status": "succeeded"}).json()
    assert [r["run_id"] for r in found["runs"]] == [second]
    assert client.get("/api/runs", headers=VIEW, params={"pipeline": "x"}).json()["runs"] == []
    assert client.get("/api/runs", headers=VIEW, params={"limit": 0}).status_code == 422
    assert client.get("/api/runs/nope", headers=VIEW).status_code == 404
    assert client.get("/api/pipelines/nope", headers=VIEW).json()["error"].startswith("no pip")


def test_log_pages_and_stream(client: TestClient) -> None:
    run_id = client.post("/api/pipelines/leads/runs", headers=OP).json()["run_id"]
    streamed: list[dict[str, Any]] = []
    with client.stream("GET", f"/api/runs/{run_id}/log/stream", headers=VIEW) as s:
        assert s.headers["content-type"].startswith("text/event-stream")
        event = None
        for line in s.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                streamed.append({"event": event, **json.loads(line[6:])})
    assert streamed[-1] == {
        "event": "end",
        "run_id": run_id,
        "status": "succeeded_with_quarantine",
    }
    logged = [e for e in streamed if e["event"] == "log"]
    assert logged[0]["message"] == "run of leads started"
    assert logged[-1]["message"] == "run finished: succeeded_with_quarantine"

    pages: list[dict[str, Any]] = []
    after = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"after": after} if after is not None else {})
        page = client.get(f"/api/runs/{run_id}/log", headers=VIEW, params=params).json()
        if not page["events"]:
            break
        assert len(page["events"]) <= 2
        pages += page["events"]
        after = page["next_after"]
    assert [e["id"] for e in pages] == [e["id"] for e in logged]
    # a reconnecting client resumes after the last id it saw
    with client.stream(
        "GET",
        f"/api/runs/{run_id}/log/stream",
        headers={**VIEW, "Last-Event-ID": str(logged[-2]["id"])},
    ) as s:
        text = "".join(s.iter_text())
    assert text.count("event: log") == 1 and "event: end" in text


def test_second_trigger_while_running_is_409_or_queued(big: Any, gate: Gate) -> None:
    root = big(rows=1_000)
    with TestClient(create_app(load_project(root), settings())) as c:
        first = c.post("/api/pipelines/big/runs", headers=OP).json()["run_id"]
        gate.wait_reached()  # the first run has read its rows and waits: it is going
        second = c.post("/api/pipelines/big/runs", headers=OP)
        assert second.status_code == 409, second.text
        assert "is running" in second.json()["error"] and second.json()["hint"]
        gate.open()
        assert wait(c, first)["status"] == "succeeded"

    text = (root / "sluice.yaml").read_text().replace("if_running: reject", "if_running: queue")
    (root / "sluice.yaml").write_text(text)
    (root / "data" / "more.csv").write_text(
        (root / "data" / "numbers.csv").read_text().replace("name ", "more ")
    )
    gate.reset()
    with TestClient(create_app(load_project(root), settings())) as c:
        running = c.post("/api/pipelines/big/runs", headers=OP).json()
        gate.wait_reached()
        queued = c.post("/api/pipelines/big/runs", headers=OP)
        assert queued.status_code == 202 and queued.json()["status"] == "queued"
        doc = c.get(f"/api/runs/{queued.json()['run_id']}", headers=VIEW).json()
        assert doc["status"] == "queued"  # the run before still waits at the gate
        gate.open()
        assert wait(c, running["run_id"])["totals"]["loaded"] == 1_000
        after = wait(c, queued.json()["run_id"])
        assert after["status"] == "succeeded"
        assert after["totals"]["loaded"] == 0  # the run before took the new file
    assert rows(root / "big.db", "numbers") == 2_000


def test_cancel_a_long_load_rolls_it_back_and_the_service_stays_responsive(
    big: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = big(rows=1_000)
    with TestClient(create_app(load_project(root), settings())) as c:
        assert (
            wait(c, c.post("/api/pipelines/big/runs", headers=OP).json()["run_id"])["status"]
            == "succeeded"
        )
        (root / "data" / "numbers.csv").rename(root / "data" / "older.csv")
        big(rows=1_000)  # a new file with the same rows, under the old name
        (root / "data" / "numbers.csv").write_text(
            (root / "data" / "numbers.csv").read_text().replace("name ", "new ")
        )
        # The next run reads its batch and waits, uncommitted, until cancelled.
        gate = Gate(tmp_path / "gate")
        monkeypatch.setenv(*gate.env)
        run_id = c.post("/api/pipelines/big/runs", headers=OP).json()["run_id"]
        store = StateStore(load_project(root).state_url())
        try:
            gate.wait_reached()
            wait_for(lambda: any(s.rows > 0 for s in store.stages(run_id)))
            for _ in range(5):  # reads answer while the load writes
                assert c.get("/api/runs", headers=VIEW).status_code == 200
                assert c.get(f"/api/runs/{run_id}/log", headers=VIEW).status_code == 200
                assert c.get("/api/health", headers=VIEW).json()["ok"]
            # ...and did not wait for it: it is still going (speed is bench/service's job).
            run = store.run(run_id)
            assert run is not None and run.status == "running"
            r = c.post(f"/api/runs/{run_id}/cancel", headers=OP)
            assert r.status_code == 202 and r.json() == {"run_id": run_id, "status": "cancelling"}
            doc = wait(c, run_id)
        finally:
            store.close()
        assert doc["status"] == "cancelled", doc
        assert doc["errors"][0]["type"] == "RunCancelled"
        assert rows(root / "big.db", "numbers") == 1_000  # unchanged
        again = c.post(f"/api/runs/{run_id}/cancel", headers=OP)
        assert again.status_code == 409 and "cancelled" in again.json()["error"]
        # the cancelled file is loaded by the next run
        gate.open()
        redo = wait(c, c.post("/api/pipelines/big/runs", headers=OP).json()["run_id"])
        assert redo["status"] == "succeeded" and redo["totals"]["loaded"] == 1_000


def test_cancel_a_queued_run_before_it_starts(big: Any, gate: Gate) -> None:
    root = big(rows=1_000, if_running="queue")
    with TestClient(create_app(load_project(root), settings())) as c:
        first = c.post("/api/pipelines/big/runs", headers=OP).json()["run_id"]
        gate.wait_reached()
        queued = c.post("/api/pipelines/big/runs", headers=OP).json()
        assert queued["status"] == "queued"
        assert c.post(f"/api/runs/{queued['run_id']}/cancel", headers=OP).status_code == 202
        assert wait(c, queued["run_id"])["status"] == "cancelled"
        gate.open()
        assert wait(c, first)["status"] == "succeeded"
    assert rows(root / "big.db", "numbers") == 1_000


def test_reads_do_not_fail_while_a_run_writes_the_state_store(big: Any) -> None:
    # Many small batches: the run writes its progress to the state store after each of
    # ~80 batches (5 MB in 64 KiB) while three readers poll; a million rows in 4 MiB
    # batches wrote it 7 times, in a run 5 times as long.
    root = big(rows=200_000)
    yaml = root / "sluice.yaml"
    yaml.write_text(
        yaml.read_text().replace("path: data/*.csv}", "path: data/*.csv, batch_bytes: 65536}")
    )
    errors: list[int] = []
    with TestClient(create_app(load_project(root), settings())) as c:
        run_id = c.post("/api/pipelines/big/runs", headers=OP).json()["run_id"]
        done = threading.Event()

        def read() -> None:
            while not done.is_set():
                for path in ("/api/runs", f"/api/runs/{run_id}", f"/api/runs/{run_id}/log"):
                    status = c.get(path, headers=VIEW).status_code
                    if status != 200:
                        errors.append(status)

        readers = [threading.Thread(target=read) for _ in range(3)]
        for t in readers:
            t.start()
        try:
            assert wait(c, run_id)["status"] == "succeeded"
        finally:
            done.set()
            for t in readers:
                t.join()
    assert errors == []
