"""An entry a later load made obsolete is closed as `superseded`, with that run's id, and
never replayed (issue 12): the same file loaded again, or a newer pull of the API."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from sluice.config import load_project
from sluice.destinations import connect
from sluice.destinations.sql import SqlDestination
from sluice.engine import run_pipeline
from sluice.engine.replay import replay
from sluice.sim.server import SimServer
from sluice.state.store import StateStore
from sluice.testing import processes
from tests.support.http_app import N, create_app

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
          columns:
            id: {{type: integer, required: true}}
            name: string
            day: {{type: date, formats: ['%Y-%m-%d']}}
        destination: {{mode: append}}
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def stores(request: pytest.FixtureRequest) -> tuple[str, str]:
    """(warehouse, state store): both SQLite files, or both PostgreSQL."""
    if request.param == "sqlite":
        return "sqlite:///w.db", "sqlite:///.sluice/state.db"
    url = str(request.getfixturevalue("pg_url"))
    return url, url


def count(root: Path, table: str = "items") -> int:
    dest = connect(load_project(root).warehouse_url())
    assert isinstance(dest, SqlDestination)
    try:
        with dest.engine.connect() as c:
            return int(c.execute(sa.text(f'SELECT COUNT(*) FROM "{table}"')).scalar_one())
    finally:
        dest.close()


def entries(root: Path) -> list[object]:
    store = StateStore(load_project(root).state_url())
    try:
        return list(store.quarantined(pipeline="p", status=None))
    finally:
        store.close()


def edit(root: Path, old: str, new: str) -> None:
    path = root / "sluice.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    env["COLUMNS"] = "250"
    return processes.run(
        [sys.executable, "-m", "sluice", *args, "-p", str(root)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_file_set_aside_then_loaded_again_is_superseded(
    stores: tuple[str, str], make_project: Callable[..., Path]
) -> None:
    warehouse, state = stores
    root = make_project(
        PROJECT.format(warehouse=warehouse, state=state),
        {"data/b.csv": "id,name,day,colour\n1,ada,2024-01-15,red\n2,grace,2024-02-15,blue\n"},
    )
    first = run_pipeline(load_project(root), "p")
    assert first.status == "succeeded_with_quarantine"
    edit(root, "path: data/*.csv", "path: data/*.csv\n        ignore: [colour]")
    # The fix, then a plain run with --full-refresh (not a replay) loads the same file.
    again = run_pipeline(load_project(root), "p", full_refresh=True)
    assert again.status == "succeeded", again.errors
    assert count(root) == 2
    (entry,) = entries(root)
    assert (entry.status, entry.superseded_by) == ("superseded", again.run_id)  # type: ignore[attr-defined]
    assert replay(load_project(root)) == []  # nothing open: nothing loaded twice
    assert count(root) == 2
    shown = cli(root, "quarantine", "list", "--status", "superseded")
    assert shown.returncode == 0, shown.stderr
    # the run id on a line of its own under "superseded by run": never wrapped inside
    assert "superseded by run" in shown.stdout and f" {again.run_id} " in shown.stdout
    assert "data/b.csv" not in cli(root, "quarantine", "list").stdout  # not open


def test_rows_of_a_file_loaded_again_are_superseded(
    stores: tuple[str, str], make_project: Callable[..., Path]
) -> None:
    warehouse, state = stores
    root = make_project(
        PROJECT.format(warehouse=warehouse, state=state),
        {"data/a.csv": "id,name,day\n1,ada,2024-01-15\n2,linus,2024-13-01\n"},
    )
    first = run_pipeline(load_project(root), "p")
    assert first.totals.quarantined == 1
    edit(root, "formats: ['%Y-%m-%d']", "formats: ['%Y-%m-%d', '%Y-%d-%m']")
    again = run_pipeline(load_project(root), "p", full_refresh=True)
    assert again.status == "succeeded" and again.totals.loaded == 2
    (entry,) = entries(root)
    assert (entry.status, entry.superseded_by) == ("superseded", again.run_id)  # type: ignore[attr-defined]
    assert replay(load_project(root)) == []
    assert count(root) == 3  # 1 twice (the --full-refresh asked for it), 2 once


@pytest.fixture
def api() -> Iterator[str]:
    with SimServer(create_app()) as server:
        yield server.url


def api_project(api: str, warehouse: str, source: str = "") -> str:
    return f"""
warehouse: {warehouse}
pipelines:
  p:
    sources:
      s:
        type: http
        base_url: {api}
        endpoint: /items
        params: {{style: page}}
        records: data
        paginate: {{style: page, total_pages: total_pages}}
        retry: {{max_attempts: 2, backoff: 0.01}}
{source}
    table:
      name: items
      columns:
        id: {{type: integer, required: true}}
        name: string
        meta_color: {{type: string, accepted: [red, green]}}
        meta_size: integer
"""


def test_a_pull_set_aside_is_superseded_by_a_newer_pull(
    api: str, make_project: Callable[..., Path]
) -> None:
    root = make_project(api_project(api, "sqlite:///w.db"))
    first = run_pipeline(load_project(root), "p")
    assert first.status == "succeeded_with_quarantine"  # updated_at is not mapped: drift
    assert first.streams["s"].quarantined_files
    edit(root, "retry: {max_attempts: 2, backoff: 0.01}", "ignore: [updated_at]")
    second = run_pipeline(load_project(root), "p")  # a plain run pulls again
    assert second.totals.loaded + second.totals.quarantined == N
    (pull,) = [e for e in entries(root) if e.kind == "file"]  # type: ignore[attr-defined]
    assert (pull.status, pull.superseded_by) == ("superseded", second.run_id)  # type: ignore[attr-defined]
    assert count(root) == second.totals.loaded
    # The blue records quarantined by the newer pull are open; replaying them after
    # the fix loads them and nothing of the superseded pull.
    edit(root, "accepted: [red, green]", "accepted: [red, green, blue]")
    (again,) = replay(load_project(root))
    assert again.status == "succeeded", again.errors
    assert count(root) == N


@pytest.mark.parametrize("incremental", [False, True])
def test_rows_of_an_earlier_pull_are_superseded_unless_the_pull_is_incremental(
    incremental: bool, api: str, make_project: Callable[..., Path]
) -> None:
    source = "        ignore: [updated_at]"
    if incremental:
        source = (
            "        incremental: {cursor_field: updated_at, param: since}\n"
            "        ignore: [updated_at]"
        )
    root = make_project(api_project(api, "sqlite:///w.db", source))
    first = run_pipeline(load_project(root), "p")
    blue = first.totals.quarantined
    assert first.status == "succeeded_with_quarantine" and blue > 0
    second = run_pipeline(load_project(root), "p")
    rows = [e for e in entries(root) if e.run_id == first.run_id]  # type: ignore[attr-defined]
    assert len(rows) == blue
    if incremental:  # the newer pull started after them: they are still open
        assert {e.status for e in rows} == {"open"}  # type: ignore[attr-defined]
    else:  # the newer pull read them again (and quarantined them again)
        assert {e.superseded_by for e in rows} == {second.run_id}  # type: ignore[attr-defined]
        assert second.totals.quarantined == blue
    edit(root, "accepted: [red, green]", "accepted: [red, green, blue]")
    replay(load_project(root))
    loaded = count(root)
    # Every blue record once: the first pull's were read again by the second (or, when
    # incremental, were never read again and are replayed from the first).
    assert loaded == (N if incremental else 2 * N - blue)
