"""Planning a run's files: each is hashed and checked against the ledger as its turn
comes, so the first rows load before the last file of a large drop is read."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from sluice.config import load_project
from sluice.engine import plan, run_pipeline
from sluice.engine.context import start
from sluice.engine.kit import RunKit
from tests.support.cli import sluice

YAML = """\
pipelines:
  p:
    sources:
      s: {type: file, path: 'data/*.csv'}
    table: {name: t, columns: {id: integer}}
    destination: {mode: MODE}
"""


def project(root: Path, contents: list[str], mode: str = "append") -> Path:
    (root / "data").mkdir()
    for i, text in enumerate(contents):
        (root / "data" / f"f{i}.csv").write_text(text)
    (root / "sluice.yaml").write_text(YAML.replace("MODE", mode))
    return root


def ledger_entries(root: Path) -> int:
    with sqlite3.connect(root / ".sluice" / "state.db") as conn:
        return int(conn.execute("SELECT count(*) FROM sluice_files").fetchone()[0])


def test_the_first_file_loads_before_the_later_ones_are_planned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each file a load of its own: small files of an append stream share one otherwise,
    # planned together (one group of GROUP_BYTES at most ahead of the rows).
    monkeypatch.setattr(plan, "GROUP_BYTES", 1)
    root = project(tmp_path, [f"id\n{i}\n" for i in range(3)])
    seen: list[tuple[int, int]] = []  # (total bytes told, ledger entries) as rows load

    class Display:
        total = 0

        def __call__(self, stream: str, stage: str, rows: int) -> None:
            if stage == "load" and rows:
                seen.append((self.total, ledger_entries(root)))

        def planned(self, stream: str, size: int) -> None:
            self.total = size

    report = run_pipeline(load_project(root), "p", progress=Display())
    assert report.totals.loaded == 3
    size = sum(f.stat().st_size for f in (root / "data").iterdir())
    # The display knows the stream's bytes from the listing; the ledger holds an entry
    # for each file only as it loads (planned up front, the first rows waited for all).
    assert seen[0] == (size, 1)
    assert seen[-1] == (size, 3)
    # The next run: the loaded files are skipped as their turn comes, and the bytes the
    # display counts on shrink to the one new file's, so its percent ends at 100.
    (root / "data" / "f9.csv").write_text("id\n9\n")
    display = Display()
    assert run_pipeline(load_project(root), "p", progress=display).totals.loaded == 1
    assert display.total == (root / "data" / "f9.csv").stat().st_size


def test_a_file_deleted_while_the_run_loads_others_fails_alone(tmp_path: Path) -> None:
    """Files are read as their turn comes: one moved away by the time it comes is the
    run's error for that file, with what happened and the command that loads the rest;
    the other files load."""
    root = project(tmp_path, [f"id\n{i}\n" for i in range(3)])
    moved = root / "data" / "f1.csv"

    def archive_f1(stream: str, stage: str, rows: int) -> None:
        if stage == "load" and rows and moved.exists():
            moved.rename(root / "f1.csv.done")  # another process archiving the drop

    report = run_pipeline(load_project(root), "p", progress=archive_f1).as_dict()
    assert report["status"] == "failed" and report["totals"]["loaded"] == 2
    assert [f["file"] for f in report["streams"]["s"]["files"]] == ["data/f0.csv", "data/f2.csv"]
    (error,) = report["errors"]
    assert error["type"] == "FileGone" and error["stream"] == "s"
    assert (
        error["message"] == "data/f1.csv: no such file (it was there when the run listed its files)"
    )
    assert "`sluice run p`" in error["hint"]
    moved.write_text("id\n1\n")  # back again: the hint's command loads it, once
    again = sluice("run", "p", "-p", str(root), "--json")
    assert again.returncode == 0, again.stderr
    with sqlite3.connect(root / "warehouse.db") as conn:
        assert [r[0] for r in conn.execute("SELECT id FROM t ORDER BY id")] == [0, 1, 2]


def test_under_replace_a_file_gone_before_it_is_read_is_not_set_aside(tmp_path: Path) -> None:
    """Under ``replace`` every file is hashed before the one load reads them: one moved
    away in between is the run's error, not a quarantined file that no replay could
    read; its ledger entry is failed, so the same bytes load when they come back."""
    root = project(tmp_path, [f"id\n{i}\n" for i in range(3)], mode="replace")
    moved = root / "data" / "f1.csv"

    def archive_f1(stream: str, stage: str, rows: int) -> None:
        if stage == "extract" and moved.exists():  # as the load opens its first file
            moved.rename(root / "f1.csv.done")

    report = run_pipeline(load_project(root), "p", progress=archive_f1).as_dict()
    (error,) = report["errors"]
    assert error["type"] == "FileGone" and "data/f1.csv: no such file" in error["message"]
    assert report["totals"]["loaded"] == 2 and report["totals"]["quarantined_files"] == 0
    with sqlite3.connect(root / ".sluice" / "state.db") as conn:
        status = conn.execute("SELECT status FROM sluice_files WHERE name = 'data/f1.csv'")
        assert status.fetchone()[0] == "failed"
        assert conn.execute("SELECT count(*) FROM sluice_quarantine").fetchone()[0] == 0
    assert "`sluice run p --full-refresh`" in error["hint"]
    (root / "f1.csv.done").rename(moved)
    again = sluice("run", "p", "-p", str(root), "--full-refresh")  # the hint's command
    assert again.returncode == 0, again.stderr
    with sqlite3.connect(root / "warehouse.db") as conn:
        assert [r[0] for r in conn.execute("SELECT id FROM t ORDER BY id")] == [0, 1, 2]


def test_a_file_repeating_an_earlier_one_of_the_same_run_is_skipped_as_loaded(
    tmp_path: Path,
) -> None:
    root = project(tmp_path, ["id\n1\n2\n", "id\n1\n2\n", "id\n3\n"])
    report = run_pipeline(load_project(root), "p").as_dict()
    stream = report["streams"]["s"]
    assert [f["file"] for f in stream["files"]] == ["data/f0.csv", "data/f2.csv"]
    (skip,) = stream["skipped_files"]
    assert skip["file"] == "data/f1.csv"
    assert skip["reason"].startswith(f"already loaded by run {report['run_id']} (load ")
    assert report["totals"]["loaded"] == 3


def test_under_replace_every_file_is_still_one_load(tmp_path: Path) -> None:
    root = project(tmp_path, [f"id\n{i}\n" for i in range(3)], mode="replace")
    first = run_pipeline(load_project(root), "p")
    assert first.totals.loaded == 3
    (tmp_path / "data" / "f0.csv").unlink()
    (tmp_path / "data" / "f3.csv").write_text("id\n7\n")
    second = run_pipeline(load_project(root), "p", full_refresh=True)
    assert second.totals.loaded == 3
    with sqlite3.connect(tmp_path / "warehouse.db") as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM t ORDER BY id")]
    assert ids == [1, 2, 7]  # the table swapped once, for the drop as it is now


def test_a_new_file_is_planned_in_one_state_store_transaction_and_no_cursor_read(
    tmp_path: Path,
) -> None:
    """Listing a file reads no cursor (a file has none) and planning a new one finds
    no ledger entry and makes it in one transaction: a Celery part of four files did
    eight, and four cursor reads, before its rows began to load."""
    root = project(tmp_path, [f"id\n{i}\n" for i in range(3)])
    ctx = start(load_project(root), "p")
    kit = RunKit(ctx)
    statements: list[str] = []
    commits: list[int] = []

    def note(conn: object, cursor: object, sql: str, *args: object) -> None:
        statements.append(sql)

    sa.event.listen(ctx.store.engine, "before_cursor_execute", note)
    sa.event.listen(ctx.store.engine, "commit", lambda conn: commits.append(1))
    try:
        units = kit.planner.units(["s"], None) + kit.planner.units(["s"], str(root / "data/f1.csv"))
        assert not [s for s in statements if "sluice_cursors" in s]
        names = ["data/f0.csv", "data/f1.csv", "data/f2.csv", "data/f1.csv"]  # a file named
        assert [u.name for _, u in units] == names
        commits.clear()
        (load,) = kit.planner.loads(units[:3], full_refresh=False)  # one group of three
        assert [u.unit.name for u in load.units] == ["data/f0.csv", "data/f1.csv", "data/f2.csv"]
        assert len(commits) == 3
    finally:
        sa.event.remove(ctx.store.engine, "before_cursor_execute", note)
        kit.close()
        ctx.store.close()
    with sqlite3.connect(root / ".sluice" / "state.db") as conn:
        found = conn.execute("SELECT name, status FROM sluice_files ORDER BY id").fetchall()
    assert found == [(f"data/f{i}.csv", "loading") for i in range(3)]
