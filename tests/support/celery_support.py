"""Real Celery workers for tests: `sluice worker` processes on Redis or RabbitMQ.

Each test gets its own queue, so a stray task of another test is never taken, and
fresh PostgreSQL schemas for the state store and the warehouse.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from sluice.testing import processes

BROKERS = {
    "redis": os.environ.get("SLUICE_TEST_REDIS", "redis://127.0.0.1:6379/13"),
    "rabbitmq": os.environ.get("SLUICE_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672//"),
}
PG_BASE = os.environ.get("SLUICE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REPO = Path(__file__).parents[2]
LEADS = REPO / "examples" / "leads"


def broker_or_skip(name: str) -> str:
    """The broker's URL; skip (or fail, under SLUICE_REQUIRE_SERVICES=1) when it is down."""
    from kombu import Connection

    url = BROKERS[name]
    try:
        with Connection(url, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1, timeout=3)
    except Exception as exc:
        reason = f"{name} broker not reachable at {url}: {exc}"
        if os.environ.get("SLUICE_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{reason} (SLUICE_REQUIRE_SERVICES=1, so this is a failure)")
        pytest.skip(reason)
    return url


@dataclass
class Cluster:
    """Workers of one project on one queue, and the environment that reaches them."""

    root: Path
    env: dict[str, str]
    logs: Path
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(
        self,
        n: int = 2,
        *,
        pool: str = "prefork",
        extra_env: dict[str, str] | None = None,
        point: str | None = None,
        fresh: bool = False,
    ) -> None:
        """Start ``n`` workers (one slot each) and wait until each says it is ready.
        ``point``: armed with that kill point (:mod:`tests.support.killpoints`).
        ``fresh``: each a process started anew, not forked from the tests' fork server
        (whose preloaded imports it would have)."""
        first = len(self.workers)
        cmd = ["tests.support.killpoints", point] if point else ["sluice"]
        env = {**self.env, **(extra_env or {})}
        if point:
            env["PYTHONPATH"] = str(REPO)
        for i in range(first, first + n):
            log = open(self.logs / f"worker{i}.log", "wb")  # noqa: SIM115 (closed at exit)
            popen = subprocess.Popen if fresh else processes.Popen
            self.workers.append(
                popen(
                    [
                        sys.executable,
                        "-m",
                        *cmd,
                        "worker",
                        "-p",
                        str(self.root),
                        "--concurrency",
                        "1",
                        "--pool",
                        pool,
                        "--name",
                        f"w{i}-{uuid.uuid4().hex[:4]}@test",
                    ],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its prefork child goes down with it
                )
            )
        deadline = time.monotonic() + 60
        for i in range(first, first + n):
            while b"ready." not in (self.logs / f"worker{i}.log").read_bytes():
                if self.workers[i].poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(self.log(i))
                time.sleep(0.1)

    def log(self, i: int) -> str:
        return (self.logs / f"worker{i}.log").read_text(errors="replace")

    def sluice(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return processes.run(
            [sys.executable, "-m", "sluice", *args, "-p", str(self.root)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def launch(self, *args: str) -> subprocess.Popen[str]:
        """A sluice command started in the background, its stdout piped."""
        return processes.Popen(
            [sys.executable, "-m", "sluice", *args, "-p", str(self.root)],
            env=self.env,
            stdout=subprocess.PIPE,
            text=True,
        )

    def stop(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.workers:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


def cluster(tmp_path: Path, pg_admin: Any, broker: str, root: Path) -> Iterator[Cluster]:
    """Fresh schemas, a queue of its own, and whatever workers the test starts."""
    url = broker_or_skip(broker)
    schemas = [f"t_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    for s in schemas:
        pg_admin.execute(f'CREATE SCHEMA "{s}"')
    queue = f"test-{uuid.uuid4().hex[:10]}"
    env = {
        **os.environ,
        "SLUICE_BROKER_URL": url,
        "SLUICE_CELERY_QUEUE": queue,
        "SLUICE_STATE_URL": f"{PG_BASE}?options=-csearch_path%3D{schemas[0]}",
        "SLUICE_WAREHOUSE_URL": f"{PG_BASE}?options=-csearch_path%3D{schemas[1]}",
    }
    logs = tmp_path / "logs"
    logs.mkdir()
    c = Cluster(root, env, logs)
    try:
        yield c
    finally:
        c.stop()
        for s in schemas:
            pg_admin.execute(f'DROP SCHEMA "{s}" CASCADE')
        if url.startswith("amqp"):
            from kombu import Connection

            with Connection(url) as conn:  # queues are durable: leave none behind
                conn.default_channel.queue_delete(queue)


def leads_drop(root: Path, files: int, rows: int) -> int:
    """A copy of examples/leads whose source1 folder holds ``files`` distinct files of
    ``rows`` rows each (the example's rows, cycled, with unique license numbers);
    the number of rows written."""
    import shutil

    shutil.copytree(LEADS, root, ignore=shutil.ignore_patterns(".sluice", "*.db"))
    folder = root / "data" / "source1"
    sample = next(folder.glob("*.csv"))
    base = pl.read_csv(sample, infer_schema=False, encoding="utf8-lossy")
    sample.unlink()
    reps = -(-rows // base.height)
    cycled = pl.concat([base] * reps).head(rows)
    license_col = base.columns[0]
    for f in range(files):
        numbers = pl.Series([f"{10_000_000 + f * rows + i}" for i in range(rows)])
        part = cycled.with_columns(numbers.alias(license_col))
        part.write_csv(folder / f"leads_{f:04d}.csv")
    return files * rows


def add_to_pipeline(root: Path, line: str) -> None:
    """Add a key to the `leads` pipeline of the project in ``root`` (e.g. ``watch: data``)."""
    path = root / "sluice.yaml"
    path.write_text(path.read_text().replace("  leads:\n", f"  leads:\n    {line}\n", 1))


def small_drop(root: Path, files: int) -> None:
    """``files`` CSV files of two ids each (f0.csv: 1 and 2, f1.csv: 11 and 12, ...) in
    ``root/data``, and a project whose pipeline ``p`` appends them to table ``t``."""
    (root / "data").mkdir()
    for i in range(files):
        (root / "data" / f"f{i}.csv").write_text(f"id\n{10 * i + 1}\n{10 * i + 2}\n")
    (root / "sluice.yaml").write_text(
        "pipelines:\n  p:\n    sources:\n      s: {type: file, path: 'data/*.csv'}\n"
        "    table: {name: t, columns: {id: integer}}\n"
    )
