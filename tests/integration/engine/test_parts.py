"""How a run is split into parts for Celery workers (no broker needed)."""

from __future__ import annotations

import itertools
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from sluice.config import load_project
from sluice.engine.context import start
from sluice.engine.lifecycle import prepare
from sluice.engine.run import run
from sluice.errors import ConfigError
from sluice.executors.parts import (
    API_PARTS,
    TARGET_CHARS,
    WHOLE_RUN,
    page_range,
    plan_parts,
)
from sluice.state.models import Run
from sluice.state.parts import FILES, Lease, Part, RunParts, describe, part_files
from sluice.state.store import StateStore
from sluice.status import PartStatus, RunStatus
from sluice.testing import simulator
from tests.conftest import warehouse_url
from tests.support.celery_support import small_drop
from tests.support.cli import sluice

EXAMPLES = Path(__file__).parents[3] / "examples"


@pytest.fixture(params=["postgresql", "mysql"])
def shared_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    """A state store every worker could reach: a fresh PostgreSQL or MariaDB one."""
    store = StateStore(warehouse_url(request, request.param, tmp_path))
    yield store
    store.close()


def test_a_file_source_is_a_part_per_file_and_replace_is_one_part(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLES / "leads", tmp_path / "leads")
    project = load_project(tmp_path / "leads")
    parts = plan_parts(project, "leads")
    assert [(p.key, Path(p.target or "").name) for p in parts] == [
        ("source1/00000", "leads_2026-11-01.csv"),
        ("source2/00000", "leads_2026-11-01.csv"),
        ("source2/00001", "leads_2026-11-15.csv"),
        ("source3/00000", "providers.csv"),
    ]
    yaml = (tmp_path / "leads" / "sluice.yaml").read_text()
    (tmp_path / "leads" / "sluice.yaml").write_text(yaml.replace("mode: snapshot", "mode: replace"))
    (whole,) = plan_parts(load_project(tmp_path / "leads"), "leads")
    assert (whole.key, whole.stream, whole.target) == (WHOLE_RUN, WHOLE_RUN, None)
    (one,) = plan_parts(project, "leads", file="x.csv", source="source2")
    assert (one.stream, one.target) == ("source2", "x.csv")


def test_a_drop_of_small_files_is_packed_into_about_32_parts_each_file_once(
    tmp_path: Path,
) -> None:
    """A part costs a worker its own round trips: small files go several to a part,
    in order, none split; a file whose size is not known (a zip) is a part of its own."""
    (tmp_path / "data").mkdir()
    names = []
    for i in range(100):
        name = f"f{i:03d}.zip" if i == 50 else f"f{i:03d}.csv"
        (tmp_path / "data" / name).write_text("id\n" + "1\n" * (10 + i % 7))
        names.append(name)
    (tmp_path / "sluice.yaml").write_text(
        "pipelines:\n  p:\n    sources:\n      s: {type: file, path: 'data/*'}\n"
        "    table: {name: t, columns: {id: integer}}\n"
    )
    parts = plan_parts(load_project(tmp_path), "p")
    files = [part_files(p.target) or [p.target or ""] for p in parts]
    assert [Path(f).name for group in files for f in group] == names  # in order, once each
    assert 30 <= len(parts) <= 36 and max(len(g) for g in files) == 4
    (zipped,) = [p for p, g in zip(parts, files, strict=True) if g[0].endswith(".zip")]
    assert zipped.size is None and part_files(zipped.target) is None  # alone
    first, second = parts[0], parts[1]
    assert first.key == "s/00000" and first.size == sum(Path(f).stat().st_size for f in files[0])
    assert second.key == f"s/{len(files[0]):05d}"  # a part's key is its first file's
    more = len(files[1]) - 1
    assert describe(second.target) == f"{files[1][0]} and {more} more files"


def test_a_packed_part_never_holds_more_than_one_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files are packed until a part holds its share of the drop, but a file that would
    take it past PART_BYTES (what an append loads in one transaction) starts the next
    part: a part of 4 files where 3 fill a load made the 4th a load of its own."""
    import sluice.executors.parts as packing
    from sluice.engine.plan import GROUP_BYTES

    assert packing.PART_BYTES == GROUP_BYTES
    (tmp_path / "data").mkdir()
    sizes = [30] * 7 + [250] + [30] * 5  # a file larger than a load is a part alone
    for i, size in enumerate(sizes):
        (tmp_path / "data" / f"f{i:02d}.csv").write_text("id\n" + "7" * (size - 4) + "\n")
    (tmp_path / "sluice.yaml").write_text(
        "pipelines:\n  p:\n    sources:\n      s: {type: file, path: 'data/*.csv'}\n"
        "    table: {name: t, columns: {id: integer}}\n"
    )
    monkeypatch.setattr(packing, "PART_BYTES", 100)
    monkeypatch.setenv("SLUICE_CELERY_PARTS", "1")  # by bytes alone: each part up to 100
    parts = plan_parts(load_project(tmp_path), "p")
    files = [[Path(f).name for f in part_files(p.target) or [p.target or ""]] for p in parts]
    assert [len(group) for group in files] == [3, 3, 1, 1, 3, 2]
    assert [p.size for p in parts] == [90, 90, 30, 250, 90, 60]
    assert [name for group in files for name in group] == [f"f{i:02d}.csv" for i in range(13)]


def test_a_file_gone_from_a_packed_part_fails_alone_and_its_hint_loads_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file deleted between the run's plan and its part: the part's other files still
    load (as they would in parts of their own), the gone one is the part's error."""
    small_drop(tmp_path, 3)
    project = load_project(tmp_path)
    monkeypatch.setenv("SLUICE_CELERY_PARTS", "1")
    (part,) = plan_parts(project, "p")
    files = part_files(part.target)
    assert files is not None and len(files) == 3  # one part packs the three
    Path(files[1]).unlink()
    # The part as a worker carries it out: its run recorded by the plan, not owned here.
    store = StateStore(project.state_url())
    run_id = store.start_run("p", host="celery")
    prepare(start(project, "p", store=store, run_id=run_id, claim=False))  # its tables
    ctx = start(project, "p", store=store, run_id=run_id, claim=False, part=part.key)
    done = run(ctx, source=part.stream, files=files)
    store.finish_run(run_id, done.decide_status(), done)  # its last part ended the run
    # A part of one file (a large one) whose file is gone says the same.
    alone = store.start_run("p", host="celery")
    ctx = start(project, "p", store=store, run_id=alone, claim=False, part=part.key)
    (error,) = run(ctx, source=part.stream, file=files[1]).errors
    assert error["type"] == "FileGone" and "it was there when" in error["message"]
    store.finish_run(alone, RunStatus.FAILED, ctx.report)
    store.close()
    report = done.as_dict()
    assert [Path(f["file"]).name for f in report["streams"]["s"]["files"]] == ["f0.csv", "f2.csv"]
    assert report["totals"]["loaded"] == 4
    (error,) = report["errors"]
    assert error["type"] == "FileGone" and error["stream"] == "s"
    gone = f"{files[1]}: no such file (it was there when the run listed its files)"
    assert error["message"] == gone
    assert "`sluice run p`" in error["hint"]
    again = sluice("run", "p", "-p", str(tmp_path))  # the hint, run where the user is
    assert again.returncode == 0, again.stderr
    with sa.create_engine(f"sqlite:///{tmp_path / 'warehouse.db'}").connect() as conn:
        ids = conn.execute(sa.text("SELECT id FROM t ORDER BY id")).scalars().all()
    assert ids == [1, 2, 21, 22]  # nothing loaded twice


def test_a_packed_parts_paths_fit_the_state_stores_text_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Thousands of tiny files would pack into one part whose target (their paths)
    outgrows MySQL's TEXT (65,535 bytes): a part closes before its paths do."""
    (tmp_path / "data").mkdir()
    names = [f"{i:04d}-" + "ü" * 60 + ".csv" for i in range(600)]  # escaped: 6 bytes each
    for name in names:
        (tmp_path / "data" / name).write_text("id\n1\n")
    (tmp_path / "sluice.yaml").write_text(
        "pipelines:\n  p:\n    sources:\n      s: {type: file, path: 'data/*.csv'}\n"
        "    table: {name: t, columns: {id: integer}}\n"
    )
    monkeypatch.setenv("SLUICE_CELERY_PARTS", "1")  # by bytes: one part for them all
    parts = plan_parts(load_project(tmp_path), "p")
    assert len(parts) > 1
    assert all(len((p.target or "").encode()) <= TARGET_CHARS for p in parts)
    found = [Path(f).name for p in parts for f in (part_files(p.target) or [p.target or ""])]
    assert found == sorted(names)  # each file once, in order


def test_a_target_of_the_longest_packed_part_is_stored_whole(shared_store: StateStore) -> None:
    run_id = shared_store.start_run("p", host="celery")
    paths = [f"/data/{i:05d}-" + "x" * 90 + ".csv" for i in range(400)]
    target = FILES + json.dumps(paths)[: TARGET_CHARS - len(FILES) - 2] + '"]'
    assert len(target) == TARGET_CHARS
    RunParts(shared_store).plan(run_id, [Part("s/00000", "s", target)])
    (stored,) = RunParts(shared_store).of(run_id)
    assert stored.target == target


def test_how_many_parts_a_drop_is_packed_into_is_set_in_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "data").mkdir()
    for i in range(60):
        (tmp_path / "data" / f"f{i:02d}.csv").write_text("id\n1\n2\n")
    (tmp_path / "sluice.yaml").write_text(
        "pipelines:\n  p:\n    sources:\n      s: {type: file, path: 'data/*.csv'}\n"
        "    table: {name: t, columns: {id: integer}}\n"
    )
    project = load_project(tmp_path)
    assert len(plan_parts(project, "p")) == 30  # 60 files, 32 wanted: two to a part
    monkeypatch.setenv("SLUICE_CELERY_PARTS", "10")
    assert len(plan_parts(project, "p")) == 10
    monkeypatch.setenv("SLUICE_CELERY_PARTS", "500")  # more than files: one per file
    assert len(plan_parts(project, "p")) == 60
    monkeypatch.setenv("SLUICE_CELERY_PARTS", "many")
    with pytest.raises(ConfigError, match="SLUICE_CELERY_PARTS='many'") as err:
        plan_parts(project, "p")
    assert "a whole number of 1 or more" in (err.value.hint or "")


def test_counted_api_pages_split_into_ranges_that_cover_every_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(EXAMPLES / "animals" / "sluice.yaml", tmp_path / "sluice.yaml")
    calm = {"error_rate": 0.0, "pause_rate": 0.0, "n_animals": 2345, "seed": 1}
    with simulator("animals", **calm) as sim:
        monkeypatch.setenv("ANIMALS_API", sim.url)
        parts = plan_parts(load_project(tmp_path), "animals")
        pages = httpx.get(sim.url + "/animals/v1/animals").json()["total_pages"]
    ranges = [r for p in parts if (r := page_range(p.target)) is not None]
    assert 1 < len(parts) <= API_PARTS and len(ranges) == len(parts)
    # Every page in exactly one part: from the first page to the last, no gap, no overlap.
    assert ranges[0][0] == 0 and ranges[-1][1] == pages
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
    assert page_range(None) is None and page_range("/data/x.csv") is None


def test_an_api_that_follows_a_cursor_is_one_part(tmp_path: Path) -> None:
    (tmp_path / "sluice.yaml").write_text(
        """
pipelines:
  p:
    sources:
      api:
        type: http
        base_url: http://127.0.0.1:9
        paginate: {style: cursor, cursor_path: next}
    table: {name: t, columns: {id: integer}}
"""
    )
    (part,) = plan_parts(load_project(tmp_path), "p")  # no call made: nothing to count
    assert (part.key, part.stream, part.target) == ("api", "api", None)


def test_parts_are_planned_once_and_tallied(shared_store: StateStore) -> None:
    store = shared_store
    run_id = store.start_run("p", host="celery")
    tasks = RunParts(store)
    parts = [Part("s/00000", "s", "a.csv"), Part("s/00001", "s", "b.csv")]
    tasks.plan(run_id, parts)
    tasks.plan(run_id, parts)  # a plan task delivered twice adds nothing
    assert tasks.tally(run_id) == (0, 2)
    with store.session() as s:  # a run whose heartbeat is old
        s.execute(sa.update(Run).values(heartbeat_at=datetime(2020, 1, 1, tzinfo=UTC)))
    started = tasks.start(run_id, "s/00000", "host:1")
    assert started is not None and started.run_status == "running"
    assert (started.part.status, started.part.attempts) == ("running", 1)
    after = store.run(run_id)  # a part starting is its run carried out: a heartbeat
    assert after is not None and after.heartbeat_at is not None
    assert after.heartbeat_at.year > 2020
    tasks.finish(run_id, "s/00000", PartStatus.DONE, {"streams": {}})
    assert tasks.tally(run_id) == (1, 2) and tasks.open_parts(run_id) == 1
    again = tasks.start(run_id, "s/00000", "host:2")  # ended: left as it is
    assert again is not None
    assert (again.part.status, again.part.attempts) == (PartStatus.DONE, 1)
    with pytest.raises(LookupError, match="no part 's/00009'"):
        tasks.finish(run_id, "s/00009", PartStatus.DONE, {})
    store.request_cancel(run_id)  # a run being cancelled: its next part hears it
    cancelling = tasks.start(run_id, "s/00001", "host:1")
    assert cancelling is not None and cancelling.run_status == "cancelling"
    # A lease is held by one connection at a time, and freed when it closes.
    first, second = Lease(store, f"{run_id}/s/00001"), Lease(store, f"{run_id}/s/00001")
    assert first.acquire() and not second.acquire()
    first.release()
    assert second.acquire()
    second.release()


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql", "mysql"])
def test_a_done_part_adds_its_rows_to_the_run_stages_as_it_ends(
    request: pytest.FixtureRequest, dialect: str, tmp_path: Path
) -> None:
    store = StateStore(warehouse_url(request, dialect, tmp_path))
    try:
        run_id = store.start_run("p", host="celery")
        tasks = RunParts(store)
        tasks.plan(run_id, [Part("s/00000", "s", "a.csv"), Part("s/00001", "s", "b.csv")])
        store.progress(run_id, "s", "extract", 0, 0.0)  # the plan's rows (not "load": made)
        for key, n in (("s/00000", 40), ("s/00001", 2)):
            stages = {"s": {"extract": (n, 0.5), "load": (n - 1, 0.25)}, "t": {"load": (0, 0.0)}}
            tasks.finish(run_id, key, PartStatus.DONE, {"streams": {}}, stages)
        got = {(s.stream, s.stage): (s.rows, s.seconds) for s in store.stages(run_id)}
        assert got == {("s", "extract"): (42, 1.0), ("s", "load"): (40, 0.5)}
        if dialect == "sqlite":
            return  # no leases there: always granted
        # A lease freed by name goes back to the pool holding nothing: taken again and
        # freed again (on that pooled connection), another connection gets it.
        first = Lease(store, f"{run_id}/s/00000")
        assert first.acquire()
        first.release()
        again, other = Lease(store, f"{run_id}/s/00000"), Lease(store, f"{run_id}/s/00000")
        assert again.acquire() and not other.acquire()
        again.release()
        assert other.acquire()
        other.release()
    finally:
        store.close()
