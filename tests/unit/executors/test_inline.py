"""The inline executor: `sluice run`'s door, the run carried out in the caller's thread."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sluice.config import load_project
from sluice.executors import for_project
from sluice.executors.inline import InlineExecutor
from sluice.state.store import StateStore
from sluice.status import RunStatus

PROJECT = """
warehouse: sqlite:///w.db
pipelines:
  p:
    sources: {s: {type: file, path: "data/*.csv"}}
    table: {name: t, columns: {id: {type: integer, required: true}, name: {type: string}}}
"""


@contextmanager
def inline(folder: Path, csv: str) -> Iterator[tuple[InlineExecutor, StateStore]]:
    """The inline executor over a project in ``folder`` whose one file holds ``csv``."""
    (folder / "sluice.yaml").write_text(PROJECT)
    (folder / "data").mkdir()
    (folder / "data" / "a.csv").write_text(csv)
    project = load_project(folder)
    store = StateStore(project.state_url())
    try:
        executor = for_project(project, "inline", store=store)
        assert isinstance(executor, InlineExecutor)
        yield executor, store
    finally:
        store.close()


def test_a_run_is_recorded_by_trigger_and_carried_out_by_wait(tmp_path: Path) -> None:
    with inline(tmp_path, "id,name\n1,a\n2,b\nx,c\n") as (executor, store):
        seen: list[tuple[str, str, int]] = []
        run_id = executor.trigger("p", progress=lambda *at: seen.append(at)).run_id
        run = store.run(run_id)
        assert run is not None and run.status == "running"  # recorded, nothing read yet
        assert not seen
        report = executor.wait(run_id)
        assert report["status"] == "succeeded_with_quarantine"
        assert report["totals"]["loaded"] == 2 and report["totals"]["quarantined"] == 1
        assert ("s", "done", 3) in seen


def test_a_cancel_stops_the_run_before_it_loads(tmp_path: Path) -> None:
    with inline(tmp_path, "id,name\n1,a\n") as (executor, _):
        run_id = executor.trigger("p").run_id
        executor.cancel(run_id, "SIGINT")
        report = executor.wait(run_id)
        assert report["status"] == "cancelled"
        assert "(SIGINT)" in report["errors"][0]["message"]
        assert report["totals"]["loaded"] == 0


def test_a_cancel_after_the_run_ended_says_how_it_ended(tmp_path: Path) -> None:
    # A signal can come between the end of wait() and the CLI's exit: the run is no
    # longer the executor's to stop, and the signal handler must not raise.
    with inline(tmp_path, "id,name\n1,a\n") as (executor, store):
        run_id = executor.trigger("p").run_id
        assert executor.wait(run_id)["status"] == RunStatus.SUCCEEDED
        assert executor.cancel(run_id, "SIGINT") == RunStatus.SUCCEEDED
        run = store.run(run_id)
        assert run is not None and run.status == RunStatus.SUCCEEDED
        assert executor.cancel("20260101T000000-gone00", "SIGINT") is None  # no such run
