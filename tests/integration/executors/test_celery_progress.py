"""How a run on Celery workers stands, read from the state store alone (what `sluice
run` shows while it waits): tested on PostgreSQL without a cluster (the broker is
named, never reached); the workers' writes are made here as a worker makes them."""

from __future__ import annotations

import threading
import time
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


def read(executor: Any, run_id: str) -> dict[str, tuple[int, int, int | None]]:
    """Per stream: rows, bytes read and size, as `sluice run` shows them."""
    return {s.stream: (s.rows, s.read, s.size) for s in executor.progress(run_id, "p")}


def test_running_parts_add_the_rows_and_bytes_they_told(celery: tuple[Any, StateStore]) -> None:
    executor, store = celery
    parts = RunParts(store)
    run_id = store.start_run("p", host="celery")
    plan = [
        Part("a/0", "a", "a/0.csv", 1000),
        Part("a/1", "a", "a/1.csv", 3000),
        Part("a/2", "a", "a/2.csv", 6000),
        Part("b", "b", None),  # its size is not known until it opens its units
    ]
    parts.plan(run_id, plan)
    assert read(executor, run_id) == {"a": (0, 0, 10_000), "b": (0, 0, None)}
    parts.start(run_id, "a/0", "w1")
    parts.start(run_id, "a/1", "w2")
    parts.tick(run_id, "a/0", (10, 400, None))
    parts.tick(run_id, "a/1", (25, 900, None))
    assert read(executor, run_id)["a"] == (35, 1300, 10_000)
    assert shown(executor, run_id)["a"] == ("load", 35, 0, 3)
    # a/0 ends: its rows come from the run's stages now, its bytes are its size
    parts.finish(run_id, "a/0", PartStatus.DONE, {}, {"a": {"extract": (12, 0.1)}})
    parts.tick(run_id, "a/1", (60, 3500, None))  # an estimate past its size: at most its size
    assert read(executor, run_id)["a"] == (72, 1000 + 3000, 10_000)
    # a part that found its size tells it; a write for a part that ended changes nothing
    parts.start(run_id, "b", "w1")
    parts.tick(run_id, "b", (5, 50, 500))
    parts.tick(run_id, "a/0", (999, 999_999, 1))
    assert read(executor, run_id) == {"a": (72, 4000, 10_000), "b": (5, 50, 500)}
    # a part tried again starts from nothing: what the attempt before told is gone
    parts.finish(run_id, "a/1", PartStatus.QUEUED, {})
    assert read(executor, run_id)["a"] == (12, 1000, 10_000)
    parts.start(run_id, "a/1", "w2")
    assert read(executor, run_id)["a"] == (12, 1000, 10_000)
    for key, rows in (("a/1", 30), ("a/2", 58)):
        parts.start(run_id, key, "w1")
        parts.finish(run_id, key, PartStatus.DONE, {}, {"a": {"extract": (rows, 0.1)}})
    parts.finish(run_id, "b", PartStatus.FAILED, {})
    assert read(executor, run_id) == {"a": (100, 10_000, 10_000), "b": (0, 500, 500)}


def test_a_part_of_the_whole_run_tells_its_rows_only_for_one_stream(
    celery: tuple[Any, StateStore],
) -> None:
    executor, store = celery
    parts = RunParts(store)
    run_id = store.start_run("p", host="celery")
    parts.plan(run_id, [Part("*", "*", None)])
    parts.start(run_id, "*", "w1")
    parts.tick(run_id, "*", (70, 700, 2000))
    # two streams share the part: its bytes are theirs, its rows cannot be told apart
    assert read(executor, run_id) == {"a": (0, 700, 2000), "b": (0, 700, 2000)}


def test_a_part_tells_how_far_it_got_on_its_tick(celery: tuple[Any, StateStore]) -> None:
    from sluice.executors.parts import PartProgress

    executor, store = celery
    parts = RunParts(store)
    run_id = store.start_run("p", host="celery")
    parts.plan(run_id, [Part("a/0", "a", "a/0.csv", 900), Part("a/1", "a", "a/1.csv", 100)])
    parts.start(run_id, "a/0", "w1")
    progress = PartProgress()
    progress("a", "extract", 0)
    assert progress.take() is None  # nothing to tell before a batch
    assert not parts.tick(run_id, "a/0", progress.take())  # the tick still asks: no cancel
    assert read(executor, run_id)["a"] == (0, 0, 1000)
    progress.planned("a", 800)  # the part found its file's bytes
    progress("a", "load", 10)
    progress.bytes_read("a", "a/0.csv", 100, 800)
    assert not parts.tick(run_id, "a/0", progress.take())
    assert read(executor, run_id)["a"] == (10, 100, 900)
    assert progress.take() is None  # it did not move: nothing to write
    progress("a", "load", 30)
    progress.bytes_read("a", "a/0.csv", 300, 800)
    told = progress.take()
    progress.unwritten()  # that write failed (the store blinked): the next tick tells it
    assert progress.take() == told == (30, 300, 800)
    assert not parts.tick(run_id, "a/0", told)
    assert read(executor, run_id)["a"] == (30, 300, 900)
    store.request_cancel(run_id)
    assert parts.tick(run_id, "a/0", None)  # a cancel asked: the tick hears it


def test_wait_sees_the_end_soon_and_tells_progress_once_a_poll(
    celery: tuple[Any, StateStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The status is looked at often once every part has started, the progress (a query
    over the parts) once per ``poll``: `sluice run` returns as the run ends, not up to a
    progress interval later."""
    executor, store = celery
    parts = RunParts(store)
    run_id = store.start_run("p", host="celery")
    parts.plan(run_id, [Part("a", "a", None)])
    parts.start(run_id, "a", "w1")
    looks: list[str] = []
    read = store.run

    def run(key: str) -> Any:  # the real read, counted
        looks.append(key)
        return read(key)

    monkeypatch.setattr(store, "run", run)
    told: list[Any] = []
    ended = threading.Timer(
        1.0, store.finish_run, (run_id, RunStatus.SUCCEEDED, RunReport(run_id=run_id, pipeline="p"))
    )
    ended.start()
    try:
        doc = executor.wait(run_id, told.append, poll=30)
    finally:
        ended.join()
    assert doc["status"] == "succeeded"
    # Looked again and again within the one progress interval (once at 0 s and once at
    # 30 s if it slept the interval), and told the progress at the first look and the end.
    assert len(looks) > 2
    assert [p.status for p in told] == ["running", "succeeded"]


def test_while_a_part_waits_to_start_the_status_is_looked_at_once_a_poll(
    celery: tuple[Any, StateStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run cannot end before its last part does: while one waits to start, the
    waiter looks once per ``poll`` (20 looks a second for a whole run cost it 0.9 CPU-s
    of a 32 s run on the bench), and often again once every part has started."""
    executor, store = celery
    parts = RunParts(store)
    run_id = store.start_run("p", host="celery")
    parts.plan(run_id, [Part("a/0", "a", "a/0.csv"), Part("a/1", "a", "a/1.csv")])
    parts.start(run_id, "a/0", "w1")
    looks: list[float] = []
    read = store.run

    def run(key: str) -> Any:  # the real read, timed
        looks.append(time.monotonic())
        return read(key)

    def last_part() -> None:
        parts.finish(run_id, "a/0", PartStatus.DONE, {})
        parts.start(run_id, "a/1", "w1")
        time.sleep(1.0)
        parts.finish(run_id, "a/1", PartStatus.DONE, {})
        store.finish_run(run_id, RunStatus.SUCCEEDED, RunReport(run_id=run_id, pipeline="p"))

    monkeypatch.setattr(store, "run", run)
    second = threading.Timer(1.0, last_part)
    start = time.monotonic()
    second.start()
    try:
        doc = executor.wait(run_id, poll=0.25)
    finally:
        second.join()
    assert doc["status"] == "succeeded"
    queued = [t for t in looks if t - start < 0.95]  # a/1 waited to start
    assert 1 <= len(queued) <= 6  # at 0, 0.25, 0.5, 0.75 s: not every 0.05 s (19)
    # then every 0.05 s once the last part started (up to 0.25 s to notice it, then ~15
    # looks in the 1 s it runs; once a poll it would be 4 or 5)
    assert len(looks) - len(queued) >= 8
