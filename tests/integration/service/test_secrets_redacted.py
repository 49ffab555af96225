"""A secret in a warehouse URL's query (``?password=``) leaves sluice nowhere (issue 13).

Real PostgreSQL (trust authentication ignores the password, so the URL works), the
real CLI in a subprocess, the real service and a real webhook on loopback: the secret
is absent from what ``sluice run --json`` and ``sluice show`` print, from the run log,
from the report the dashboard downloads, and from the alert, while the URL itself is
there, its password shown as ``***``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from fastapi.testclient import TestClient

from sluice.config import load_project
from sluice.service import create_app
from sluice.testing import Capture, processes
from tests.conftest import PG_BASE
from tests.support.service import OP, VIEW, VIEWER, settings, wait, wait_for

SECRET = "s3cret"

PROJECT = """
name: secrets
warehouse: {warehouse}
{alerts}
pipelines:
  p:
    sources:
      s: {{type: file, path: data/*.csv}}
    table: {{name: t, columns: {{a: string, b: {{type: integer, required: true}}}}}}
"""


def project(root: Path, warehouse: str, alerts: str = "") -> Path:
    (root / "data").mkdir(parents=True)
    (root / "data" / "1.csv").write_text("a,b\nx,1\ny,oops\n")
    (root / "sluice.yaml").write_text(
        textwrap.dedent(PROJECT).format(warehouse=warehouse, alerts=alerts)
    )
    return root


def cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    return processes.run(
        [sys.executable, "-m", "sluice", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_cli_never_prints_a_password_given_in_the_query(pg_url: str, tmp_path: Path) -> None:
    root = project(tmp_path / "p", f"{pg_url}&password={SECRET}")
    run = cli(root, "run", "p", "--json")
    assert run.returncode == 3, run.stderr  # one row quarantined: the load worked
    report = json.loads(run.stdout)
    assert report["destination"].endswith("&password=***")
    assert SECRET not in run.stdout + run.stderr
    shown = cli(root, "show", report["run_id"])
    as_json = cli(root, "show", report["run_id"], "--json")
    assert shown.returncode == as_json.returncode == 0, shown.stderr + as_json.stderr
    assert "password=***" in shown.stdout  # the URL is there, masked
    for out in (shown, as_json):
        assert SECRET not in out.stdout + out.stderr


def test_a_failed_run_shows_the_url_masked_in_log_report_download_and_alert(
    pg_admin: object,
    tmp_path: Path,
    capture: Capture,
    unset_urls: None,
) -> None:
    url = f"{capture.url}/services/T000/B000/XXXX"
    # A database that does not exist: the run fails with an error quoting the URL.
    missing = PG_BASE.rsplit("/", 1)[0] + f"/sluice_no_such_db?password={SECRET}"
    alerts = f"alerts:\n  webhook: {url}\n  base_url: http://svc:8000"
    root = project(tmp_path / "p", missing, alerts)
    with TestClient(create_app(load_project(root), settings())) as c:
        run_id = c.post("/api/pipelines/p/runs", headers=OP).json()["run_id"]
        doc = wait(c, run_id)
        wait_for(lambda: bool(capture.received), timeout=30)
        log = c.get(f"/api/runs/{run_id}/log", headers=VIEW)
        signed = c.post("/signin", data={"token": VIEWER, "next": "/"}, follow_redirects=False)
        assert signed.status_code == 303
        download = c.get(f"/runs/{run_id}/report.html")
    assert doc["status"] == "failed"
    assert "sluice_no_such_db?password=***" in doc["errors"][0]["message"]
    assert log.status_code == download.status_code == 200
    assert "sluice_no_such_db?password=***" in download.text
    places = {
        "report": json.dumps(doc),
        "log": log.text,
        "downloaded report": download.text,
        "alert": json.dumps(capture.received),
    }
    assert "password=***" in places["alert"]
    leaked = [name for name, text in places.items() if SECRET in text]
    assert not leaked, leaked
