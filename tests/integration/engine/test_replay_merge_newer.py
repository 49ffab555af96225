"""Under merge, a replay never puts an old row over a newer one: a quarantined row whose
keys a newer load wrote again is closed as superseded by that load, not replayed."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from sluice.config import load_project
from sluice.engine import run_pipeline
from sluice.engine.replay import replay
from sluice.state.store import StateStore
from tests.e2e.engine.test_replay_modes import PROJECT, fix, table, warehouse  # noqa: F401

FIXED = "formats: ['%Y-%m-%d', '%Y-%d-%m']"


def entries(root: Path, status: str | None = "open") -> list[tuple[str, str | None]]:
    store = StateStore(load_project(root).state_url())
    try:
        return [(e.status, e.superseded_by) for e in store.quarantined(pipeline="p", status=status)]
    finally:
        store.close()


def merge_project(make_project: Callable[..., Path], url: str, files: dict[str, str]) -> Path:
    text = PROJECT.format(warehouse=url, state="sqlite:///.sluice/state.db", mode="merge")
    return make_project(text, files)


def test_a_newer_load_of_the_same_key_supersedes_the_old_row(
    warehouse: str,  # noqa: F811
    make_project: Callable[..., Path],
) -> None:
    old = "id,name,day\n1,ada,2024-01-15\n2,grace,2024-13-02\n3,linus,2024-13-03\n"
    root = merge_project(make_project, warehouse, {"data/a.csv": old})
    os.chdir(root)  # the SQLite warehouse URL is relative
    first = run_pipeline(load_project(root), "p")
    assert first.totals.loaded == 1 and first.totals.quarantined == 2
    # A newer file writes key 2 again (grace's new name); key 3 comes only from a.csv.
    (root / "data" / "b.csv").write_text("id,name,day\n2,grace hopper,2024-03-01\n")
    second = run_pipeline(load_project(root), "p")
    assert second.totals.loaded == 1
    assert sorted(entries(root, status=None)) == [
        ("open", None),
        ("superseded", second.run_id),
    ]
    log = load_project(root)
    store = StateStore(log.state_url())
    try:
        said = [e.message for e in store.events(second.run_id)]
    finally:
        store.close()
    assert any("superseded: this load merged newer rows with the same keys" in m for m in said)

    fix(root, "formats: ['%Y-%m-%d']", FIXED)
    (report,) = replay(load_project(root))
    assert report.totals.loaded == 1  # linus only: grace's old row stays out
    rows = {r["id"]: r["name"] for r in table(root)}
    assert rows == {1: "ada", 2: "grace hopper", 3: "linus"}
    assert entries(root) == []  # nothing left open


def test_within_one_run_a_later_file_supersedes_an_earlier_files_row(
    make_project: Callable[..., Path],
) -> None:
    files = {
        "data/a.csv": "id,name,day\n1,ada,2024-01-15\n2,grace,2024-13-02\n",
        "data/b.csv": "id,name,day\n2,grace hopper,2024-03-01\n",
    }
    root = merge_project(make_project, "sqlite:///w.db", files)
    os.chdir(root)
    report = run_pipeline(load_project(root), "p")
    assert report.totals.quarantined == 1
    assert entries(root, status=None) == [("superseded", report.run_id)]
    assert replay(load_project(root)) == []  # nothing open: nothing to replay


def test_a_key_no_newer_load_wrote_is_replayed(make_project: Callable[..., Path]) -> None:
    old = "id,name,day\n1,ada,2024-01-15\n2,grace,2024-13-02\n"
    root = merge_project(make_project, "sqlite:///w.db", {"data/a.csv": old})
    os.chdir(root)
    run_pipeline(load_project(root), "p")
    (root / "data" / "b.csv").write_text("id,name,day\n1,ada lovelace,2024-03-01\n")
    run_pipeline(load_project(root), "p")
    assert entries(root) == [("open", None)]
    fix(root, "formats: ['%Y-%m-%d']", FIXED)
    (report,) = replay(load_project(root))
    assert report.totals.loaded == 1
    assert {r["id"]: r["name"] for r in table(root)} == {1: "ada lovelace", 2: "grace"}


@pytest.mark.parametrize("bad_key", ["x", ""])
def test_an_entry_whose_key_does_not_validate_stays_open(
    make_project: Callable[..., Path], bad_key: str
) -> None:
    old = f"id,name,day\n1,ada,2024-01-15\n{bad_key},grace,2024-02-01\n"
    root = merge_project(make_project, "sqlite:///w.db", {"data/a.csv": old})
    os.chdir(root)
    run_pipeline(load_project(root), "p")
    (root / "data" / "b.csv").write_text("id,name,day\n2,grace,2024-03-01\n")
    run_pipeline(load_project(root), "p")
    assert entries(root) == [("open", None)]


def test_keys_read_with_the_files_decimal_comma_tell_a_newer_load(
    make_project: Callable[..., Path],
) -> None:
    # `1.234` is key 1234 in a file written with a decimal comma: read with a point,
    # the old row had no key, stayed open, and its replay put it over the newer row.
    root = merge_project(
        make_project, "sqlite:///w.db", {"data/a.csv": "id;name;day\n1.234;ada;2024-13-02\n"}
    )
    fix(root, "path: data/*.csv", "path: data/*.csv\n        csv: {delimiter: ';', decimal: ','}")
    os.chdir(root)
    assert run_pipeline(load_project(root), "p").totals.quarantined == 1
    (root / "data" / "b.csv").write_text("id;name;day\n1234;ada lovelace;2024-03-01\n")
    second = run_pipeline(load_project(root), "p")
    assert entries(root, status=None) == [("superseded", second.run_id)]
    fix(root, "formats: ['%Y-%m-%d']", FIXED)
    replay(load_project(root))
    assert [(r["id"], r["name"]) for r in table(root)] == [(1234, "ada lovelace")]
