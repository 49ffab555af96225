"""A bounded hand-off from a producer thread to a consumer that may stop listening.

Every background producer (the engine's prefetch of batches, a JSON Lines file's scan
of its next block, an HTTP pull's event loop) needs the same thing: a queue that bounds
memory, and a producer that stops as soon as the consumer gives up instead of blocking
forever on a full queue.

:class:`Prefetch` runs an iterator ahead on a thread: Polars, PyArrow, NumPy and the
database drivers release the GIL in their hot loops, so with two cores the parse of
batch N+1 runs while batch N is being written. The queue is bounded, so memory stays at
a few items whatever the input size.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
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


_DONE = object()


class Prefetch(Generic[T]):
    """Iterate ``source`` in a background thread; re-raise its errors in the consumer."""

    def __init__(self, source: Iterator[T], depth: int = 1) -> None:
        self._handoff: Handoff[object] = Handoff(depth)
        self.waited = 0.0  # seconds the consumer spent waiting for the producer
        self._thread = threading.Thread(
            target=self._run, args=(source,), name="sluice-prefetch", daemon=True
        )
        self._thread.start()

    def _run(self, source: Iterator[T]) -> None:
        try:
            try:
                for item in source:
                    self._handoff.put(item)
                self._handoff.put(_DONE)
            except Closed:
                raise
            except BaseException as exc:  # handed to the consumer, raised there
                self._handoff.put(exc)
        except Closed:  # the consumer stopped listening
            return

    def __iter__(self) -> Iterator[T]:
        while True:
            start = time.perf_counter()
            item = self._handoff.get()
            self.waited += time.perf_counter() - start
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]

    def close(self) -> None:
        """Stop the producer (after an error in the consumer) and wait for it."""
        self._handoff.close()
        self._thread.join(timeout=30)
