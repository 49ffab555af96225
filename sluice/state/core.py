"""What every part of the state store shares: its engine and its sessions.

:class:`~sluice.state.store.StateStore` is composed of one class per concern (runs, run
log, file ledger, quarantine, deliveries, schedules, schema versions), each a module of
its own; they all derive from :class:`StoreCore` and so read and write through the same
engine, with the same short transactions.

:meth:`StoreCore.together` puts several of them in one transaction: a load's units
committed one after another made four transactions each (ledger entry, superseded
entries, log line, stages), and each commit of a PostgreSQL state store waits for its
write-ahead log to reach the disk.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from sluice.state.faults import retrying

T = TypeVar("T")
#: ids per statement of a bulk update or lookup (bound parameters have a limit)
CHUNK = 500

#: the transaction :meth:`StoreCore.together` holds open, per thread: (store, session,
#: what to call once it committed)
_joined = threading.local()


class StoreCore:
    """The engine and sessions of an open state store (opened by ``StateStore``)."""

    url: str
    engine: sa.Engine
    sessions: sessionmaker[Session]

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises.
        Inside :meth:`together` (in its thread): that one, committed when it ends."""
        shared = self._shared()
        if shared is not None:
            yield shared
            return
        with self.sessions.begin() as s:
            yield s

    @contextmanager
    def connection(self) -> Iterator[sa.Connection]:
        """:meth:`session`'s transaction, for Core statements."""
        with self.session() as s:
            yield s.connection()

    @retrying
    def together(self, work: Callable[[], T]) -> T:
        """Run ``work``, whose calls on this store (in this thread) share one transaction,
        committed when it returns, rolled back if it raises. Made again as a whole if
        the connection dropped before the commit (see :func:`retrying`): ``work`` must
        do nothing but write to the store, which the rollback undid."""
        if self._shared() is not None:  # already inside one
            return work()
        after: list[Callable[[], None]] = []
        with self.sessions.begin() as s:
            _joined.shared = (self, s, after)
            try:
                done = work()
            finally:
                _joined.shared = None
        for call in after:
            call()
        return done

    def once_committed(self, call: Callable[[], None]) -> None:
        """``call`` now, or inside :meth:`together` once its transaction committed (a
        log line mirrored to the logger is said once, even if the work is made again)."""
        shared = getattr(_joined, "shared", None)
        if shared is not None and shared[0] is self:
            shared[2].append(call)
        else:
            call()

    def _shared(self) -> Session | None:
        shared = getattr(_joined, "shared", None)
        return shared[1] if shared is not None and shared[0] is self else None


def chunks(items: list[T], size: int = CHUNK) -> Iterator[list[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
