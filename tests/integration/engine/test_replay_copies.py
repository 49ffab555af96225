"""A replayed file is read from its dead-letter copy, never fetched again (issue 12):
a `url:` source's download, a zip member of one, and a file given with --file."""

from __future__ import annotations

import io
import os
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI, Response

from sluice.config import load_project
from sluice.destinations import connect
from sluice.destinations.sql import SqlDestination
from sluice.engine import run_pipeline
from sluice.engine.replay import replay
from sluice.sim.server import SimServer
from sluice.state.store import StateStore
from sluice.testing import processes

OLD = "id,name,colour\n1,ada,red\n2,grace,blue\n"
NEW = "id,name,colour\n3,linus,green\n4,edsger,red\n5,barbara,blue\n"


def zipped(members: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in members.items():
            z.writestr(name, text)
    return buf.getvalue()


@pytest.fixture
def upstream() -> Iterator[tuple[str, dict[str, Any]]]:
    """Serves ``state["files"][name]``; counts the downloads."""
    app = FastAPI()
    state: dict[str, Any] = {"files": {}, "calls": 0}

    @app.get("/files/{name}")
    async def get(name: str) -> Response:
        state["calls"] += 1
        if name not in state["files"]:
            return Response(status_code=404)
        return Response(state["files"][name], media_type="application/octet-stream")

    with SimServer(app) as server:
        yield server.url, state


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        return "sqlite:///w.db"
    return str(request.getfixturevalue("pg_url"))


def project(warehouse: str, url: str) -> str:
    return f"""
warehouse: {warehouse}
pipelines:
  p:
    sources:
      s:
        type: file
        url: {url}
        retry: {{max_attempts: 2, backoff: 0.01}}
    table:
      name: people
      columns:
        id: {{type: integer, required: true}}
        name: string
"""


def ids(root: Path) -> list[int]:
    dest = connect(load_project(root).warehouse_url())
    assert isinstance(dest, SqlDestination)
    try:
        with dest.engine.connect() as c:
            return [r[0] for r in c.execute(sa.text("SELECT id FROM people ORDER BY id"))]
    finally:
        dest.close()


def ignore_colour(root: Path) -> None:
    path = root / "sluice.yaml"
    text = path.read_text()
    path.write_text(text.replace("type: file\n", "type: file\n        ignore: [colour]\n"))


def test_a_download_set_aside_is_replayed_from_its_copy_after_upstream_moved_on(
    upstream: tuple[str, dict[str, Any]], warehouse: str, make_project: Callable[..., Path]
) -> None:
    url, state = upstream
    state["files"]["people.csv"] = OLD
    root = make_project(project(warehouse, f"{url}/files/people.csv?v=1"))
    first = run_pipeline(load_project(root), "p")
    assert first.status == "succeeded_with_quarantine", first.errors
    state["files"]["people.csv"] = NEW  # upstream moved on
    calls = state["calls"]
    ignore_colour(root)
    (again,) = replay(load_project(root))
    assert again.status == "succeeded", again.errors
    assert ids(root) == [1, 2]  # the rows set aside, not today's file
    assert state["calls"] == calls  # nothing downloaded
    assert again.streams["s"].files[0]["file"] == f"{url}/files/people.csv?v=1"


def test_a_zip_member_of_a_download_is_replayed_from_its_copy(
    upstream: tuple[str, dict[str, Any]], make_project: Callable[..., Path]
) -> None:
    url, state = upstream
    state["files"]["drop.zip"] = zipped({"ok.csv": "id,name\n9,kept\n", "dir/b.csv": OLD})
    root = make_project(project("sqlite:///w.db", f"{url}/files/drop.zip"))
    first = run_pipeline(load_project(root), "p")
    assert first.status == "succeeded_with_quarantine", first.errors
    assert first.streams["s"].quarantined_files[0]["file"] == f"{url}/files/drop.zip!dir/b.csv"
    state["files"]["drop.zip"] = zipped({"ok.csv": "id,name\n9,kept\n", "dir/b.csv": NEW})
    calls = state["calls"]
    ignore_colour(root)
    (again,) = replay(load_project(root))
    assert again.status == "succeeded", again.errors
    assert ids(root) == [1, 2, 9]
    assert state["calls"] == calls


def test_a_file_given_with_file_to_a_url_source_is_replayed_from_its_copy(
    upstream: tuple[str, dict[str, Any]],
    warehouse: str,
    make_project: Callable[..., Path],
    tmp_path: Path,
) -> None:
    url, state = upstream
    state["files"]["people.csv"] = NEW
    root = make_project(project(warehouse, f"{url}/files/people.csv"))
    given = tmp_path / "elsewhere" / "people-old.csv"
    given.parent.mkdir()
    given.write_text(OLD)
    first = run_pipeline(load_project(root), "p", file=str(given))
    assert first.status == "succeeded_with_quarantine", first.errors
    given.unlink()  # the drop folder was cleaned up
    ignore_colour(root)
    (again,) = replay(load_project(root))
    assert again.status == "succeeded", again.errors
    assert ids(root) == [1, 2]
    assert state["calls"] == 0  # the url was never fetched


def test_a_copy_that_is_gone_says_how_to_load_the_file_and_that_closes_the_entry(
    make_project: Callable[..., Path], tmp_path: Path
) -> None:
    root = make_project(
        project("sqlite:///w.db", "http://127.0.0.1:9/unused.csv").replace(
            "url: http://127.0.0.1:9/unused.csv", "path: data/*.csv"
        ),
        {"data/people.csv": OLD},
    )
    first = run_pipeline(load_project(root), "p")
    assert first.status == "succeeded_with_quarantine", first.errors
    kept = tmp_path / "kept.csv"
    kept.write_text(OLD)
    for copy in (root / ".sluice" / "deadletter").rglob("*.csv"):
        copy.unlink()  # the dead letter was cleaned up by hand
    ignore_colour(root)
    (again,) = replay(load_project(root))
    assert again.status == "failed"
    (err,) = again.errors
    assert "the dead-letter copy of data/people.csv is gone" in err["message"]
    command = err["hint"].split("`")[1].replace("PATH", str(kept)).split()
    assert command[:2] == ["sluice", "run"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    done = processes.run(
        [sys.executable, "-m", *command, "-p", str(root)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert ids(root) == [1, 2]
    store = StateStore(load_project(root).state_url())
    try:
        (entry,) = store.quarantined(pipeline="p", status=None)
    finally:
        store.close()
    assert entry.status == "superseded"  # the same content loaded: nothing left to replay
