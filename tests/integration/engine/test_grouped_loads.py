"""Consecutive small files of an ``append`` stream load in one transaction
(``GROUP_BYTES``), each with its own ledger entry, counts and quarantined rows."""

from __future__ import annotations

import gzip
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from sluice.config import load_project
from sluice.destinations.base import LOADS_TABLE
from sluice.engine import plan, run_pipeline
from sluice.state.store import StateStore

YAML = """\
pipelines:
  p:
    sources:
      s: {{type: file, path: 'data/*', batch_bytes: 4096}}
    table:
      name: t
      {keys}
      columns:
        id: {{type: integer, required: true}}
        name: string
    destination: {{mode: {mode}}}
"""


def rows(i: int) -> str:
    """Three rows that load and one that does not (``x`` is no integer), unique to ``i``."""
    return f"id,name\n{10 * i + 1},a{i}\n{10 * i + 2},b{i}\nx,bad{i}\n{10 * i + 3},c{i}\n"


def project(make_project: Callable[..., Path], files: dict[str, str | bytes], mode: str) -> Path:
    keys = "keys: [id]" if mode == "merge" else ""
    return make_project(YAML.format(mode=mode, keys=keys), files)  # type: ignore[no-any-return]


def markers(root: Path) -> list[tuple[str, int]]:
    with closing(sqlite3.connect(root / "warehouse.db")) as conn:
        return list(conn.execute(f'SELECT load_key, "rows" FROM {LOADS_TABLE} ORDER BY 1'))


def ledger(root: Path) -> list[tuple[str, str, str]]:
    """(file, status, load key) of every ledger entry, by file."""
    with closing(sqlite3.connect(root / ".sluice" / "state.db")) as conn:
        return list(conn.execute("SELECT name, status, load_key FROM sluice_files ORDER BY name"))


def table_ids(root: Path) -> list[int]:
    with closing(sqlite3.connect(root / "warehouse.db")) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM t ORDER BY id")]


def test_small_files_load_in_one_transaction_each_counted_as_its_own(
    make_project: Callable[..., Path], unset_urls: None
) -> None:
    root = project(make_project, {f"data/f{i}.csv": rows(i) for i in range(5)}, "append")
    report = run_pipeline(load_project(root), "p")
    assert (report.totals.read, report.totals.loaded, report.totals.quarantined) == (20, 15, 5)
    ((key, n),) = markers(root)  # one load marker for the five files
    assert key.startswith("p/s/") and key.endswith("+5") and n == 15
    entries = ledger(root)
    assert [(name, status) for name, status, _ in entries] == [
        (f"data/f{i}.csv", "loaded") for i in range(5)
    ]
    assert {k for _, _, k in entries} == {key}  # each entry names the load that holds it
    files = report.as_dict()["streams"]["s"]["files"]
    assert [(f["file"], f["read"], f["loaded"], f["quarantined"]) for f in files] == [
        (f"data/f{i}.csv", 4, 3, 1) for i in range(5)
    ]
    store = StateStore(load_project(root).state_url())
    try:
        bad = store.quarantined(pipeline="p", run_id=report.run_id)
    finally:
        store.close()
    # each bad row is its own file's, at its own line
    assert sorted((e.unit, e.line, e.payload["id"]) for e in bad) == [
        (f"data/f{i}.csv", 4, "x") for i in range(5)
    ]
    assert table_ids(root) == sorted(10 * i + j for i in range(5) for j in (1, 2, 3))


def test_a_groups_files_are_staged_in_one_transaction_and_committed_in_another(
    make_project: Callable[..., Path], unset_urls: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before the warehouse commits: every file's counts under the load's key; after it:
    every file's ledger entry, rows set aside and log line, and the stream's stages."""
    root = project(make_project, {f"data/f{i}.csv": rows(i) for i in range(3)}, "append")
    calls: list[tuple[str, bool]] = []  # (store call, inside a shared transaction)
    shared: list[int] = []
    for name in ("stage_unit", "commit_unit", "supersede_quarantine", "log", "progress_stages"):
        real = getattr(StateStore, name)

        def spy(self: StateStore, *a: Any, _real: Any = real, _name: str = name, **k: Any) -> Any:
            calls.append((_name, self._shared() is not None))
            return _real(self, *a, **k)

        monkeypatch.setattr(StateStore, name, spy)
    together = StateStore.together

    def counted(self: StateStore, work: Any) -> Any:
        shared.append(1)
        return together(self, work)

    monkeypatch.setattr(StateStore, "together", counted)
    report = run_pipeline(load_project(root), "p")
    assert report.totals.loaded == 9 and len(markers(root)) == 1
    assert len(shared) == 2
    staged = [inside for name, inside in calls if name == "stage_unit"]
    after = ("commit_unit", "supersede_quarantine")
    committed = [inside for name, inside in calls if name in after]
    assert staged == [True] * 3 and committed == [True] * 6
    # the files' lines and the stages were written with them, in that transaction
    lines = [inside for name, inside in calls if name == "log"]
    assert lines.count(True) == 3
    assert [inside for name, inside in calls if name == "progress_stages"][-1] is True
    store = StateStore(load_project(root).state_url())
    try:
        said = [e.message for e in store.events(report.run_id)]
        assert [m for m in said if m.startswith("data/f")] == [
            f"data/f{i}.csv: read 4, loaded 3, quarantined 1, filtered 0" for i in range(3)
        ]
        assert {(s.stage, s.rows) for s in store.stages(report.run_id)} >= {("load", 9)}
    finally:
        store.close()


def test_a_group_holds_files_up_to_its_bytes_and_a_larger_file_loads_alone(
    make_project: Callable[..., Path], unset_urls: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    files: dict[str, str | bytes] = {f"data/f{i}.csv": rows(i) for i in range(5)}
    files["data/f2.csv"] = rows(2) + "".join(f"{100 + j},big\n" for j in range(200))
    root = project(make_project, files, "append")
    small = max((root / "data" / f"f{i}.csv").stat().st_size for i in (0, 1, 3, 4))
    monkeypatch.setattr(plan, "GROUP_BYTES", 2 * small)
    report = run_pipeline(load_project(root), "p")
    assert report.totals.loaded == 15 + 200
    groups = sorted(k.rsplit("+", 1)[-1] if "+" in k else "1" for k, _ in markers(root))
    assert groups == ["1", "2", "2"]  # f0+f1, f2 (too large to join), f3+f4
    # each file's entry names the load that holds it
    by_file = {name: key for name, _, key in ledger(root)}
    assert by_file["data/f0.csv"] == by_file["data/f1.csv"] != by_file["data/f2.csv"]
    assert by_file["data/f3.csv"] == by_file["data/f4.csv"] != by_file["data/f2.csv"]


def test_the_same_bytes_twice_in_a_drop_load_once(
    make_project: Callable[..., Path], unset_urls: None
) -> None:
    files: dict[str, str | bytes] = {
        "data/a.csv": rows(1),
        "data/b.csv": rows(1),  # a copy of a.csv: a group closes before it
        "data/c.csv": rows(2),
    }
    root = project(make_project, files, "append")
    report = run_pipeline(load_project(root), "p")
    assert report.totals.loaded == 6
    assert table_ids(root) == [11, 12, 13, 21, 22, 23]
    (skip,) = report.as_dict()["streams"]["s"]["skipped_files"]
    assert skip["file"] == "data/b.csv" and skip["reason"].startswith("already loaded by run")
    assert len(markers(root)) == 2


def test_a_file_that_breaks_mid_way_is_set_aside_and_its_group_loads_without_it(
    make_project: Callable[..., Path], unset_urls: None
) -> None:
    # A gzip file cut short: its rows read until the end of its data, then it breaks.
    body = "id,name\n" + "".join(f"{1000 + j},gz\n" for j in range(20_000))
    cut = gzip.compress(body.encode())[:-40]
    files: dict[str, str | bytes] = {
        "data/f0.csv": rows(0),
        "data/f1.csv.gz": cut,
        "data/f2.csv": rows(2),
    }
    root = project(make_project, files, "append")
    report = run_pipeline(load_project(root), "p")
    (qf,) = report.as_dict()["streams"]["s"]["quarantined_files"]
    assert qf["file"] == "data/f1.csv.gz" and qf["reason"].startswith("corrupt or truncated")
    # the group was loaded again without it: the other files' rows once, none of its own
    assert table_ids(root) == [1, 2, 3, 21, 22, 23]
    assert (report.totals.loaded, report.totals.quarantined) == (6, 2)
    assert [s for _, s, _ in ledger(root)] == ["loaded", "quarantined", "loaded"]


def file_entries(root: Path) -> list[str]:
    """The unit of each file entry in quarantine, in the order they were made."""
    store = StateStore(load_project(root).state_url())
    try:
        return [e.unit for e in store.quarantined(pipeline="p", status=None) if e.kind == "file"]
    finally:
        store.close()


#: a UTF-16 export (Excel's "Unicode text"): its header is no UTF-8, so it is set aside
#: as it is opened, before any row of the load is read
UTF16 = "id\tname\r\n5\tx\r\n".encode("utf-16")


@pytest.mark.parametrize("mode", ["append", "replace"])
def test_a_file_set_aside_as_it_opened_is_not_opened_again_when_the_load_is_retried(
    make_project: Callable[..., Path], unset_urls: None, mode: str
) -> None:
    # The load opens f1 (set aside: its header is no UTF-8), then f2 breaks mid-way and
    # the load is tried again without it: f1 was opened and set aside a second time,
    # with a second quarantine entry (a replay would find two) and "3 set aside".
    cut = gzip.compress(("id,name\n" + "".join(f"{1000 + j},gz\n" for j in range(20_000))).encode())
    files: dict[str, str | bytes] = {
        "data/f0.csv": rows(0),
        "data/f1.csv": UTF16,
        "data/f2.csv.gz": cut[:-40],
        "data/f3.csv": rows(3),
    }
    root = project(make_project, files, mode)
    report = run_pipeline(load_project(root), "p")
    aside = report.as_dict()["streams"]["s"]["quarantined_files"]
    assert sorted(q["file"] for q in aside) == ["data/f1.csv", "data/f2.csv.gz"]
    assert sorted(file_entries(root)) == ["data/f1.csv", "data/f2.csv.gz"]
    assert report.totals.quarantined_files == 2
    assert table_ids(root) == [1, 2, 3, 31, 32, 33]
    assert [s for _, s, _ in ledger(root)] == ["loaded", "quarantined", "quarantined", "loaded"]


def test_a_file_set_aside_as_it_opened_stays_set_aside_when_its_load_fails(
    make_project: Callable[..., Path], unset_urls: None
) -> None:
    # f1 is set aside as it opens; f2's header drifted under `drift: fail` and the run
    # stops. f1's entry stays "quarantined" (it was marked failed, and the next run set
    # it aside again: a second entry for the same bytes).
    files: dict[str, str | bytes] = {
        "data/f0.csv": rows(0),
        "data/f1.csv": UTF16,
        "data/f2.csv": "id,name,extra\n21,a,x\n",
    }
    root = make_project(
        YAML.format(mode="append", keys="").replace("batch_bytes: 4096}", "drift: fail}"), files
    )
    report = run_pipeline(load_project(root), "p")
    assert report.status == "failed" and report.errors[0]["type"] == "DriftError"
    assert [s for _, s, _ in ledger(root)] == ["failed", "quarantined", "failed"]
    yaml = (root / "sluice.yaml").read_text()
    (root / "sluice.yaml").write_text(yaml.replace("drift: fail", "drift: evolve"))
    again = run_pipeline(load_project(root), "p")
    assert table_ids(root) == [1, 2, 3, 21]
    assert again.totals.quarantined_files == 0
    assert file_entries(root) == ["data/f1.csv"]


@pytest.mark.parametrize("mode", ["merge", "snapshot"])
def test_merge_and_snapshot_keep_a_load_per_file(
    make_project: Callable[..., Path], unset_urls: None, mode: str
) -> None:
    root = project(make_project, {f"data/f{i}.csv": rows(i) for i in range(3)}, mode)
    report = run_pipeline(load_project(root), "p")
    assert report.totals.loaded == 9
    assert len(markers(root)) == 3


def test_a_display_counts_on_across_the_files_of_a_load(
    make_project: Callable[..., Path], unset_urls: None
) -> None:
    body = ["id,name\n" + "".join(f"{i * 10_000 + j},n\n" for j in range(3000)) for i in range(3)]
    files: dict[str, str | bytes] = {f"data/f{i}.csv": b for i, b in enumerate(body)}
    root = project(make_project, files, "append")
    told: list[tuple[str, int]] = []
    units: list[tuple[str, int]] = []

    class Display:
        def __call__(self, stream: str, stage: str, rows: int) -> None:
            told.append((stage, rows))

        def bytes_read(self, stream: str, unit: str, read: int, size: int) -> None:
            units.append((unit, size))

    report = run_pipeline(load_project(root), "p", progress=Display())
    assert report.totals.loaded == 9000 and len(markers(root)) == 1
    loads = [rows for stage, rows in told if stage == "load"]
    assert loads == sorted(loads) and loads[-1] == 9000  # never back to 0 at a new file
    assert [r for stage, r in told if stage == "commit"] == [9000]
    # a new unit is told as its rows begin (the display then takes the last one as done)
    extract: list[Any] = [r for stage, r in told if stage == "extract"]
    assert extract[-2:] == [3000, 6000]
    assert [u for u, _ in dict.fromkeys(units)] == [f"data/f{i}.csv" for i in range(3)]


def test_a_drifted_file_under_drift_fail_stops_its_load_and_the_next_run_loads_it(
    make_project: Callable[..., Path], unset_urls: None
) -> None:
    files: dict[str, str | bytes] = {f"data/f{i}.csv": rows(i) for i in range(3)}
    files["data/f1.csv"] = "id,name,extra\n11,a,x\n"
    root = make_project(
        YAML.format(mode="append", keys="").replace("batch_bytes: 4096}", "drift: fail}"), files
    )
    report = run_pipeline(load_project(root), "p")
    assert report.status == "failed"
    assert report.errors[0]["type"] == "DriftError"
    assert table_ids(root) == []  # f0 shared the load f1 stopped
    yaml = (root / "sluice.yaml").read_text()
    (root / "sluice.yaml").write_text(yaml.replace("drift: fail", "drift: evolve"))
    again = run_pipeline(load_project(root), "p")
    assert again.totals.loaded == 7
    assert table_ids(root) == [1, 2, 3, 11, 21, 22, 23]


@pytest.mark.parametrize("mode", ["append", "replace"])
def test_a_column_a_later_file_of_the_load_brings_is_null_for_the_files_before_it(
    make_project: Callable[..., Path], unset_urls: None, mode: str
) -> None:
    """Under ``drift: evolve`` the load writes the columns the table has once all its
    files opened: a file opened before the one that added a column holds none of it."""
    files: dict[str, str | bytes] = {
        "data/f0.csv": "id,name\n1,a\n",
        "data/f1.csv": "id,name,extra\n2,b,x\n",
        "data/f2.csv": "id,name\n3,c\n",
    }
    yaml = YAML.format(mode=mode, keys="").replace("batch_bytes: 4096}", "drift: evolve}")
    root = make_project(yaml, files)
    report = run_pipeline(load_project(root), "p")
    assert report.totals.loaded == 3, report.errors
    with closing(sqlite3.connect(root / "warehouse.db")) as conn:
        got = list(conn.execute("SELECT id, name, extra FROM t ORDER BY id"))
    assert got == [(1, "a", None), (2, "b", "x"), (3, "c", None)]
