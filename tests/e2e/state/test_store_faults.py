"""The state store failing under a run: said as the state store's failure in one line
with an exit code (never a traceback, never blamed on the warehouse), and a dropped
connection to it reconnected without the run noticing."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from sluice.config import load_project
from sluice.destinations import connect
from sluice.destinations.sql import SqlDestination
from sluice.errors import StateStoreError
from sluice.state.faults import retrying
from sluice.state.store import StateStore
from sluice.testing import processes

PROJECT = """
warehouse: sqlite:///w.db
state: {state}
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


def rows(n: int, bad_every: int = 2) -> str:
    """``n`` rows, one in ``bad_every`` with an id that is not a number (quarantined)."""
    return "id,name\n" + "".join(
        f"{'x' if i % bad_every == 0 else ''}{i},name {i} padded to take some room\n"
        for i in range(n)
    )


def sluice(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return processes.run(
        [sys.executable, "-m", "sluice", *args, "-p", str(root)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "250"},
        cwd=root,
    )


def said(cli: subprocess.CompletedProcess[str]) -> str:
    return cli.stdout + cli.stderr


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 600 KiB tmpfs: a disk the state store fills (needs root, as CI runs)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = processes.run(
        ["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip()}")
    try:
        yield mount
    finally:
        processes.run(["umount", "-l", str(mount)], check=False)


def test_a_full_or_read_only_state_store_is_one_line_naming_it(
    make_project: Callable[..., Path], tiny_disk: Path
) -> None:
    root = make_project(
        PROJECT.format(state=f"sqlite:///{tiny_disk / 'state.db'}"), {"data/a.csv": rows(20_000)}
    )
    full = sluice(root, "run", "p")
    assert full.returncode == 1, said(full)
    assert "Traceback" not in said(full)
    assert "loading table" not in said(full)  # not the warehouse's fault
    where = f"sqlite:///{tiny_disk / 'state.db'}"
    assert f"the state store ({where}) failed: database or disk is full" in " ".join(
        said(full).split()
    )
    assert "hint: free space on the disk that holds it" in said(full)

    processes.run(["mount", "-o", "remount,ro", str(tiny_disk)], check=True)
    readonly = sluice(root, "run", "p")
    assert readonly.returncode == 1
    lines = readonly.stderr.strip().splitlines()
    assert lines[0].startswith("error: the state store") and "readonly database" in lines[0]
    assert lines[1].strip().startswith("hint: make its file")
    assert len(lines) == 2, readonly.stderr

    # With room again, the next run loads the file whole: nothing was half done.
    processes.run(["mount", "-o", "remount,rw,size=64m", str(tiny_disk)], check=True)
    again = sluice(root, "run", "p", "--json")
    assert again.returncode == 3, said(again)
    report = json.loads(again.stdout)
    assert report["totals"]["loaded"] == 10_000 and report["totals"]["quarantined"] == 10_000
    store = StateStore(load_project(root).state_url())
    try:
        assert len(store.quarantined(pipeline="p")) == 10_000
    finally:
        store.close()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes read-only files (tested on a tmpfs)")
def test_a_read_only_state_store_file_is_one_line_naming_it(
    make_project: Callable[..., Path],
) -> None:
    root = make_project(PROJECT.format(state="sqlite:///state/state.db"), {"data/a.csv": rows(10)})
    assert sluice(root, "run", "p").returncode == 3
    for f in (root / "state").iterdir():
        f.chmod(0o444)
    (root / "state").chmod(0o555)
    try:
        cli = sluice(root, "run", "p")
    finally:
        (root / "state").chmod(0o755)
    assert cli.returncode == 1 and "Traceback" not in cli.stderr
    assert cli.stderr.startswith("error: the state store"), cli.stderr


def state_backends(pid: int, admin: object) -> list[int]:
    """The PostgreSQL backends serving process ``pid`` (its warehouse is SQLite, so
    these are its state store's), found by the local ports of its sockets."""
    inodes = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except FileNotFoundError:  # it has ended
        return []
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[9] in inodes:
                    ports.append(int(fields[1].rsplit(":", 1)[1], 16))
    if not ports:
        return []
    found = admin.execute(  # type: ignore[attr-defined]
        "SELECT pid FROM pg_stat_activity WHERE client_port = ANY(%s)", (ports,)
    ).fetchall()
    return [r[0] for r in found]


def test_a_dropped_state_store_connection_is_reconnected_mid_run(
    make_project: Callable[..., Path], pg_url: str, pg_admin: object
) -> None:
    n = 300_000
    root = make_project(PROJECT.format(state=f'"{pg_url}"'), {"data/a.csv": rows(n, 10)})
    proc = processes.Popen(
        [sys.executable, "-m", "sluice", "run", "p", "-p", str(root), "--json"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    store = StateStore(pg_url)
    dropped = 0
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            runs = store.runs("p", 1)
            if runs and store.stages(runs[0].id):  # rows are streaming into the load
                break
            time.sleep(0.05)
        for _ in range(2):  # twice, while it loads and quarantines
            backends = state_backends(proc.pid, pg_admin)
            for b in backends:
                pg_admin.execute("SELECT pg_terminate_backend(%s)", (b,))  # type: ignore[attr-defined]
            dropped += len(backends)
            time.sleep(0.3)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert dropped, "no state store connection was dropped: the run ended too soon"
    assert proc.returncode == 3, err
    # At most a line per dropped connection from the pool or the driver, no traceback.
    assert "Traceback" not in err and not any(line.startswith(" ") for line in err.splitlines())
    report = json.loads(out)
    assert (report["totals"]["loaded"], report["totals"]["quarantined"]) == (n * 9 // 10, n // 10)
    dest = connect(load_project(root).warehouse_url())
    assert isinstance(dest, SqlDestination)
    try:
        assert dest.count("items") == n * 9 // 10
    finally:
        dest.close()
    assert len(store.quarantined(pipeline="p")) == n // 10
    store.close()


def test_a_call_whose_connection_dropped_is_made_again_but_not_after_a_commit() -> None:
    calls: list[str] = []

    def flaky(after_commit: bool) -> str:
        calls.append("call")
        if len(calls) < 3:
            raise StateStoreError("lost", dropped=not after_commit)
        return "done"

    assert retrying(flaky)(False) == "done" and len(calls) == 3
    calls.clear()
    with pytest.raises(StateStoreError):
        retrying(flaky)(True)
    assert len(calls) == 1


def test_the_state_store_error_names_the_store_not_the_warehouse(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    store = StateStore(url)
    try:
        with store.engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE sluice_events"))
        with pytest.raises(StateStoreError) as caught:
            store.log(store.start_run("p"), "info", "hello")
        assert str(caught.value) == f"the state store ({url}) failed: no such table: sluice_events"
        assert caught.value.hint and "SLUICE_STATE_URL" in caught.value.hint
    finally:
        store.close()


def test_a_state_store_that_cannot_be_reached_says_so(tmp_path: Path) -> None:
    from sluice.errors import StateError

    url = f"postgresql://nobody@127.0.0.1:1/{uuid.uuid4().hex}"
    with pytest.raises(StateError) as caught:
        StateStore(url)
    assert str(caught.value).startswith(f"cannot open the state store {url}: ")


def test_a_connection_dropped_inside_together_makes_the_whole_work_again(
    pg_url: str, pg_admin: object, caplog: pytest.LogCaptureFixture
) -> None:
    # A load's bookkeeping after its commit is one `together`: the server ending its
    # connection half-way (a restart, a failover) leaves none of the first try's writes,
    # and the second try writes each line once, and says it once to the logger.
    store = StateStore(pg_url)
    try:
        run_id = store.start_run("p")
        tries: list[int] = []

        def work() -> None:
            store.log(run_id, "info", "the first unit's line")
            tries.append(1)
            if len(tries) == 1:
                shared = store._shared()
                assert shared is not None
                dbapi = shared.connection().connection.dbapi_connection
                pid = dbapi.info.backend_pid  # type: ignore[union-attr]
                pg_admin.execute("SELECT pg_terminate_backend(%s)", (pid,))  # type: ignore[attr-defined]
            store.log(run_id, "info", "the second unit's line")

        with caplog.at_level(logging.INFO, logger="sluice.run"):
            store.together(work)
        assert len(tries) == 2
        said = [e.message for e in store.events(run_id)]
        assert said == ["the first unit's line", "the second unit's line"]
        mirrored = [r.getMessage() for r in caplog.records if r.name == "sluice.run"]
        assert mirrored.count("the first unit's line") == 1
        assert mirrored.count("the second unit's line") == 1
    finally:
        store.close()
