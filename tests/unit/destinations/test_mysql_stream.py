"""A LOAD DATA fed through a named pipe (sluice.destinations.mysql_stream), with the
statement played by a thread that reads the pipe as PyMySQL does: every way it ends
leaves no thread waiting and no pipe behind."""

from __future__ import annotations

import concurrent.futures
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymysql
import pytest

from sluice.destinations.mysql_stream import LoadStream

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")


@pytest.fixture
def pool() -> Iterator[concurrent.futures.ThreadPoolExecutor]:
    with concurrent.futures.ThreadPoolExecutor(1) as p:
        yield p


class Reader:
    """The statement: opens the pipe as PyMySQL opens a LOCAL file and reads it to the
    end in 16 KiB pieces; its "rows" are the lines it read."""

    def __init__(self, stop_after: int | None = None, refuse: bool = False) -> None:
        self.data = b""
        self.stop_after, self.refuse = stop_after, refuse
        self.asked = threading.Event()

    def __call__(self, name: str) -> int:
        self.asked.set()
        if self.refuse:
            raise pymysql.err.OperationalError(4166, "LOAD DATA LOCAL is not allowed")
        with open(name, "rb") as f:
            while chunk := f.read(16384):
                self.data += chunk
                if self.stop_after is not None and len(self.data) >= self.stop_after:
                    raise pymysql.err.OperationalError(1317, "Query execution was interrupted")
        return self.data.count(b"\n")


def rows(n: int, start: int = 0) -> memoryview:
    return memoryview(b"".join(b"%d,row\n" % i for i in range(start, start + n)))


def test_batches_reach_the_statement_in_order_through_one_pipe(
    tmp_path: Path, pool: concurrent.futures.Executor
) -> None:
    reader = Reader()
    stream = LoadStream(tmp_path / "p.csv", reader, pool)
    assert stream.open()
    for i in range(5):
        stream.send(rows(40_000, i * 40_000), 40_000)
    assert stream.finish() == 200_000
    assert reader.data == bytes(rows(200_000))
    assert not (tmp_path / "p.csv").exists()


def test_a_refusal_before_the_pipe_is_read_is_told_and_nothing_is_written(
    tmp_path: Path, pool: concurrent.futures.Executor
) -> None:
    stream = LoadStream(tmp_path / "p.csv", Reader(refuse=True), pool)
    assert stream.open() is False
    assert isinstance(stream.statement.exception(), pymysql.err.OperationalError)
    assert not (tmp_path / "p.csv").exists()


def test_a_statement_that_stops_reading_fails_the_next_send_or_the_finish(
    tmp_path: Path, pool: concurrent.futures.Executor
) -> None:
    stream = LoadStream(tmp_path / "p.csv", Reader(stop_after=100_000), pool)
    assert stream.open()
    with pytest.raises(pymysql.err.OperationalError, match="interrupted"):
        for i in range(50):  # far more than the pipe holds: a send finds it gone
            stream.send(rows(40_000, i * 40_000), 40_000)
        stream.finish()
    assert not (tmp_path / "p.csv").exists()


def test_rows_lost_on_the_way_fail_the_finish(
    tmp_path: Path, pool: concurrent.futures.Executor
) -> None:
    stream = LoadStream(tmp_path / "p.csv", lambda name: Reader()(name) - 1, pool, "leads")
    assert stream.open()
    stream.send(rows(10), 10)
    with pytest.raises(pymysql.err.DataError, match=r"leads: 9 of 10 rows loaded"):
        stream.finish()


@pytest.mark.parametrize("opened", [True, False])
def test_an_abort_ends_the_statement_opened_or_not(
    tmp_path: Path, pool: concurrent.futures.Executor, opened: bool
) -> None:
    """The load failed upstream (or Ctrl-C while the pipe was being opened): the
    statement ends with what it was sent, and nothing waits on the pipe."""
    reader = Reader()
    stream = LoadStream(tmp_path / "p.csv", reader, pool)
    if opened:
        assert stream.open()
        stream.send(rows(1_000), 1_000)
    else:
        assert reader.asked.wait(5)  # the reader waits for a writer that never came
    stream.abort()
    assert stream.statement.done()
    # what was queued may or may not have gone: a part of the rows, from the first
    assert bytes(rows(1_000) if opened else b"").startswith(reader.data)
    assert not (tmp_path / "p.csv").exists()


def test_a_statement_slow_to_ask_for_its_rows_is_not_polled_hard(
    tmp_path: Path, pool: concurrent.futures.Executor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A LOAD DATA waiting for a lock on its table asks for the pipe late: looking for
    it backs off instead of trying 2,000 times a second."""
    reader = Reader()

    def late(name: str) -> int:
        time.sleep(0.5)
        return reader(name)

    tries = 0
    real_open = os.open

    def counted(path: Any, flags: int, *args: Any) -> int:
        nonlocal tries
        tries += 1
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", counted)
    stream = LoadStream(tmp_path / "p.csv", late, pool)
    assert stream.open()
    stream.send(rows(10), 10)
    assert stream.finish() == 10
    assert tries < 30  # 0.5 s at a steady 0.5 ms: ~1,000
