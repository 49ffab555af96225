"""One ``LOAD DATA LOCAL INFILE`` per table of a load, fed batch by batch through a pipe.

The statement names a named pipe (FIFO) in the destination's spool folder. The server
asks the client for that "file"; PyMySQL opens the pipe and sends what it reads until
the pipe's writer closes it. Each batch's CSV goes into the pipe as it comes, from a
thread of its own (``sluice-load-feed``), while the statement runs on another
(``sluice-load-data``): the server parses rows without a pause between batches, and the
next batch is encoded meanwhile, as PostgreSQL's one ``COPY`` per load
(:mod:`sluice.destinations.pg_copy`). A statement per batch, each batch's CSV written to a
file first, cost the bench's 1M-row load 53 statements and a pause of 2-5 ms between
each two (bench/README.md, thirty-second round).

Nothing is written into the pipe before the server has asked for it: a server that
refuses local files says so instead (:meth:`LoadStream.open` returns False), and the
caller inserts the batch. Once the pipe's reader is gone (the statement failed), the
feed stops; :meth:`LoadStream.finish` raises the statement's error. A load that fails
upstream :meth:`LoadStream.abort` s: the pipe is closed, the statement ends with the rows
sent so far, and the caller rolls the transaction back.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import errno
import os
import queue
import threading
from collections.abc import Callable
from pathlib import Path

import pymysql

#: the feed writes at most this many bytes at a time, so that an abort stops it soon
WRITE_AT_MOST = 1 << 20
#: batches encoded and waiting for the pipe, besides the one being written
QUEUED = 1
#: seconds between looks for the statement's reader of the pipe: at first (a server
#: round trip), and at most (a statement that waits for a lock on the table may wait
#: long; looking 2,000 times a second meanwhile would cost a core a tenth of its time)
OPEN_POLL = 0.0005
OPEN_POLL_MAX = 0.05


class LoadStream:
    """A ``LOAD DATA LOCAL INFILE`` reading the pipe at ``path``, run by ``pool``.

    ``statement(path)`` runs the statement and returns the rows it loaded (raising on
    any warning); :meth:`send` writes a batch's CSV, :meth:`finish` ends the statement.
    ``table``: what its errors name (a load may write several tables).
    """

    def __init__(
        self,
        path: Path,
        statement: Callable[[str], int],
        pool: concurrent.futures.Executor,
        table: str = "",
    ) -> None:
        self.path = path
        self.table = table
        os.mkfifo(path, 0o600)
        self.rows = 0
        self._queue: queue.Queue[memoryview | None] = queue.Queue(maxsize=QUEUED)
        self._stop = threading.Event()
        self._feeder: threading.Thread | None = None
        self._fd: int | None = None
        self._done = False
        try:
            self.statement = pool.submit(statement, os.fspath(path))
        except BaseException:
            self._unlink()
            raise

    def open(self) -> bool:
        """Wait until the statement opens the pipe (True), or ends without doing so
        (False: refused or failed, see :attr:`statement`)."""
        pause = OPEN_POLL
        while True:
            try:
                # Non-blocking: with no reader yet, the open fails (ENXIO) at once
                # rather than waiting for one that may never come.
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno != errno.ENXIO:
                    raise
                done, _ = concurrent.futures.wait([self.statement], timeout=pause)
                if done:
                    self._unlink()
                    return False
                pause = min(2 * pause, OPEN_POLL_MAX)
                continue
            os.set_blocking(fd, True)
            self._fd = fd
            self._feeder = threading.Thread(target=self._feed, name="sluice-load-feed", daemon=True)
            self._feeder.start()
            return True

    def send(self, payload: memoryview, rows: int) -> None:
        """Queue a batch's CSV (``rows`` rows) for the pipe; waits while one is queued.
        A statement that stopped reading raises its error here."""
        while self._feeder is not None and self._feeder.is_alive():
            try:
                self._queue.put(payload, timeout=0.1)
                self.rows += rows
                return
            except queue.Full:
                continue
        self.finish()  # the feed is gone: the statement ended, its outcome says why
        raise pymysql.err.OperationalError(
            0, f"{self._named}LOAD DATA stopped reading before the load's end"
        )

    def finish(self) -> int:
        """Close the pipe and wait for the statement: the rows it loaded, which must
        be the rows sent."""
        if self._done:
            return self.rows
        self._done = True
        self._close_feed()
        try:
            loaded = self.statement.result()
        finally:
            self._unlink()
        if loaded != self.rows:
            raise pymysql.err.DataError(0, f"{self._named}{loaded} of {self.rows} rows loaded")
        return loaded

    @property
    def _named(self) -> str:
        return f"{self.table}: " if self.table else ""

    def abort(self) -> None:
        """Stop feeding and wait for the statement, whatever its outcome: the load is
        being abandoned and its transaction will be rolled back."""
        if self._done:
            return
        self._done = True
        self._stop.set()
        with contextlib.suppress(queue.Empty):
            while True:  # what is queued will not be sent
                self._queue.get_nowait()
        if self._feeder is None:
            self._release_reader()
        self._close_feed()
        with contextlib.suppress(BaseException):
            self.statement.result()
        self._unlink()

    def _release_reader(self) -> None:
        """Never opened for writing (stopped in :meth:`open`): a reader of the pipe
        would wait for a writer for good, so open it and close it at once (the
        statement reads an empty file), unless the statement ended first."""
        while not self.statement.done():
            try:
                os.close(os.open(self.path, os.O_WRONLY | os.O_NONBLOCK))
                return
            except OSError as exc:
                if exc.errno != errno.ENXIO:
                    return
                concurrent.futures.wait([self.statement], timeout=OPEN_POLL)

    def _close_feed(self) -> None:
        if self._feeder is None:
            return
        while self._feeder.is_alive():
            try:
                self._queue.put(None, timeout=0.1)  # the end of the rows
                break
            except queue.Full:
                continue
        self._feeder.join()

    def _feed(self) -> None:
        fd = self._fd
        assert fd is not None
        try:
            while (payload := self._queue.get()) is not None:
                while payload and not self._stop.is_set():
                    written = os.write(fd, payload[:WRITE_AT_MOST])
                    payload = payload[written:]
        except OSError:  # EPIPE: the statement closed the pipe; finish() says why
            pass
        finally:
            os.close(fd)  # the statement reads the end of its "file"

    def _unlink(self) -> None:
        with contextlib.suppress(OSError):
            self.path.unlink()
