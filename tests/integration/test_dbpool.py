"""A state store's pooled connection is pinged only after it sat idle, and one that died
there is replaced without the caller seeing it, against the real PostgreSQL."""

from __future__ import annotations

import time
from typing import Any

import pytest
import sqlalchemy as sa

from sluice import dbpool
from sluice.state.store import StateStore


def backend_of(store: StateStore) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())


def counting_pings(store: StateStore, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    pings: list[Any] = []
    real = store.engine.dialect.do_ping

    def ping(dbapi_conn: Any) -> bool:
        pings.append(dbapi_conn)
        return real(dbapi_conn)

    monkeypatch.setattr(store.engine.dialect, "do_ping", ping)
    return pings


def test_a_connection_handed_back_a_moment_ago_is_not_pinged(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "a moment" made a minute: a slow machine's pause between two calls is no ping
    monkeypatch.setattr(dbpool, "IDLE_PING_SECONDS", 60.0)
    store = StateStore(pg_url)
    try:
        pings = counting_pings(store, monkeypatch)
        run_id = store.start_run("p")
        for i in range(20):  # a Celery part's bookkeeping: short transactions, back to back
            store.log(run_id, "info", f"line {i}")
        assert pings == []  # pool_pre_ping would have pinged 20 times
        assert [e.message for e in store.events(run_id)][-1] == "line 19"
    finally:
        store.close()


def test_a_connection_that_died_while_idle_is_replaced_before_use(
    pg_url: str, pg_admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dbpool, "IDLE_PING_SECONDS", 0.2)  # an idle second, made short
    store = StateStore(pg_url)
    try:
        pings = counting_pings(store, monkeypatch)
        run_id = store.start_run("p")
        dead = backend_of(store)
        pg_admin.execute("SELECT pg_terminate_backend(%s)", (dead,))
        time.sleep(0.3)
        store.log(run_id, "info", "after the restart")  # pinged, found dead, replaced
        assert pings, "the idle connection was not pinged"
        assert backend_of(store) != dead
        assert [e.message for e in store.events(run_id)] == ["after the restart"]
    finally:
        store.close()


def test_a_connection_that_died_a_moment_ago_is_made_again_by_the_call(
    pg_url: str, pg_admin: Any
) -> None:
    """Not pinged (it was handed back just now): its first statement fails as a dropped
    connection, and the state store makes the call again on a fresh one."""
    store = StateStore(pg_url)
    try:
        run_id = store.start_run("p")
        pids = {backend_of(store) for _ in range(3)}
        for pid in pids:
            pg_admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        store.log(run_id, "info", "after the drop")
        assert [e.message for e in store.events(run_id)] == ["after the drop"]
    finally:
        store.close()
