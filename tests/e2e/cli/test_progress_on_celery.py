"""`sluice run` on Celery workers shows its progress as an inline run does: lines (or
JSON Lines) on stderr without a terminal, read from the state store while real `sluice
worker`s load the parts (Redis, PostgreSQL)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sluice.testing import Gate, processes
from tests.support.celery_support import Cluster, cluster, leads_drop

FILES, ROWS = 6, 40  # source1's parts; source2 has 2 files, source3 1


@pytest.fixture
def on_redis(tmp_path: Path, pg_admin: Any) -> Iterator[Cluster]:
    yield from cluster(tmp_path, pg_admin, "redis", tmp_path / "leads")


def launch(c: Cluster, *args: str) -> subprocess.Popen[str]:
    env = {**c.env, "SLUICE_PROGRESS_EVERY": "0.1", "COLUMNS": "80"}
    env.pop("SLUICE_PROGRESS", None)
    return processes.Popen(
        [sys.executable, "-m", "sluice", "run", "leads", "-p", str(c.root), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_lines_on_stderr_while_the_workers_load(on_redis: Cluster, tmp_path: Path) -> None:
    c = on_redis
    leads_drop(c.root, files=FILES, rows=ROWS)
    gate = Gate(tmp_path / "gate")  # the workers' loads wait at their first batch
    c.start(1, extra_env=dict([gate.env]))
    run = launch(c, "--executor", "celery", "--progress", "lines")
    assert run.stderr is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(run.stderr or ()), daemon=True)
    reader.start()
    try:
        gate.wait_reached()
        deadline = time.monotonic() + 30
        going = f" source1: load, 0 rows, 0 rows/s, 0 of {FILES} parts\n"
        while not any(line.endswith(going) for line in lines):
            assert time.monotonic() < deadline and run.poll() is None, lines
            time.sleep(0.05)
        time.sleep(0.3)  # a few more lines while the part is held mid-load
        held = list(lines)
        assert run.poll() is None  # all said before the end
    finally:
        gate.open()
    out = run.stdout.read() if run.stdout else ""  # stderr is the reader's
    run.wait(120)
    reader.join(10)
    assert run.returncode == 3, "".join(lines) + c.log(0)  # source2 has a drifted file
    waiting = " source3: queued, 0 rows, 0 rows/s, 0 of 1 part\n"
    assert any(line.endswith(waiting) for line in held), held
    assert all(line.startswith("progress ") for line in held), held
    assert "succeeded_with_quarantine" in out  # the summary, on stdout


def test_json_lines_say_each_streams_stage_rows_and_parts(on_redis: Cluster) -> None:
    c = on_redis
    leads_drop(c.root, files=FILES, rows=ROWS)
    c.start(2)
    run = launch(c, "--executor", "celery", "--progress", "json", "--json")
    out, err = run.communicate(timeout=300)
    assert run.returncode == 3, err + c.log(0) + c.log(1)
    report = json.loads(out)  # stdout keeps the report alone
    events = [json.loads(line) for line in err.splitlines()]  # nothing else on stderr
    assert events and all(e["event"] == "progress" for e in events)
    keys = {"stream", "stage", "rows", "rows_per_s", "elapsed", "parts_ended", "parts"}
    assert all(keys <= set(e) for e in events), events
    last = {e["stream"]: e for e in events}  # the last ones: written as the run ended
    parts = {"source1": FILES, "source2": 2, "source3": 1}
    for name, stream in report["streams"].items():
        end = last[name]
        assert (end["stage"], end["rows"]) == ("done", stream["read"]), end
        assert end["parts_ended"] == end["parts"] == parts[name], end
    assert last["source1"]["rows"] == FILES * ROWS
    rows = [e["rows"] for e in events if e["stream"] == "source1"]
    assert rows == sorted(rows)  # rows only grow as parts end
