"""Several state-store calls in one transaction (``StateStore.together``): a load's units
committed at once, rolled back at once. Made again at once when the connection dropped:
tests/e2e/state/test_store_faults.py, against a PostgreSQL backend ended half-way."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from sluice.state.store import StateStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    opened = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        yield opened
    finally:
        opened.close()


def commits_of(store: StateStore) -> list[int]:
    commits: list[int] = []
    sa.event.listen(store.engine, "commit", lambda conn: commits.append(1))
    return commits


def messages(store: StateStore, run_id: str) -> list[str]:
    return [e.message for e in store.events(run_id)]


def test_the_calls_of_the_work_share_one_transaction(store: StateStore) -> None:
    run_id = store.start_run("p")
    commits = commits_of(store)

    def work() -> str:
        store.log(run_id, "info", "one")
        store.progress(run_id, "s", "extract", 10, 0.5)
        store.log(run_id, "info", "two")
        return "done"

    assert store.together(work) == "done"
    assert len(commits) == 1
    assert messages(store, run_id) == ["one", "two"]
    assert [(s.stage, s.rows) for s in store.stages(run_id)] == [("extract", 10)]
    commits.clear()
    store.log(run_id, "info", "three")  # outside it: a transaction of its own, as before
    assert len(commits) == 1


def test_a_failing_work_leaves_none_of_its_writes(store: StateStore) -> None:
    run_id = store.start_run("p")

    def work() -> None:
        store.log(run_id, "info", "written, then rolled back")
        raise ValueError("the work broke")

    with pytest.raises(ValueError, match="the work broke"):
        store.together(work)
    assert messages(store, run_id) == []
    store.log(run_id, "info", "after")  # the store goes on
    assert messages(store, run_id) == ["after"]


def test_another_store_in_the_same_thread_keeps_its_own_transactions(
    store: StateStore, tmp_path: Path
) -> None:
    other = StateStore(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        run_id, theirs = store.start_run("p"), other.start_run("q")

        def work() -> None:
            store.log(run_id, "info", "mine")
            other.log(theirs, "info", "theirs")  # committed at once: not in the work's
            assert messages(other, theirs) == ["theirs"]
            raise ValueError("the work broke")

        with pytest.raises(ValueError):
            store.together(work)
        assert messages(store, run_id) == []
        assert messages(other, theirs) == ["theirs"]
    finally:
        other.close()
