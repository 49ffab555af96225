"""SHA-256 of local files, started ahead of need on a thread of their own.

A file's ledger fingerprint is the SHA-256 of its bytes, and the planner needs it
before the first row is read: 0.12-0.15 s for a 178 MB file, on one core while the
other has nothing to do. ``sluice run`` lists the files a run will read once the
project is read, and hashes them here (:func:`ahead`) while the engine's modules load
(~0.4 s); the planner then finds each digest made (:func:`sha256`). ``hashlib``
releases the GIL as it hashes, so the imports are not slowed; it is read in pieces of
:data:`CHUNK` bytes, since each piece takes the GIL back (twice: the read, the hash),
and a thread that wants the GIL while another runs Python code waits up to the
interpreter's switch interval (5 ms) for it. ``hashlib.file_digest``'s 256 KiB pieces
made the 178 MB bench file's hash take 0.35 s beside the imports, not 0.09 s: the run
then waited for it.

A digest made ahead is used only for the very file it was made from: the same device,
inode, size, modification and change times before and after the hash, and again when
it is used. A file changed less than :data:`SETTLED_NS` before it was hashed is not
hashed ahead: file times move in steps of the kernel's clock tick (milliseconds), and
a file rewritten in place within one step, same size, would look unchanged.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

#: a file changed this recently (ns) is hashed when it is needed, not ahead
SETTLED_NS = 2_000_000_000
#: bytes read and hashed at a time (see the module's docstring): 22 hand-backs of the
#: GIL for the bench file, where 256 KiB pieces made 1,360
CHUNK = 8 * 1024**2

#: digests made ahead and not yet used that a process keeps: a Celery worker hashes
#: each part's files ahead, and a part that ends before it plans them (a file gone)
#: never takes its digest; the oldest are forgotten past this many
KEPT = 4096

Identity = tuple[int, int, int, int, int]


@dataclass
class _Ahead:
    done: threading.Event = field(default_factory=threading.Event)
    identity: Identity | None = None
    hexdigest: str | None = None


_lock = threading.Lock()
_ahead: dict[str, _Ahead] = {}


def ahead(paths: Iterable[Path], threads: int = 1) -> None:
    """Hash ``paths`` on a thread of their own, in order (each file once); on
    ``threads`` threads, every ``threads``-th file each, where nothing else is to run
    meanwhile (a Celery part waits for its files' digests before its rows load)."""
    todo = []
    with _lock:
        for path in paths:
            key = os.fspath(path)
            if key not in _ahead:
                _ahead[key] = entry = _Ahead()
                todo.append((path, entry))
        for stale in list(_ahead)[: max(0, len(_ahead) - KEPT)]:
            del _ahead[stale]  # a waiter holds its entry: forgetting it here is safe
    for i in range(min(threads, len(todo))):
        mine = todo[i::threads]
        threading.Thread(target=_hash_all, args=(mine,), name="sluice-hash", daemon=True).start()


def sha256(path: Path, open_stored: Callable[[], IO[bytes]]) -> str:
    """The hex SHA-256 of the file at ``path``: made ahead if it was (waiting for it if
    it is under way) and the file is still the one hashed, else read now through
    ``open_stored``."""
    with _lock:
        entry = _ahead.pop(os.fspath(path), None)
    if entry is not None:
        entry.done.wait()
        if entry.hexdigest is not None and _current(path) == entry.identity:
            return entry.hexdigest
    return of_stream(open_stored)


def of_stream(open_bytes: Callable[[], IO[bytes]]) -> str:
    """The hex SHA-256 of the bytes ``open_bytes()`` reads."""
    with open_bytes() as f:
        return _sha256(f)


def _sha256(f: IO[bytes]) -> str:
    """The hex SHA-256 of what ``f`` reads, :data:`CHUNK` bytes at a time, into one
    buffer where ``f`` can (a new 8 MiB ``bytes`` a piece is fresh pages to fault in)."""
    digest = hashlib.sha256()
    readinto = getattr(f, "readinto", None)
    if readinto is None:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
        return digest.hexdigest()
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    while size := readinto(buffer):
        digest.update(view[:size])
    return digest.hexdigest()


def _hash_all(todo: list[tuple[Path, _Ahead]]) -> None:
    for path, entry in todo:
        try:
            entry.identity, entry.hexdigest = _hash(path)
        except OSError:  # hashed when needed, where the error is the run's to report
            pass
        finally:
            entry.done.set()


def _hash(path: Path) -> tuple[Identity | None, str | None]:
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    with open(os.open(path, flags), "rb") as f:  # a link or a FIFO: not ahead
        before = os.fstat(f.fileno())
        changed = max(before.st_mtime_ns, before.st_ctime_ns)
        if not stat.S_ISREG(before.st_mode) or time.time_ns() - changed < SETTLED_NS:
            return None, None
        hexdigest = _sha256(f)
        after = os.fstat(f.fileno())
    if _identity(after) != _identity(before):  # written while it was hashed
        return None, None
    return _identity(after), hexdigest


def _current(path: Path) -> Identity | None:
    try:
        return _identity(os.stat(path, follow_symlinks=False))
    except OSError:
        return None


def _identity(st: os.stat_result) -> Identity:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
