"""One run of a pipeline at a time, whatever starts it: a second `sluice run` is refused
(saying who has the pipeline) or, with --wait, waits its turn; a replay waits or is
refused alike; two started at the same moment load once; a killed holder blocks no one.
Real processes on SQLite and PostgreSQL state stores."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sluice.config import load_project
from sluice.destinations import connect
from sluice.destinations.sql import SqlDestination
from sluice.errors import RunConflict
from sluice.executors.local import LocalExecutor
from sluice.state.store import StateStore
from sluice.testing import Gate, processes
from tests.support.at_once import at_once

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
    destination: {{mode: {mode}}}
"""
N, BAD = 20_000, 2_000  # rows of the file; one in ten has an id that is not a number

#: `sluice ...` whose first load waits for a gate file: a run that holds its pipeline
#: for as long as the test wants (it says so in a file `holding` beside the gate).
GATED = """
import pathlib, sys, time
from sluice.engine.load import Loader

gate = pathlib.Path(sys.argv[1])
load = Loader.load

def gated(self, planned):
    # Written then renamed: the test reads it as soon as it exists, never half-written.
    (gate.parent / "holding.tmp").write_text(self.ctx.run_id)
    (gate.parent / "holding.tmp").rename(gate.parent / "holding")
    while not gate.exists():
        time.sleep(0.02)
    return load(self, planned)

Loader.load = gated
from sluice.cli.app import main

sys.argv = ["sluice", *sys.argv[2:]]
main()
"""


def rows(n: int = N) -> str:
    return "id,name\n" + "".join(f"{'x' if i % 10 == 0 else ''}{i},name {i}\n" for i in range(n))


@pytest.fixture(params=["sqlite", "postgresql"])
def state(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        return "sqlite:///.sluice/state.db"
    return f'"{request.getfixturevalue("pg_url")}"'


@dataclass
class Project:
    root: Path

    def start(self, *args: str) -> subprocess.Popen[str]:
        return processes.Popen(
            [sys.executable, "-m", "sluice", *args, "-p", str(self.root)],
            cwd=self.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "COLUMNS": "250"},
        )

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        proc = self.start(*args)
        out, err = proc.communicate(timeout=120)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def gated(self, *args: str) -> tuple[subprocess.Popen[str], str]:
        """A `sluice ...` holding its pipeline; (the process, its run id)."""
        gate = self.root / "gate"
        gate.unlink(missing_ok=True)
        (self.root / "holding").unlink(missing_ok=True)
        proc = processes.Popen(
            [sys.executable, "-c", GATED, str(gate), *args, "-p", str(self.root)],
            cwd=self.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while not (self.root / "holding").exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.02)
        return proc, (self.root / "holding").read_text()

    def open_gate(self) -> None:
        (self.root / "gate").touch()

    def store(self) -> StateStore:
        return StateStore(load_project(self.root).state_url())

    def table(self) -> int:
        dest = connect(load_project(self.root).warehouse_url())
        assert isinstance(dest, SqlDestination)
        try:
            return dest.count("items")
        finally:
            dest.close()

    def check_whole(self, n: int = N) -> None:
        """Every good row loaded once, every bad one quarantined once."""
        assert self.table() == n - n // 10
        store = self.store()
        try:
            entries = store.quarantined(pipeline="p")
        finally:
            store.close()
        assert len(entries) == n // 10
        assert len({e.line for e in entries}) == n // 10


@pytest.fixture
def project(make_project: Callable[..., Path], state: str) -> Iterator[Project]:
    p = Project(make_project(PROJECT.format(state=state, mode="append"), {"data/a.csv": rows()}))
    yield p
    p.open_gate()  # never leave a gated process behind


def output(proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate(timeout=120)
    return out + err


def test_a_second_run_is_refused_saying_who_has_the_pipeline(project: Project) -> None:
    first, holder = project.gated("run", "p")
    second = project.cli("run", "p")
    said = " ".join((second.stdout + second.stderr).split())
    assert second.returncode == 2, said
    assert (
        f"error: pipeline 'p' is already running as run {holder} (pid {first.pid} on "
        f"{socket.gethostname()}, started " in said
    )
    assert f"UTC); wait for it or `sluice cancel {holder}`" in said
    assert "hint: or `sluice run p --wait` to start this run when it ends" in said
    store = project.store()
    try:
        assert [r.id for r in store.runs("p")] == [holder]  # the refused one left no run
    finally:
        store.close()
    project.open_gate()
    assert first.wait(120) == 3, output(first)
    project.check_whole()


def test_a_run_with_wait_starts_when_the_first_ends(project: Project) -> None:
    first, holder = project.gated("run", "p")
    second = project.start("run", "p", "--wait", "--json")
    store = project.store()
    try:
        deadline = time.monotonic() + 60
        while True:  # recorded, and waiting its turn
            waiting = [r for r in store.runs("p") if r.id != holder]
            if waiting and waiting[0].status == "queued":
                break
            assert second.poll() is None and time.monotonic() < deadline, output(second)
            time.sleep(0.05)
        assert store.run(holder).status == "running"  # type: ignore[union-attr]
        project.open_gate()
        assert first.wait(120) == 3
        out, err = second.communicate(timeout=120)
        assert second.returncode == 0, err
        report = json.loads(out)
        assert report["totals"]["read"] == 0  # the file was loaded by the first run
        log = [e.message for e in store.events(report["run_id"])]
        assert f"waiting for run {holder} of p to end (it has the pipeline)" in log
    finally:
        store.close()
    project.check_whole()


@pytest.mark.parametrize("mode", ["append", "replace"])
def test_two_runs_started_at_the_same_moment_load_once(
    make_project: Callable[..., Path],
    state: str,
    mode: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = make_project(PROJECT.format(state=state, mode=mode), {"data/a.csv": rows(N)})
    # Whichever run takes the pipeline waits at the gate with it, however fast its load:
    # the other one meets a held pipeline every time, and is refused.
    gate = Gate(tmp_path / "gate")
    monkeypatch.setenv(*gate.env)
    setup = """
        import runpy
        import sluice.cli.app  # imported before the race: the race is the runs' start
    """
    body = f"""
        sys.argv = ["sluice", "run", "p", "-p", {str(root)!r}]
        runpy.run_module("sluice", run_name="__main__")  # exits with the CLI's code
    """

    def open_once_one_is_refused(racing: list[subprocess.Popen[str]]) -> None:
        gate.wait_reached()
        deadline = time.monotonic() + 60
        while all(p.poll() is None for p in racing) and time.monotonic() < deadline:
            time.sleep(0.02)
        gate.open()

    runs = at_once(tmp_path / "race", setup, body, n=2, meanwhile=open_once_one_is_refused)
    codes = sorted(r.returncode for r in runs)
    refused = [r.stderr for r in runs if "is already running as run" in r.stderr]
    assert codes == [2, 3], runs  # one refused while the other held it; that one loaded
    assert len(refused) == 1, runs
    Project(root).check_whole(N)


def fixed_while_a_run_goes(project: Project) -> tuple[subprocess.Popen[str], str]:
    """Bad rows in quarantine, the config fixed, and a run holding the pipeline at its
    gate (with a new file to load): the run's process and id."""
    assert project.cli("run", "p").returncode == 3  # the bad rows are in quarantine
    # The fix: a step that drops the stray "x" (the column stays an integer)
    fix = "    transforms:\n      - derive: {column: id, sql: \"replace(id, 'x', '')\"}\n"
    text = (project.root / "sluice.yaml").read_text()
    (project.root / "sluice.yaml").write_text(text.replace("    table:\n", fix + "    table:\n"))
    (project.root / "data" / "b.csv").write_text("id,name\n1,b\n")
    return project.gated("run", "p")


def test_a_replay_is_refused_or_waits_while_a_run_goes(project: Project) -> None:
    first, holder = fixed_while_a_run_goes(project)

    refused = project.cli("quarantine", "replay", "--json")
    assert refused.returncode == 2  # as `sluice run` exits when the pipeline is running
    (report,) = json.loads(refused.stdout)
    (error,) = report["errors"]
    assert error["message"].startswith(f"pipeline 'p' is already running as run {holder}")
    assert error["hint"] == "or `sluice quarantine replay --wait` to start the replay when it ends"

    # The service's replays wait their turn (behind a run going anywhere).
    proj = load_project(project.root)
    store = StateStore(proj.state_url())
    executor = LocalExecutor(proj, store, processes=False)
    try:
        (submitted,) = executor.replay(pipeline="p")
        deadline = time.monotonic() + 60
        while store.run(submitted.run_id).status != "queued":  # type: ignore[union-attr]
            assert time.monotonic() < deadline
            time.sleep(0.05)
        project.open_gate()
        assert first.wait(120) == 0, output(first)
        deadline = time.monotonic() + 60
        while (run := store.run(submitted.run_id)) is not None and run.status in (
            "queued",
            "running",
        ):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert run is not None and run.status == "succeeded", run and run.report
        assert run.report["totals"]["loaded"] == BAD  # type: ignore[index]
    finally:
        executor.shutdown()
        store.close()
    assert project.table() == N + 1  # each row once: the run's, the replay's, b.csv's


def test_a_replay_with_wait_as_the_hint_says_starts_when_the_run_ends(project: Project) -> None:
    first, holder = fixed_while_a_run_goes(project)
    refused = project.cli("quarantine", "replay", "--json")
    (error,) = json.loads(refused.stdout)[0]["errors"]
    command = re.search(r"`sluice (quarantine replay --wait)`", error["hint"])
    assert command, error["hint"]
    replay = project.start(*command.group(1).split(), "--json")
    store = project.store()
    try:
        deadline = time.monotonic() + 60
        while not [r for r in store.runs("p") if r.id != holder and r.status == "queued"]:
            assert replay.poll() is None and time.monotonic() < deadline, output(replay)
            time.sleep(0.05)
    finally:
        store.close()
    project.open_gate()
    assert first.wait(120) == 0, output(first)
    out, err = replay.communicate(timeout=120)
    assert replay.returncode == 0, out + err
    (report,) = json.loads(out)
    assert report["status"] == "succeeded" and report["totals"]["loaded"] == BAD
    assert project.table() == N + 1  # each row once: the run's, the replay's, b.csv's


def test_the_service_refuses_a_trigger_while_a_run_goes_elsewhere(project: Project) -> None:
    """`if_running: reject` (409) also for a run the service did not start."""
    first, holder = project.gated("run", "p")
    proj = load_project(project.root)
    store = StateStore(proj.state_url())
    executor = LocalExecutor(proj, store, processes=False)
    try:
        with pytest.raises(RunConflict) as refused:
            executor.trigger("p", "api")
        assert str(refused.value).startswith(
            f"pipeline 'p' is already running as run {holder} (pid {first.pid} on "
        )
        assert refused.value.hint == (
            "or set `if_running: queue` on pipeline 'p' to have runs wait their turn"
        )
        assert [r.id for r in store.runs("p")] == [holder]
    finally:
        executor.shutdown()
        store.close()
    project.open_gate()
    assert first.wait(120) == 3


def test_a_killed_holder_does_not_block_the_next_run(project: Project) -> None:
    first, holder = project.gated("run", "p")
    os.kill(first.pid, signal.SIGKILL)
    first.wait(10)
    after = project.cli("run", "p")
    assert after.returncode == 3, after.stderr
    store = project.store()
    try:
        assert store.run(holder).status == "abandoned"  # type: ignore[union-attr]
    finally:
        store.close()
    project.check_whole()
