"""What viewers get: server paths relative to the project; run-id prefixes taken literally."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from sluice.cli.app import app as cli
from sluice.service.relative import RelativePaths
from sluice.state.store import StateStore
from tests.support.service import OP, VIEWER, wait


def test_answers_name_server_paths_relative_to_the_project(client: TestClient, leads: Path) -> None:
    root = str(leads.resolve())
    run_id = client.post("/api/pipelines/leads/runs", headers=OP).json()["run_id"]
    doc = wait(client, run_id)
    assert doc["destination"] == "sqlite:///leads.db"  # sqlite:////<root>/leads.db
    entries = client.get("/api/quarantine", headers=OP).json()
    copy = next(e["payload"]["copy"] for e in entries if e["kind"] == "file")
    assert copy.startswith(".sluice/deadletter/") and (leads / copy).is_file()
    with client.stream("GET", f"/api/runs/{run_id}/log/stream", headers=OP) as s:
        stream = "".join(s.iter_text())
    log = client.get(f"/api/runs/{run_id}/log", params={"limit": 1000}, headers=OP).text
    client.post("/signin", data={"token": VIEWER, "next": "/"})
    pages = [client.get(p).text for p in ("/quarantine", f"/runs/{run_id}")]
    report = client.get(f"/runs/{run_id}/report.html").text
    for answer in (json.dumps(doc), json.dumps(entries), stream, log, *pages, report):
        assert root not in answer
    assert ".sluice/deadletter/" in pages[0]
    # the state store (and so the CLI, on the machine) keeps the full path
    store: StateStore = client.app.state.store  # type: ignore[attr-defined]
    kept = [e.payload for e in store.quarantined("leads") if e.kind == "file"]
    assert kept and str(kept[0]["copy"]).startswith(root)


def test_only_the_project_folder_itself_is_rewritten() -> None:
    paths = RelativePaths(lambda *_: None, root=Path("/srv/etl/leads"))  # type: ignore[arg-type,return-value]
    assert paths.relative(b'"/srv/etl/leads/data/a.csv"') == b'"data/a.csv"'
    assert paths.relative(b"in /srv/etl/leads: no file") == b"in .: no file"
    assert paths.relative(b"/srv/etl/leads2/a.csv /srv/etl/leads.old") == (
        b"/srv/etl/leads2/a.csv /srv/etl/leads.old"
    )


def test_percent_and_underscore_in_a_run_id_prefix_are_not_wildcards(client: TestClient) -> None:
    store: StateStore = client.app.state.store  # type: ignore[attr-defined]
    run_id = store.start_run("leads")  # the only run: any wildcard would match it alone
    assert client.get(f"/api/runs/{run_id[:8]}", headers=OP).json()["run_id"] == run_id
    for prefix in ("%", "%25", run_id[:3] + "_", "_" * 8):
        r = client.get(f"/api/runs/{prefix.replace('%', '%25')}", headers=OP)
        assert r.status_code == 404, (prefix, r.text)
    assert store.run("%") is None and store.run(run_id[:4] + "_") is None


def test_sluice_show_takes_percent_literally(leads: Path) -> None:
    runner = CliRunner()
    runner.invoke(cli, ["run", "leads", "-p", str(leads)])  # exit 3: rows quarantined
    shown = runner.invoke(cli, ["show", "2", "-p", str(leads)])  # the one run, by a prefix
    assert shown.exit_code == 0, shown.output
    out = runner.invoke(cli, ["show", "%", "-p", str(leads)])
    assert out.exit_code != 0 and "no run '%'" in out.output, out.output
    out = runner.invoke(cli, ["show", "2_", "-p", str(leads)])
    assert out.exit_code != 0 and "no run '2_'" in out.output, out.output
