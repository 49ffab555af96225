"""A SQLite load's file is written back to disk while the load runs, so its commit's
``fsync`` has little left to write (:mod:`sluice.destinations.writeback`)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from sluice.destinations import connect, sqlite, writeback
from sluice.destinations.writeback import Writeback
from sluice.schema import ColumnSpec, TableSpec

MIB = 1 << 20


def _wait_for(check: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_a_file_that_grew_by_the_step_is_written_back_and_one_that_did_not_is_not(
    tmp_path: Path,
) -> None:
    path = tmp_path / "grows.db"
    path.write_bytes(b"")
    back = Writeback(str(path), every=MIB)
    try:
        with path.open("ab") as f:
            f.write(b"x" * (MIB // 2))
            f.flush()
        back.grew()  # half the step: nothing asked
        time.sleep(0.2)
        assert back.flushes == 0
        with path.open("ab") as f:
            f.write(b"x" * MIB)
            f.flush()
        back.grew()
        _wait_for(lambda: back.flushes == 1)
        assert back.flushes == 1
        back.grew()  # no growth since the last request
        time.sleep(0.2)
        assert back.flushes == 1
    finally:
        back.close()
    assert not back._thread.is_alive()


def test_a_sqlite_load_writes_its_file_back_as_it_goes_and_loads_every_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[Writeback] = []

    class Seen(Writeback):
        def __init__(self, path: str, every: int | None = None) -> None:
            super().__init__(path, every)
            made.append(self)

        def grew(self) -> None:
            super().grew()
            # Each batch's request is picked up before the next batch is written (a
            # test of the requests, not of the kernel's speed).
            _wait_for(lambda: not self._wake.is_set())

    monkeypatch.setattr(sqlite, "Writeback", Seen)
    monkeypatch.setattr(writeback, "EVERY", 64 * 1024)
    db = tmp_path / "w.db"
    spec = TableSpec("t", [ColumnSpec("id", "integer"), ColumnSpec("name", "string")])
    dest = connect(f"sqlite:///{db}")
    try:
        dest.prepare(spec, "append")
        batches = [
            pl.DataFrame(
                {
                    "id": range(i, i + 20_000),
                    "name": [f"name {n:08d} {'x' * 40}" for n in range(20_000)],
                }
            )
            for i in range(0, 200_000, 20_000)
        ]
        assert dest.load(spec, "append", "k1", batches).rows == 200_000
    finally:
        dest.close()
    assert len(made) == 1
    assert made[0].flushes >= 3  # ~14 MB written past a 2 MB page cache, a request per 64 KiB
    assert not made[0]._thread.is_alive()
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT id) FROM t").fetchone() == (
            200_000,
            200_000,
        )
