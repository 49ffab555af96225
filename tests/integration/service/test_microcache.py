"""The micro-cache: repeated reads answered before routing, only for valid tokens."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.support.service import OP, VIEW, wait


def _counting(client: TestClient) -> list[int]:
    """Count the state store's runs queries (the route's work on a cache miss)."""
    store = client.app.state.store  # type: ignore[attr-defined]
    calls: list[int] = []
    real = store.runs

    def runs(*args: object, **kw: object) -> object:
        calls.append(1)
        return real(*args, **kw)

    store.runs = runs
    return calls


def test_a_repeated_read_is_answered_from_the_cache(client: TestClient) -> None:
    calls = _counting(client)
    first = client.get("/api/runs?limit=5", headers=VIEW)
    again = client.get("/api/runs?limit=5", headers=OP)
    assert first.status_code == again.status_code == 200
    assert first.content == again.content
    assert len(calls) == 1  # the second was served before routing
    client.get("/api/runs?limit=6", headers=VIEW)  # another question: another query
    assert len(calls) == 2


def test_a_run_started_here_shows_at_once_and_errors_are_not_kept(client: TestClient) -> None:
    assert client.get("/api/runs", headers=VIEW).json()["runs"] == []
    run_id = client.post("/api/pipelines/leads/runs", headers=OP).json()["run_id"]
    wait(client, run_id)
    assert [r["run_id"] for r in client.get("/api/runs", headers=VIEW).json()["runs"]] == [run_id]
    # A 404 is not kept: the table appears once loaded, and the cache must not hide it.
    missing = client.get("/api/datasets/nope", headers=VIEW)
    assert missing.status_code == 404
    assert client.get("/api/datasets/nope", headers=VIEW).status_code == 404


def test_no_valid_token_is_never_served_from_the_cache(client: TestClient) -> None:
    assert client.get("/api/runs", headers=VIEW).status_code == 200  # now cached
    assert client.get("/api/runs").status_code == 401
    bad = {"Authorization": "Bearer " + "x" * 32}
    assert client.get("/api/runs", headers=bad).status_code == 401
    assert client.get("/api/runs", headers={"Authorization": "Basic abc"}).status_code == 401
