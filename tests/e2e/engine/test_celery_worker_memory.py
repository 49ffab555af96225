"""A prefork `sluice worker`: the data plane is imported by its pool children, after
the fork, so that their memory allocators run with their background threads.

A child forked from a process that had imported Polars and PyArrow has none of
jemalloc's background threads (jemalloc stops them in a child and never starts them
again): the memory its loads free is handed back and faulted in again by the loading
threads, 720-740k page faults against 240-270k for the Celery bench's 120 files.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.celery_support import Cluster, cluster, leads_drop

#: the libraries of the data plane, as a process maps them once imported
POLARS, ARROW = "_polars_runtime", "libarrow.so"


@pytest.fixture
def on_redis(tmp_path: Path, pg_admin: Any) -> Iterator[Cluster]:
    yield from cluster(tmp_path, pg_admin, "redis", tmp_path / "leads")


def _maps(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


def _threads(pid: int) -> list[str]:
    return [(t / "comm").read_text().strip() for t in Path(f"/proc/{pid}/task").iterdir()]


def _child(pid: int) -> int:
    kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    assert len(kids) == 1, f"a worker of concurrency 1 has one pool child, not {kids}"
    return int(kids[0])


def test_a_prefork_workers_children_import_the_engine_after_the_fork(
    on_redis: Cluster,
) -> None:
    c = on_redis
    leads_drop(c.root, files=2, rows=300)
    c.start(1, pool="prefork", fresh=True)
    main = c.workers[0].pid
    child = _child(main)
    # The child imports the engine as it starts (Celery's worker_process_init).
    deadline = time.monotonic() + 60
    while POLARS not in _maps(child) or ARROW not in _maps(child):
        assert time.monotonic() < deadline, "the pool child never imported the engine"
        time.sleep(0.2)
    parent = _maps(main)
    assert POLARS not in parent and ARROW not in parent, "the main process imported the engine"
    # Its allocators started in it, with their background threads (none after a fork).
    assert "jemalloc_bg_thd" in _threads(child), _threads(child)

    done = c.sluice("run", "leads", "--executor", "celery", "--json")
    assert done.returncode in (0, 3), done.stderr + c.log(0)
    report = json.loads(done.stdout)
    assert report["streams"]["source1"]["read"] == 600  # the drop's two files
    t = report["totals"]
    assert t["read"] == t["loaded"] + t["quarantined"] + t["filtered"] and t["loaded"]
    assert _child(main) == child  # the same child carried the parts out
    assert POLARS not in _maps(main)
