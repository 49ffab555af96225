"""`for_project` is the one door to an executor: the kind asked for, else the project's."""

from __future__ import annotations

from pathlib import Path

import pytest

from sluice.config import parse_project
from sluice.errors import ConfigError, UsageError
from sluice.executors import LocalExecutor, for_project, kind_for
from sluice.state.store import StateStore

TEXT = """
executor: {executor}
pipelines:
  p:
    sources: {{s: {{type: file, path: "*.csv"}}}}
    table: {{name: t, columns: {{a: {{type: string}}}}}}
"""


def project(tmp_path: Path, executor: str = "local"):  # type: ignore[no-untyped-def]
    return parse_project(TEXT.format(executor=executor), str(tmp_path / "sluice.yaml"), tmp_path)


def test_the_project_executor_is_the_default_and_a_kind_asked_for_wins(tmp_path: Path) -> None:
    assert kind_for(project(tmp_path)) == "local"
    assert kind_for(project(tmp_path, "celery")) == "celery"
    assert kind_for(project(tmp_path, "celery"), "local") == "local"
    assert kind_for(project(tmp_path), "celery") == "celery"


def test_an_unknown_kind_is_a_usage_error_naming_the_kinds(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as err:
        kind_for(project(tmp_path), "threads")
    assert "threads" in str(err.value)
    assert err.value.hint is not None and "local" in err.value.hint and "celery" in err.value.hint


def test_the_door_hands_out_the_executor_of_the_kind(tmp_path: Path) -> None:
    proj = project(tmp_path)
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        local = for_project(proj, store=store)
        local.shutdown()  # its lease thread, before the store goes
        assert isinstance(local, LocalExecutor)
        # Celery's workers share the state store: a local file cannot be it, and the
        # door says so before anything is queued.
        with pytest.raises(ConfigError) as err:
            for_project(proj, "celery", store=store)
        assert "state store" in str(err.value)
        assert err.value.hint is not None and "SLUICE_STATE_URL" in err.value.hint
    finally:
        store.close()


def test_the_door_hands_out_celery_over_a_shared_state_store(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sluice.executors.celery import CeleryExecutor

    monkeypatch.setenv("SLUICE_BROKER_URL", "redis://127.0.0.1:6379/15")
    store = StateStore(pg_url)
    try:
        # Over PostgreSQL: a Celery executor, made without reaching the broker (a
        # worker and the queue are reached when a run is submitted).
        made = [
            for_project(project(tmp_path), "celery", store=store),
            for_project(project(tmp_path, "celery"), store=store),
        ]
        # (Each beats for its runs in a thread: stopped here, not left beating at a
        # schema the fixture drops.)
        for executor in made:
            executor.shutdown()
        assert all(isinstance(e, CeleryExecutor) for e in made)
    finally:
        store.close()
