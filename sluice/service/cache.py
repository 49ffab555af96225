"""A short-lived cache of the busiest reads (the runs list, dataset pages).

Fifty dashboards polling the same page should cost the state store and the warehouse
one query a second, not fifty. An answer is fresh for ``ttl`` seconds; after that, one
request computes the new answer while the others are still served the previous one
(for up to ``stale`` seconds), so a refresh never makes fifty callers wait at once.
Every answer is dropped when this service starts or finishes a run, so its own
changes show without delay; a run made elsewhere (the CLI) shows within ``ttl``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class ReadCache:
    def __init__(
        self,
        ttl: float = 1.0,
        stale: float = 10.0,
        size: int = 512,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl, self.stale, self.size = ttl, stale, size
        self.clock = clock  # a test's own (sluice.testing.Clock) ages answers without sleeping
        self._lock = threading.Lock()
        self._kept: dict[Hashable, tuple[float, Any]] = {}
        self._refreshing: set[Hashable] = set()

    def lookup(self, key: Hashable) -> tuple[Any, bool]:
        """(the answer to serve or None, whether this caller must compute it)."""
        now = self.clock()
        with self._lock:
            hit = self._kept.get(key)
            if hit is not None:
                age = now - hit[0]
                if age < self.ttl or (key in self._refreshing and age < self.stale):
                    return hit[1], False
            self._refreshing.add(key)
            return None, True

    def compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        """Compute and keep the answer for ``key`` (the caller ``lookup`` chose)."""
        try:
            value = compute()
        except BaseException:
            self.abandon(key)
            raise
        return self.keep(key, value)

    def abandon(self, key: Hashable) -> None:
        """Give up refreshing ``key`` (its computation failed); the next caller tries."""
        with self._lock:
            self._refreshing.discard(key)

    def keep(self, key: Hashable, value: T) -> T:
        """Keep ``value`` as the fresh answer for ``key``."""
        with self._lock:
            self._refreshing.discard(key)
            if len(self._kept) >= self.size:
                self._kept.clear()
            self._kept[key] = (self.clock(), value)
        return value

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        value, mine = self.lookup(key)
        if not mine:
            kept: T = value
            return kept
        return self.compute(key, compute)

    def clear(self, *_: object) -> None:
        """Drop every answer (also usable as a run hook: ``hooks.add(cache.clear)``)."""
        with self._lock:
            self._kept.clear()
