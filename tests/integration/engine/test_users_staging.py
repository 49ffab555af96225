"""examples/users_staging against the randomuser simulator: every user once, no secrets."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest

from sluice.config import load_project
from sluice.engine import run_pipeline
from sluice.testing import free_port, processes

EXAMPLE = Path(__file__).parents[3] / "examples" / "users_staging"


@pytest.fixture
def example(tmp_path: Path, unset_urls: None) -> Path:
    shutil.copy(EXAMPLE / "sluice.yaml", tmp_path / "sluice.yaml")
    return tmp_path


class Api(NamedTuple):
    url: str


@contextmanager
def serve(rate_limit: float) -> Iterator[Api]:
    """The simulator in a process of its own (`sluice sim`), so it stamps each call when
    it arrives, as a real API counts it: in a thread of this process, busy with the
    run's own work, it stamped them when it got the interpreter, and two calls a
    rate-limit interval apart could land in one second now and then."""
    port = free_port()
    command = [sys.executable, "-m", "sluice", "sim", "randomuser", "--port", str(port)]
    command += ["--rate-limit", str(rate_limit), "--max-results", "100"]
    proc = processes.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url + "/_sim/stats", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                assert proc.poll() is None, proc.communicate()[1]
                assert time.monotonic() < deadline, "the simulator did not answer in 30 s"
                time.sleep(0.05)
        yield Api(url)
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    with serve(rate_limit=5) as server:
        monkeypatch.setenv("USERS_API", server.url)
        yield server


def table(root: Path) -> list[dict[str, object]]:
    with closing(sqlite3.connect(root / "users.db")) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM users_staging")]


def test_pulls_1000_users_within_the_rate_limit(example: Path, api: Api) -> None:
    report = run_pipeline(load_project(example), "users_staging")
    assert report.status == "succeeded", report.errors
    rows = table(example)
    assert len(rows) == 1000
    assert len({r["login_uuid"] for r in rows}) == 1000
    assert not any(k.startswith(("login_password", "login_salt", "picture_")) for k in rows[0])
    assert all(r["pulled_at"] for r in rows)
    assert {type(r["location_postcode"]) for r in rows} == {str}
    stats = httpx.get(api.url + "/_sim/stats").json()
    assert stats["max_per_second"] <= 5 and stats["rate_limited"] == 0
    assert report.streams["randomuser"].http == {
        "requests": 10,
        "retries": 0,
        "statuses": {"200": 10},
        "max_concurrency": report.streams["randomuser"].http["max_concurrency"],  # type: ignore[index]
    }


def test_429s_are_waited_out_without_losing_a_page(
    example: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The pipeline believes it may send 20 calls a second; the API allows 4.
    text = (example / "sluice.yaml").read_text().replace("rate_limit: 5", "rate_limit: 20")
    (example / "sluice.yaml").write_text(text.replace("concurrency", "x"))
    with serve(rate_limit=4) as server:
        monkeypatch.setenv("USERS_API", server.url)
        report = run_pipeline(load_project(example), "users_staging")
        stats = httpx.get(server.url + "/_sim/stats").json()
    assert report.status == "succeeded", report.errors
    rows = table(example)
    assert len(rows) == 1000 and len({r["login_uuid"] for r in rows}) == 1000
    assert stats["rate_limited"] > 0
    http = report.streams["randomuser"].http or {}
    assert http["retries"] == stats["rate_limited"]
    assert http["statuses"]["429"] == stats["rate_limited"]


def test_the_same_pipeline_loads_postgresql_by_url(
    example: Path, api: Api, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg

    monkeypatch.setenv("SLUICE_WAREHOUSE_URL", pg_url)
    report = run_pipeline(load_project(example), "users_staging")
    assert report.status == "succeeded", report.errors
    with psycopg.connect(pg_url) as conn:
        n, uuids, pulled = conn.execute(
            "SELECT count(*), count(DISTINCT login_uuid), min(pulled_at) FROM users_staging"
        ).fetchone()
        kinds = dict(
            conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = 'users_staging' AND table_schema = current_schema()"
            ).fetchall()
        )
    assert (n, uuids) == (1000, 1000) and pulled is not None
    assert kinds["pulled_at"] == "timestamp with time zone"
    assert kinds["location_coordinates_latitude"] == "double precision"
