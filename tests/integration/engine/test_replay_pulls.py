"""An API pull set aside for drift is kept whole in the dead letter (JSON Lines, PII
hidden as in any quarantine payload) and replayed from there: the API is never called
again (issue 12)."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from sluice.config import load_project
from sluice.destinations import connect
from sluice.destinations.sql import SqlDestination
from sluice.engine import run_pipeline
from sluice.engine.replay import replay
from sluice.sim.server import SimServer
from sluice.state.store import StateStore
from sluice.testing import processes
from tests.support.http_app import N, create_app

SALT = "s4lt"


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        return "sqlite:///w.db"
    return str(request.getfixturevalue("pg_url"))


def rows(root: Path, order: str = "id") -> list[dict[str, Any]]:
    dest = connect(load_project(root).warehouse_url())
    assert isinstance(dest, SqlDestination)
    try:
        with dest.engine.connect() as c:
            got = c.execute(sa.text(f"SELECT * FROM items ORDER BY {order}")).mappings().all()
        return [dict(r) for r in got]
    finally:
        dest.close()


def entries(root: Path, kind: str) -> list[Any]:
    store = StateStore(load_project(root).state_url())
    try:
        return [e for e in store.quarantined(pipeline="p", status=None) if e.kind == kind]
    finally:
        store.close()


def edit(root: Path, old: str, new: str) -> None:
    path = root / "sluice.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def items_project(api: str, warehouse: str, drift: str, params: str) -> str:
    return f"""
warehouse: {warehouse}
pipelines:
  p:
    sources:
      s:
        type: http
        base_url: {api}
        endpoint: /items
        params: {{style: page, {params}}}
        records: data
        paginate: {{style: page, total_pages: total_pages}}
        retry: {{max_attempts: 2, backoff: 0.01}}
        drift: {drift}
    table:
      name: items
      columns:
        id: {{type: integer, required: true}}
        name: string
        meta_color: string
        meta_size: integer
        updated_at: datetime
"""


def test_a_pull_whose_fields_vanished_is_replayed_from_its_copy_with_the_api_gone(
    warehouse: str, make_project: Callable[..., Path]
) -> None:
    with SimServer(create_app()) as server:
        root = make_project(items_project(server.url, warehouse, "quarantine", "vanish: name"))
        first = run_pipeline(load_project(root), "p")
    assert first.status == "succeeded_with_quarantine", first.errors
    (pull,) = entries(root, "file")
    assert pull.payload["kept"] == "pull"
    kept = Path(pull.payload["copy"])
    assert kept.name == "pull.jsonl"
    lines = [json.loads(t) for t in kept.read_text().splitlines()]
    assert len(lines) == N  # every record of the pull, not a sample of it
    # The API is gone; the fix is `drift: evolve`, as the hint says.
    edit(root, "drift: quarantine", "drift: evolve")
    (again,) = replay(load_project(root))
    assert again.status == "succeeded", again.errors
    got = rows(root)
    assert [r["id"] for r in got] == list(range(1, N + 1))
    assert [r["name"] for r in got[:5]] == [f"item {i}" for i in range(1, 6)]
    assert {r["name"] for r in got[5:]} == {None}  # vanished after page 1: null
    assert again.streams["s"].http["requests"] == 0  # read from the copy: no request
    (pull,) = entries(root, "file")
    assert pull.status == "replayed"


def people_api(state: dict[str, Any]) -> FastAPI:
    """Two pages of ``state["people"]``; the records change when the test says so."""
    app = FastAPI()

    @app.get("/people")
    async def people(page: int = 1) -> dict[str, Any]:
        state["calls"] += 1
        everyone = state["people"]
        return {"data": everyone[(page - 1) * 3 : page * 3], "total_pages": 2}

    return app


def person(i: int, name: str) -> dict[str, Any]:
    return {"id": i, "name": name, "email": f"{name}@example.org", "signup": {"day": "mon"}}


PEOPLE = """
pii_salt: ${{TEST_SALT:-{salt}}}
warehouse: {warehouse}
pipelines:
  p:
    sources:
      s:
        type: http
        base_url: {api}
        endpoint: /people
        records: data
        paginate: {{style: page, total_pages: total_pages}}
        retry: {{max_attempts: 2, backoff: 0.01}}
    table:
      name: items
      columns:
        id: {{type: integer, required: true}}
        name: {{type: string, pii: hash}}
        email: {{type: string, pii: mask, keep: 4}}
"""


def sha(value: str) -> str:
    return hashlib.sha256((SALT + value).encode()).hexdigest()


def test_a_drifted_pull_is_kept_with_pii_hidden_and_replayed_after_the_api_changed(
    warehouse: str, make_project: Callable[..., Path]
) -> None:
    state: dict[str, Any] = {"calls": 0, "people": [person(i, f"p{i}") for i in range(1, 7)]}
    with SimServer(people_api(state)) as server:
        root = make_project(PEOPLE.format(api=server.url, warehouse=warehouse, salt=SALT))
        first = run_pipeline(load_project(root), "p")
        assert first.status == "succeeded_with_quarantine", first.errors
        assert "signup_day" in first.streams["s"].quarantined_files[0]["reason"]
        (pull,) = entries(root, "file")
        kept = Path(pull.payload["copy"]).read_text()
        assert "p1" not in kept and "p1@example.org" not in kept  # hidden as in quarantine
        assert sha("p1") in kept and "*********.org" in kept
        assert sorted(pull.payload["concealed"]) == ["email", "name"]
        # Upstream moves on: other people now; the fix maps nothing new, it ignores a field.
        state["people"] = [person(i, f"new{i}") for i in range(10, 16)]
        calls = state["calls"]
        edit(root, "records: data", "records: data\n        ignore: [signup_day]")
        (again,) = replay(load_project(root))
        assert state["calls"] == calls  # the API was not called
    assert again.status == "succeeded", again.errors
    got = rows(root)
    assert [r["id"] for r in got] == [1, 2, 3, 4, 5, 6]
    assert [r["name"] for r in got] == [sha(f"p{i}") for i in range(1, 7)]  # hashed once
    assert got[0]["email"] == "**********.org"


def test_an_entry_without_a_whole_copy_says_to_pull_again_and_that_closes_it(
    make_project: Callable[..., Path],
) -> None:
    state: dict[str, Any] = {"calls": 0, "people": [person(i, f"p{i}") for i in range(1, 7)]}
    with SimServer(people_api(state)) as server:
        root = make_project(PEOPLE.format(api=server.url, warehouse="sqlite:///w.db", salt=SALT))
        run_pipeline(load_project(root), "p")
        (pull,) = entries(root, "file")
        # As an entry kept before whole pulls were: a sample, not the pull.
        store = StateStore(load_project(root).state_url())
        payload = {k: v for k, v in pull.payload.items() if k != "kept"}
        store.update_quarantine(pull.id, payload=payload)
        store.close()
        edit(root, "records: data", "records: data\n        ignore: [signup_day]")
        (again,) = replay(load_project(root))
        assert again.status == "failed"
        (err,) = again.errors
        assert "holds only part of the pull" in err["message"]
        assert "`sluice run p`" in err["hint"]
        (pull,) = entries(root, "file")
        assert pull.status == "open"
        # The hint, followed.
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
        done = processes.run(
            [sys.executable, "-m", "sluice", "run", "p", "-p", str(root)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    (pull,) = entries(root, "file")
    assert pull.status == "superseded" and pull.superseded_by
    assert len(rows(root)) == 6
