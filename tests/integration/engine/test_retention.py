"""The state store grows with the runs, not their square: a report lists a few of the
files it skipped and counts the rest; `sluice prune` (and `sluice serve` with
`retention:`) removes old runs, their logs, closed quarantine entries and their
dead-letter copies, never a live run, an open entry or a ledger."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from sluice.config import load_project
from sluice.engine import run_pipeline
from sluice.engine.replay import replay
from sluice.service import ServiceSettings, create_app
from sluice.state.models import Event, QuarantineEntry, Run, Stage, utcnow
from sluice.state.store import StateStore
from sluice.testing import processes

PROJECT = """
warehouse: sqlite:///w.db
{retention}
pipelines:
  p:
    sources:
      s: {{type: file, path: data/*.csv}}
    table:
      name: items
      columns:
        id: {{type: integer, required: true}}
        name: string
    destination: {{mode: append}}
"""


def drop(root: Path, i: int, bad: bool = False) -> None:
    rows = f"{i},file {i}\n" + (f"x{i},bad\n" if bad else "")
    (root / "data" / f"drop_{i:03d}.csv").write_text("id,name\n" + rows)


def test_a_report_lists_a_few_skipped_files_and_counts_them_all(
    make_project: Callable[..., Path],
) -> None:
    root = make_project(PROJECT.format(retention=""))
    (root / "data").mkdir()

    def run_after_dropping(files: range) -> dict[str, Any]:
        for i in files:
            drop(root, i)
        return run_pipeline(load_project(root), "p").as_dict()

    # Batches of files, each followed by a run that skips all earlier ones: 61 skipped
    # in 4 runs (one run per file made it 40 runs, 10 s, for the same check).
    run_after_dropping(range(30))
    at_30 = len(json.dumps(run_after_dropping(range(30, 31))))
    run_after_dropping(range(31, 61))
    report = run_after_dropping(range(61, 62))
    stream = report["streams"]["s"]
    assert stream["skipped"] == 61
    assert len(stream["skipped_files"]) == 10
    assert stream["skipped_files"][0]["reason"].startswith("already loaded by run")
    # As long with 61 skipped files as with 30 (listing them all made it 31 lines longer).
    assert len(json.dumps(report)) - at_30 < 200
    store = StateStore(load_project(root).state_url())
    try:
        (last,) = store.runs("p", 1)
        assert len(json.dumps(last.report)) < 4000
    finally:
        store.close()
    cli = processes.run(
        [sys.executable, "-m", "sluice", "show", last.id, "-p", str(root)],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert "1 (61 skipped)" in cli.stdout and "and 51 more skipped files (s)" in cli.stdout


def age(store: StateStore, days: int, *, runs: list[str]) -> None:
    """Make ``runs`` (and their quarantine entries) ``days`` old."""
    then = utcnow() - timedelta(days=days)
    with store.engine.begin() as conn:
        conn.execute(
            sa.update(Run).where(Run.id.in_(runs)).values(started_at=then, finished_at=then)
        )
        conn.execute(
            sa.update(QuarantineEntry)
            .where(QuarantineEntry.run_id.in_(runs))
            .values(created_at=then)
        )


def counts(store: StateStore) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {
            t.__tablename__: int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar())
            for t in (Run, Event, Stage, QuarantineEntry)
        }


def old_and_new(make_project: Callable[..., Path], retention: str = "") -> tuple[Path, dict]:
    """Runs 40 days old: one whose entries were replayed (closed, with a dead-letter
    copy), one whose entry is still open, one still `running`; and a new run."""
    root = make_project(PROJECT.format(retention=retention))
    (root / "data").mkdir()
    drop(root, 1, bad=True)  # a row entry, replayed below
    (root / "data" / "drifted.csv").write_text("id,name,colour\n7,g,red\n")  # a file set aside
    first = run_pipeline(load_project(root), "p")
    text = (root / "sluice.yaml").read_text()
    # The fix: a step that drops the stray "x" (the column stays an integer)
    fix = "    transforms:\n      - derive: {column: id, sql: \"replace(id, 'x', '')\"}\n"
    fixed = text.replace("    table:\n", fix + "    table:\n")
    (root / "sluice.yaml").write_text(
        fixed.replace("path: data/*.csv}", "path: data/*.csv, drift: evolve}")
    )
    (replayed,) = replay(load_project(root))
    assert replayed.status == "succeeded", replayed.errors
    (root / "sluice.yaml").write_text(text)  # strict again: the next bad row stays open
    drop(root, 2, bad=True)
    second = run_pipeline(load_project(root), "p")
    store = StateStore(load_project(root).state_url())
    going = store.start_run("p")  # a run going (its process: this one), made old below
    age(store, 40, runs=[first.run_id, replayed.run_id, second.run_id, going])
    drop(root, 3)
    new = run_pipeline(load_project(root), "p")
    store.close()
    copies = list((root / ".sluice" / "deadletter").rglob("*.csv"))
    assert len(copies) == 1
    ids = {
        "first": first.run_id,
        "replay": replayed.run_id,
        "second": second.run_id,
        "going": going,
        "new": new.run_id,
    }
    return root, {"ids": ids, "copy": copies[0]}


def test_prune_removes_what_is_old_and_over_and_keeps_the_rest(
    make_project: Callable[..., Path],
) -> None:
    root, made = old_and_new(make_project)
    ids = made["ids"]
    store = StateStore(load_project(root).state_url())
    before = counts(store)
    with store.engine.connect() as conn:
        ledger = conn.execute(sa.text("SELECT id, status FROM sluice_files ORDER BY id")).all()

    dry = processes.run(
        [sys.executable, "-m", "sluice", "prune", "--older-than", "30d", "--dry-run", "--json"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout) == {
        "runs": 3,
        "events": json.loads(dry.stdout)["events"],
        "entries": 2,  # the replayed row and the replayed file
        "copies": 1,
        "dry_run": True,
    }
    assert counts(store) == before

    cli = processes.run(
        [sys.executable, "-m", "sluice", "prune", "--older-than", "30d"],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert cli.returncode == 0, cli.stderr
    assert "removed 3 runs ended over 30d ago" in cli.stdout
    assert "2 closed quarantine entries and 1 dead-letter copies" in cli.stdout
    assert {r.id for r in store.runs("p")} == {ids["going"], ids["new"]}
    assert not made["copy"].exists() and not made["copy"].parent.exists()
    (still,) = store.quarantined(pipeline="p")  # the open one, 40 days old, stays
    assert still.run_id == ids["second"] and still.status == "open"
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT id, status FROM sluice_files ORDER BY id")).all() == (
            ledger
        )
        left = conn.execute(sa.select(Event.run_id).distinct()).scalars().all()
    assert set(left) <= {ids["going"], ids["new"]}
    store.close()
    # The ledger is whole: nothing loads twice.
    again = run_pipeline(load_project(root), "p")
    assert again.totals.read == 0 and again.as_dict()["streams"]["s"]["skipped"] == 4

    bad = processes.run(
        [sys.executable, "-m", "sluice", "prune", "--older-than", "30 days"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "not a span of time: '30 days'" in bad.stderr


def test_serve_prunes_with_retention(make_project: Callable[..., Path]) -> None:
    root, made = old_and_new(make_project, retention="retention: 30d")
    settings = ServiceSettings(dev_open=True)
    with TestClient(create_app(load_project(root), settings)):
        store = StateStore(load_project(root).state_url())
        try:
            deadline = time.monotonic() + 30
            while {r.id for r in store.runs("p")} != {made["ids"]["going"], made["ids"]["new"]}:
                assert time.monotonic() < deadline, [r.id for r in store.runs("p")]
                time.sleep(0.1)
        finally:
            store.close()
    assert not made["copy"].exists()
