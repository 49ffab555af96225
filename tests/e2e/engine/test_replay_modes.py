"""A replay adds its rows to what the last load left, under every write mode, and two
replays at once load each entry once (issue 12)."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sluice.config import load_project
from sluice.dburl import normalize
from sluice.destinations import connect
from sluice.destinations.sql import SqlDestination
from sluice.engine import run_pipeline
from sluice.engine.replay import replay
from sluice.state.quarantine import NewEntry
from sluice.state.store import StateStore
from sluice.status import EntryKind
from sluice.testing import processes

PROJECT = """
    warehouse: {warehouse}
    state: {state}
    pipelines:
      p:
        sources:
          s:
            type: file
            path: data/*.csv
        table:
          name: items
          keys: [id]
          columns:
            id: {{type: integer, required: true}}
            name: string
            day: {{type: date, formats: ['%Y-%m-%d']}}
        destination: {{mode: {mode}}}
"""
FIXED = "formats: ['%Y-%m-%d', '%Y-%d-%m']"


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        return "sqlite:///w.db"
    return str(request.getfixturevalue("pg_url"))


def table(root: Path, name: str = "items", order: str = "id") -> list[dict[str, Any]]:
    dest = connect(load_project(root).warehouse_url())
    assert isinstance(dest, SqlDestination)
    try:
        with dest.engine.connect() as c:
            got = c.execute(sa.text(f'SELECT * FROM "{name}" ORDER BY {order}')).mappings().all()
        return [dict(r) for r in got]
    finally:
        dest.close()


def fix(root: Path, old: str, new: str) -> None:
    path = root / "sluice.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize("mode", ["append", "replace", "merge", "snapshot"])
def test_replayed_rows_join_what_the_last_load_left(
    mode: str, warehouse: str, make_project: Callable[..., Path]
) -> None:
    root = make_project(
        PROJECT.format(warehouse=warehouse, state="sqlite:///.sluice/state.db", mode=mode),
        {"data/a.csv": "id,name,day\n1,ada,2024-01-15\n2,grace,2024-02-15\n3,linus,2024-13-01\n"},
    )
    first = run_pipeline(load_project(root), "p")
    assert first.status == "succeeded_with_quarantine", first.errors
    assert [r["id"] for r in table(root)] == [1, 2]
    fix(root, "formats: ['%Y-%m-%d']", FIXED)
    (again,) = replay(load_project(root))
    assert again.status == "succeeded", again.errors
    assert again.totals.loaded == 1
    rows = table(root)
    assert [(r["id"], r["name"]) for r in rows] == [(1, "ada"), (2, "grace"), (3, "linus")]
    assert str(rows[2]["day"]) == "2024-01-13"
    if mode == "snapshot":  # the row rejoins the load of the file it came from
        assert {r["_load_id"] for r in rows} == {rows[0]["_load_id"]}
        assert len(table(root, "items_latest")) == 3
    # nothing more to replay, and a second replay loads nothing
    assert replay(load_project(root)) == []
    assert len(table(root)) == 3


def test_a_file_set_aside_under_replace_is_added_not_swapped_in(
    warehouse: str, make_project: Callable[..., Path]
) -> None:
    root = make_project(
        PROJECT.format(warehouse=warehouse, state="sqlite:///.sluice/state.db", mode="replace"),
        {
            "data/a.csv": "id,name,day\n1,ada,2024-01-15\n2,grace,2024-02-15\n",
            "data/b.csv": "id,name,day,colour\n3,linus,2024-01-13,red\n",
        },
    )
    first = run_pipeline(load_project(root), "p")
    assert first.status == "succeeded_with_quarantine", first.errors
    assert first.streams["s"].quarantined_files[0]["file"] == "data/b.csv"
    assert [r["id"] for r in table(root)] == [1, 2]
    fix(root, "path: data/*.csv", "path: data/*.csv\n        ignore: [colour]")
    (again,) = replay(load_project(root))
    assert again.status == "succeeded", again.errors
    assert [r["id"] for r in table(root)] == [1, 2, 3]


def test_the_tour_under_replace_keeps_ada_and_grace(tmp_path: Path) -> None:
    """README's five-minute tour with `mode: replace`: the replay adds linus."""
    sluice = [sys.executable, "-m", "sluice"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    root = tmp_path / "tour"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return processes.run(
            [*sluice, *args], cwd=root, env=env, capture_output=True, text=True, timeout=120
        )

    processes.run([*sluice, "init", str(root)], env=env, check=True, capture_output=True)
    fix(root, "mode: merge ", "mode: replace")
    assert cli("run", "contacts").returncode == 3
    fix(root, "'%d/%m/%Y']", "'%d/%m/%Y', '%Y-%d-%m']")
    replayed = cli("quarantine", "replay")
    assert replayed.returncode == 3, replayed.stdout + replayed.stderr  # the bad email stays
    rows = table(root, "contacts", "email")
    assert [r["email"] for r in rows] == [
        "ada@example.org",
        "grace@example.org",
        "linus@example.org",
    ]


ROWS = 1225


def command_in(hint: str) -> list[str]:
    """The command a hint names (between backticks)."""
    found = re.search(r"`(sluice [^`]+)`", hint)
    assert found, hint
    return found.group(1).split()


def hold_warehouse(url: str, root: Path) -> Callable[[], None]:
    """Lock the table ``items`` until the returned function is called: loads wait."""
    if url.startswith("sqlite"):
        lite = sqlite3.connect(root / "w.db", isolation_level=None)
        lite.execute("BEGIN EXCLUSIVE")
        return lite.close
    engine = sa.create_engine(normalize(url))
    conn = engine.connect()
    conn.execute(sa.text("LOCK TABLE items IN ACCESS EXCLUSIVE MODE"))

    def release() -> None:
        conn.close()
        engine.dispose()

    return release


def replay_runs(root: Path) -> list[Any]:
    store = StateStore(load_project(root).state_url())
    try:
        return [r for r in store.runs("p", 10) if r.report is None or r.report["kind"] == "replay"]
    finally:
        store.close()


@pytest.mark.parametrize("store_kind", ["sqlite", "postgresql"])
def test_two_replays_at_once_load_each_row_once(
    store_kind: str, make_project: Callable[..., Path], request: pytest.FixtureRequest
) -> None:
    if store_kind == "sqlite":
        warehouse, state = "sqlite:///w.db", "sqlite:///.sluice/state.db"
    else:
        warehouse = state = str(request.getfixturevalue("pg_url"))
    bad = "".join(f"{i},n{i},2024-13-01\n" for i in range(1, ROWS + 1))
    root = make_project(
        PROJECT.format(warehouse=warehouse, state=state, mode="append"),
        {"data/a.csv": "id,name,day\n1000000,ok,2024-01-01\n" + bad},
    )
    first = run_pipeline(load_project(root), "p")
    assert first.totals.quarantined == ROWS
    fix(root, "formats: ['%Y-%m-%d']", FIXED)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    command = [sys.executable, "-m", "sluice", "quarantine", "replay", "-p", str(root), "--json"]
    # Both replays start while the warehouse is locked, so both have read the open
    # entries before either can load: only claiming them decides who loads what.
    release = hold_warehouse(warehouse, root)
    try:
        procs = [
            processes.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(2)
        ]
        deadline = time.monotonic() + 60
        while len(replay_runs(root)) < 2:
            assert time.monotonic() < deadline, "the replays never started"
            assert all(p.poll() is None for p in procs), "a replay ended early"
            time.sleep(0.05)
        time.sleep(0.5)
    finally:
        release()
    outs = [p.communicate(timeout=300) for p in procs]
    rows = table(root)
    assert len(rows) == ROWS + 1 and len({r["id"] for r in rows}) == ROWS + 1
    store = StateStore(load_project(root).state_url())
    try:
        entries = store.quarantined(pipeline="p", status=None)
    finally:
        store.close()
    assert {e.status for e in entries} == {"replayed"}
    reports = {r.report["run_id"]: r.report for r in replay_runs(root)}
    assert len(reports) == 2
    assert sum(r["totals"]["loaded"] for r in reports.values()) == ROWS
    (winner,) = [r for r in reports.values() if r["totals"]["loaded"] == ROWS]
    (loser,) = [r for r in reports.values() if r is not winner]
    codes = {
        json.loads(out)[0]["run_id"]: p.returncode for p, (out, _) in zip(procs, outs, strict=True)
    }
    assert codes[winner["run_id"]] == 0
    if loser["status"] == "failed":  # refused: its pipeline was taken by the winner
        assert codes[loser["run_id"]] != 0
        (error,) = loser["errors"]
        assert winner["run_id"] in error["message"], error
        return
    # It ran, found the entries claimed, and says who has them with a command that works.
    assert codes[loser["run_id"]] == 0
    (warning,) = loser["warnings"]
    assert f"being replayed by run {winner['run_id']}" in warning["message"]
    shown = processes.run(
        [sys.executable, "-m", *command_in(warning["hint"]), "-p", str(root)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0 and winner["run_id"] in shown.stdout, shown.stderr


CLAIMER = """
import json, sys, time
from pathlib import Path
from sluice.state.store import StateStore
url, go, run_id, n = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
store = StateStore(url)
Path(f"{go}.{run_id}").touch()  # ready: the store is open
while not go.exists():
    time.sleep(0.001)
print(json.dumps(store.claim_quarantine(list(range(1, n + 1)), run_id)))
"""


@pytest.mark.parametrize("store_kind", ["sqlite", "postgresql"])
def test_claims_of_processes_at_once_never_overlap(
    store_kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The claim itself, without the pipeline lock around replays: four processes claim
    the same 2,000 entries at the same moment; each entry goes to exactly one."""
    url = (
        f"sqlite:///{tmp_path / 'state.db'}"
        if store_kind == "sqlite"
        else str(request.getfixturevalue("pg_url"))
    )
    n = 2000
    store = StateStore(url)
    store.quarantine(
        [NewEntry("R0", "p", "s", EntryKind.ROW, "u", i, ["x"], {}, None) for i in range(n)]
    )
    ids = sorted(e.id for e in store.quarantined(pipeline="p"))
    assert ids == list(range(1, n + 1))
    go = tmp_path / "go"
    procs = [
        processes.Popen(
            [sys.executable, "-c", CLAIMER, url, str(go), f"R{i}", str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i in range(1, 5)
    ]
    deadline = time.monotonic() + 60
    while not all(Path(f"{go}.R{i}").exists() for i in range(1, 5)):
        assert time.monotonic() < deadline, "the claimers did not open the store"
        time.sleep(0.01)
    go.touch()  # every process has opened the store and waits: now, together
    claimed = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()[-2000:]
        claimed.append(set(json.loads(out)))
    assert sum(len(c) for c in claimed) == n  # nothing claimed twice
    assert set().union(*claimed) == set(ids)  # nothing left out
    owners = {e.id: e.replay_run_id for e in store.quarantined(status="replaying")}
    store.close()
    for i, mine in enumerate(claimed, start=1):
        assert all(owners[e] == f"R{i}" for e in mine)
