"""`sluice run` on Celery workers shows its progress as an inline run does: lines (or
JSON Lines) on stderr without a terminal, read from the state store while real `sluice
worker`s load the parts (Redis, PostgreSQL)."""

from __future__ import annotations

import json
import re
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


def reading_stderr(run: subprocess.Popen[str]) -> tuple[list[str], threading.Thread]:
    """The lines ``run`` writes to stderr, gathered as they come by a reader thread."""
    assert run.stderr is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(run.stderr or ()), daemon=True)
    reader.start()
    return lines, reader


def test_lines_on_stderr_while_the_workers_load(on_redis: Cluster, tmp_path: Path) -> None:
    c = on_redis
    leads_drop(c.root, files=FILES, rows=ROWS)
    gate = Gate(tmp_path / "gate")  # the workers' loads wait at their first batch
    c.start(1, extra_env=dict([gate.env]))
    run = launch(c, "--executor", "celery", "--progress", "lines")
    lines, reader = reading_stderr(run)
    try:
        gate.wait_reached()
        deadline = time.monotonic() + 30
        # the held part told its first batch: its rows, and bytes of the stream's
        going = re.compile(
            rf" source1: load, {ROWS} rows, .* kB \(\d+%\)(, ETA [\d:]+)?, 0 of {FILES} parts$"
        )
        while not any(going.search(line) for line in lines):
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
    waiting = re.compile(
        r" source3: queued, 0 rows, 0 rows/s, 0\.0 of [\d.]+ kB \(0%\), 0 of 1 part$"
    )
    assert any(waiting.search(line) for line in held), held
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


BIG = 20_000  # rows of source1's one file: about 4 MB, read in batches of 256 KiB


@pytest.mark.parametrize("mode", ["lines", "json"])
def test_a_stream_of_one_big_file_shows_its_part_going(
    on_redis: Cluster, tmp_path: Path, mode: str
) -> None:
    c = on_redis
    leads_drop(c.root, files=1, rows=BIG)
    yaml = c.root / "sluice.yaml"
    path = "        path: data/source1/*.csv\n"
    yaml.write_text(yaml.read_text().replace(path, path + "        batch_bytes: 262144\n", 1))
    gate = Gate(tmp_path / "gate")  # every load waits at each batch until it opens
    c.start(2, extra_env=dict([gate.env]))
    run = launch(c, "--executor", "celery", "--progress", mode, *["--json"] * (mode == "json"))
    lines, reader = reading_stderr(run)
    try:
        gate.wait_reached()
        deadline = time.monotonic() + 30
        while not (going := _source1_going(lines, mode)):
            assert time.monotonic() < deadline and run.poll() is None, [*lines, c.log(0)]
            time.sleep(0.05)
        assert run.poll() is None  # its one part is still held at its first batch
    finally:
        gate.open()
    if run.stdout is not None:  # stderr is the reader's
        run.stdout.read()
    run.wait(120)
    reader.join(10)
    assert run.returncode == 3, "".join(lines) + c.log(0) + c.log(1)
    rows, percent = going
    # its first batch is small: a line may round its percent down to 0
    assert 0 < rows < BIG and (0 if mode == "lines" else 0.01) <= percent < 100, lines
    if mode == "json":
        ends = [json.loads(line) for line in lines if '"source1"' in line]
        assert (ends[-1]["stage"], ends[-1]["rows"], ends[-1]["percent"]) == ("done", BIG, 100)
        size = next((c.root / "data" / "source1").glob("*.csv")).stat().st_size
        assert ends[-1]["bytes"] == ends[-1]["size"] == size  # the plan knew its file's


def _source1_going(lines: list[str], mode: str) -> tuple[int, float] | None:
    """Rows and percent of source1 in a line written while its one part loads."""
    for line in lines:
        if mode == "json":
            doc = json.loads(line)
            if doc["stream"] == "source1" and doc["stage"] == "load" and doc["rows"]:
                assert doc["parts_ended"] == 0 and doc["parts"] == 1, doc
                assert 0 < doc["bytes"] < doc["size"] and doc["eta"] is not None, doc
                return doc["rows"], doc["percent"]
        elif found := re.search(
            r" source1: load, ([1-9][\d,]*) rows, .* MB \((\d+)%\).*, 0 of 1 part$", line
        ):
            return int(found[1].replace(",", "")), float(found[2])
    return None
