"""Overlap extract+transform with load: a producer thread runs ahead by a few batches.

Polars, PyArrow and the database drivers release the GIL in their hot loops, so with
two cores the parse of batch N+1 runs while batch N is being written. The queue is
bounded, so memory stays at a few batches whatever the input size.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Generic, TypeVar

from sluice.handoff import Closed, Handoff

T = TypeVar("T")
_DONE = object()


class Prefetch(Generic[T]):
    """Iterate ``source`` in a background thread; re-raise its errors in the consumer."""

    def __init__(self, source: Iterator[T], depth: int = 1) -> None:
        self._handoff: Handoff[object] = Handoff(depth)
        self.waited = 0.0  # seconds the consumer spent waiting for the producer
        self._thread = threading.Thread(target=self._run, args=(source,), daemon=True)
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
