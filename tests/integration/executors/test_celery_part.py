"""A part of a Celery run as a worker carries it out (``_load_part``), in this process."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from sluice.config import load_project
from sluice.engine.context import start
from sluice.engine.lifecycle import prepare
from sluice.engine.plan import Planner
from sluice.executors import celery_tasks
from sluice.executors.parts import plan_parts
from sluice.sources import Unit
from sluice.sources.file_unit import FileUnit
from sluice.state.parts import RunParts, part_files
from sluice.state.store import StateStore
from sluice.status import PartStatus
from tests.support.celery_support import small_drop


def test_a_part_starts_hashing_its_files_before_it_lists_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its files' digests are under way from the part's start, on two threads: its
    planner, ~10 ms later, waited for them when they were hashed once listed."""
    small_drop(tmp_path, 3)
    monkeypatch.setenv("SLUICE_CELERY_PARTS", "1")
    project = load_project(tmp_path)
    (part,) = plan_parts(project, "p")
    files = part_files(part.target)
    assert files is not None and len(files) == 3
    store = StateStore(project.state_url())
    run_id = store.start_run("p", host="celery")
    prepare(start(project, "p", store=store, run_id=run_id, claim=False))  # the plan's
    parts = RunParts(store)
    parts.plan(run_id, [part])

    seen: list[tuple[str, list[str]]] = []
    ahead, listed, hashed = celery_tasks.hash_paths_ahead, Planner.units, FileUnit.fingerprint

    def hash_paths_ahead(paths: Iterable[Path], threads: int = 1) -> None:
        paths = list(paths)
        seen.append(("ahead", [p.name for p in paths]))
        assert threads == 2  # the part waits for them: on both cores
        ahead(paths, threads)

    def units(self: Planner, streams: list[str], file: str | None) -> list[tuple[str, Unit]]:
        seen.append(("listed", [Path(file or "").name]))
        return listed(self, streams, file)

    def fingerprint(self: FileUnit) -> str:
        seen.append(("fingerprint", [self.path.name]))
        return hashed(self)

    monkeypatch.setattr(celery_tasks, "hash_paths_ahead", hash_paths_ahead)
    monkeypatch.setattr(Planner, "units", units)
    monkeypatch.setattr(FileUnit, "fingerprint", fingerprint)
    task = SimpleNamespace(request=SimpleNamespace(retries=0))
    try:
        celery_tasks._load_part(task, project, store, parts, run_id, "p", part.key, False)
        (done,) = parts.of(run_id)
    finally:
        store.close()
    names = ["f0.csv", "f1.csv", "f2.csv"]
    assert seen[0] == ("ahead", names)  # first: before the part lists or plans a file
    assert [s for s in seen if s[0] == "fingerprint"] == [("fingerprint", [n]) for n in names]
    assert done.status == PartStatus.DONE and done.result is not None
    assert done.result["totals"]["loaded"] == 6
    with sa.create_engine(f"sqlite:///{tmp_path / 'warehouse.db'}").connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM t")).scalar() == 6
