"""What every part of the state store shares: its engine and its sessions.

:class:`~sluice.state.store.StateStore` is composed of one class per concern (runs, run
log, file ledger, quarantine, deliveries, schedules, schema versions), each a module of
its own; they all derive from :class:`StoreCore` and so read and write through the same
engine, with the same short transactions.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")
#: ids per statement of a bulk update or lookup (bound parameters have a limit)
CHUNK = 500


class StoreCore:
    """The engine and sessions of an open state store (opened by ``StateStore``)."""

    url: str
    engine: sa.Engine
    sessions: sessionmaker[Session]

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with self.sessions.begin() as s:
            yield s


def chunks(items: list[T], size: int = CHUNK) -> Iterator[list[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
