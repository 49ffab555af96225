"""A NUL character or an integer beyond 64 bits in a parameter is refused (422) before it
reaches a PostgreSQL state store (which failed on them: 503, as if it were down)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sluice.config import load_project
from sluice.service import create_app
from tests.support.service import OP, VIEWER, settings

NUL = "a\x00b"
HUGE = str(2**63)  # one past a signed 64-bit integer


@pytest.fixture
def pg_client(leads: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The service over a PostgreSQL state store (a fresh schema), signed in as a viewer
    for the dashboard; server errors come back as answers, not exceptions."""
    monkeypatch.setenv("SLUICE_STATE_URL", pg_url)
    app = create_app(load_project(leads), settings())
    with TestClient(app, raise_server_exceptions=False) as c:
        assert "postgresql" in app.state.store.url
        assert c.post("/signin", data={"token": VIEWER, "next": "/"}).status_code == 200
        yield c


REFUSED: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/runs", {"pipeline": NUL}),
    ("GET", "/api/runs", {"status": NUL}),
    ("GET", "/api/runs/a%00b", None),
    ("GET", "/api/runs/a%00b/log", None),
    ("GET", "/api/runs/a%00b/log/stream", None),
    ("POST", "/api/runs/a%00b/cancel", None),
    ("GET", "/api/runs/RUN/log", {"after": HUGE}),
    ("GET", "/api/runs/RUN/log", {"after": str(2**64)}),
    ("GET", "/api/runs/RUN/log/stream", {"after": HUGE}),
    ("GET", "/api/quarantine", {"pipeline": NUL}),
    ("GET", "/api/quarantine", {"run_id": NUL}),
    ("GET", f"/api/quarantine/{HUGE}", None),
    ("GET", "/runs/a%00b", None),
    ("GET", "/runs/a%00b/live", None),
    ("GET", "/quarantine", {"pipeline": NUL}),
    ("GET", "/quarantine", {"run": NUL}),
    ("GET", "/quarantine", {"offset": HUGE}),
    ("GET", "/pipelines/a%00b", None),
]


def test_nul_and_huge_parameters_are_refused_with_422(pg_client: TestClient) -> None:
    run_id = pg_client.app.state.store.start_run("leads")  # type: ignore[attr-defined]
    answers = {
        (method, path, str(params)): pg_client.request(
            method, path.replace("RUN", run_id), params=params, headers=OP
        ).status_code
        for method, path, params in REFUSED
    }
    assert answers == dict.fromkeys(answers, 422)


def test_nul_in_a_replay_body_or_form_is_refused(pg_client: TestClient) -> None:
    r = pg_client.post("/api/quarantine/replay", json={"pipeline": NUL}, headers=OP)
    assert r.status_code == 422, r.text
    form = pg_client.post("/quarantine/replay", data={"pipeline": NUL}, headers=OP)
    assert form.status_code == 422, form.text
    form = pg_client.post("/quarantine/replay", data={"id": HUGE}, headers=OP)
    assert form.status_code == 422, form.text


def test_large_ids_within_64_bits_are_looked_up(pg_client: TestClient) -> None:
    """Beyond the 32-bit id columns of PostgreSQL but within 64 bits: nothing found."""
    run_id = pg_client.app.state.store.start_run("leads")  # type: ignore[attr-defined]
    log = pg_client.get(f"/api/runs/{run_id}/log", params={"after": 2**63 - 1}, headers=OP)
    assert log.status_code == 200 and log.json()["events"] == []
    assert pg_client.get(f"/api/quarantine/{2**40}", headers=OP).status_code == 404
    r = pg_client.post("/api/quarantine/replay", json={"ids": [2**40]}, headers=OP)
    assert r.status_code == 400 and "no open quarantine entry" in r.json()["error"]
