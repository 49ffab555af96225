"""A bounded hand-off from a producer thread to a consumer that may stop listening.

Both background producers (the engine's prefetch of batches, an HTTP pull's event loop)
need the same thing: a queue that bounds memory, and a producer that stops as soon as
the consumer gives up instead of blocking forever on a full queue.
"""

from __future__ import annotations

import queue
import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class Closed(Exception):
    """The consumer closed the hand-off: the producer should stop."""


class Handoff(Generic[T]):
    def __init__(self, depth: int) -> None:
        self._q: queue.Queue[T] = queue.Queue(maxsize=depth)
        self._closed = threading.Event()

    def put(self, item: T) -> None:
        """Wait for room; raise :class:`Closed` once the consumer has gone."""
        while not self._closed.is_set():
            try:
                self._q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
        raise Closed

    def get(self) -> T:
        return self._q.get()

    def close(self) -> None:
        self._closed.set()
