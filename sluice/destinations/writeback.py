"""A database file's pages sent to disk while its load still runs, not all at its commit.

An embedded database writes a load's pages into its file as its page cache fills, and
the kernel keeps them in memory until the commit's ``fsync``, which then writes them all
while the load waits: 1M leads into SQLite wrote 188 MB there, a 0.66-0.80 s ``fsync``
at the end of an 8 s load whose CPU-bound part had left the disk idle. A :class:`Writeback`
asks the kernel (``fdatasync`` on a thread of its own, which waits without the GIL) for
what is written so far each time the file has grown by ``every`` bytes, so the commit
has only the last few MB left.

Durability is unchanged: the kernel may write any page of the file back at any moment,
and the database's own journal and ``fsync`` calls are what keep a commit atomic. (In
SQLite's WAL mode the pages go to the ``-wal`` file: the database file does not grow
during the load, and nothing is asked.)
"""

from __future__ import annotations

import logging
import os
import threading

log = logging.getLogger(__name__)

#: the file grows by this much between two requests to write it back
EVERY = 16 << 20
#: macOS has no ``fdatasync``; its ``fsync`` writes the file's data all the same
_sync = getattr(os, "fdatasync", os.fsync)


class Writeback:
    """Writes ``path`` back to disk in the background as it grows (see the module)."""

    def __init__(self, path: str, every: int | None = None) -> None:
        self.every = EVERY if every is None else every
        #: requests the kernel has completed (for tests and the curious)
        self.flushes = 0
        self._fd = os.open(path, os.O_RDONLY)
        self._asked = os.fstat(self._fd).st_size  # the size at the last request
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="sluice-writeback", daemon=True)
        self._thread.start()

    def grew(self) -> None:
        """A batch was written: ask for a write-back if the file grew enough since the last.
        A request still running is not waited for; the next one covers what it missed."""
        size = os.fstat(self._fd).st_size
        if size - self._asked >= self.every:
            self._asked = size
            self._wake.set()

    def close(self) -> None:
        """Stop (after a write-back already running) and let go of the file."""
        self._closed = True
        self._wake.set()
        self._thread.join()
        os.close(self._fd)

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._closed:
                return
            try:
                _sync(self._fd)
                self.flushes += 1
            except OSError as exc:  # the commit's own fsync meets it again and says so;
                # or a system that will not sync a file opened to read (Windows)
                log.debug("early write-back of a database file failed: %s", exc)
                return
