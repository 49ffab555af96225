"""How a run on Celery workers stands, read from the state store alone (what `sluice
run` shows while it waits): tested on PostgreSQL without a cluster (the broker is
named, never reached); the workers' writes are made here as a worker makes them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sluice.config import parse_project
from sluice.engine.report import RunReport
from sluice.state.parts import Part, RunParts
from sluice.state.store import StateStore
from sluice.status import PartStatus, RunStatus

TEXT = """
executor: celery
pipelines:
  p:
    sources:
      a: {type: file, path: "a/*.csv"}
      b: {type: file, path: "b/*.csv"}
    table: {name: t, columns: {x: {type: string}}}
"""


@pytest.fixture
def celery(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Any, StateStore]]:
    from sluice.executors.celery import CeleryExecutor

    monkeypatch.setenv("SLUICE_BROKER_URL", "redis://127.0.0.1:6379/15")
    project = parse_project(TEXT, str(tmp_path / "sluice.yaml"), tmp_path)
    store = StateStore(pg_url)
    executor = CeleryExecutor(project, store)
    yield executor, store
    executor.shutdown()
    store.close()


def shown(executor: Any, run_id: str) -> dict[str, tuple[str, int, int, int]]:
    return {
        s.stream: (s.stage, s.rows, s.parts_ended, s.parts) for s in executor.progress(run_id, "p")
    }


def test_each_stream_stands_as_its_parts_do(celery: tuple[Any, StateStore]) -> None:
    executor, store = celery
    parts = RunParts(store)
    run_id = store.start_run("p", host="celery")
    assert executor.progress(run_id, "p") == []  # not planned yet
    plan = [Part("a/0", "a", "a/0.csv"), Part("a/1", "a", "a/1.csv"), Part("b", "b", None)]
    parts.plan(run_id, plan)
    assert shown(executor, run_id) == {"a": ("queued", 0, 0, 2), "b": ("queued", 0, 0, 1)}
    parts.start(run_id, "a/0", "w1")
    assert shown(executor, run_id)["a"] == ("load", 0, 0, 2)
    # a part adds its rows to the run's stages as it ends (the read rows: extract)
    rows = {"a": {"extract": (40, 0.1), "transform": (38, 0.1), "load": (35, 0.2)}}
    parts.finish(run_id, "a/0", PartStatus.DONE, {}, rows)
    assert shown(executor, run_id)["a"] == ("load", 40, 1, 2)  # the other one waits
    parts.start(run_id, "a/1", "w2")
    parts.finish(run_id, "a/1", PartStatus.DONE, {}, {"a": {"extract": (60, 0.1)}})
    parts.start(run_id, "b", "w1")
    parts.finish(run_id, "b", PartStatus.FAILED, {})
    assert shown(executor, run_id) == {"a": ("done", 100, 2, 2), "b": ("failed", 0, 1, 1)}


def test_a_part_of_the_whole_run_counts_for_every_stream(celery: tuple[Any, StateStore]) -> None:
    executor, store = celery
    parts = RunParts(store)
    run_id = store.start_run("p", host="celery")
    parts.plan(run_id, [Part("*", "*", None)])  # mode: replace, or --file
    parts.start(run_id, "*", "w1")
    assert shown(executor, run_id) == {"a": ("load", 0, 0, 1), "b": ("load", 0, 0, 1)}
    rows = {"a": {"extract": (7, 0.1)}, "b": {"extract": (9, 0.1)}}
    parts.finish(run_id, "*", PartStatus.DONE, {}, rows)
    assert shown(executor, run_id) == {"a": ("done", 7, 1, 1), "b": ("done", 9, 1, 1)}


def test_wait_tells_the_end_too(celery: tuple[Any, StateStore]) -> None:
    executor, store = celery
    parts = RunParts(store)
    run_id = store.start_run("p", host="celery")
    parts.plan(run_id, [Part("a", "a", None)])
    parts.start(run_id, "a", "w1")
    parts.finish(run_id, "a", PartStatus.DONE, {}, {"a": {"extract": (3, 0.1)}})
    store.finish_run(run_id, RunStatus.SUCCEEDED, RunReport(run_id=run_id, pipeline="p"))
    told: list[Any] = []
    doc = executor.wait(run_id, told.append, poll=0.01)  # ended before the first look
    assert doc["status"] == "succeeded"
    (end,) = told
    assert end.status == "succeeded"
    assert [(s.stream, s.stage, s.rows) for s in end.streams] == [("a", "done", 3)]
