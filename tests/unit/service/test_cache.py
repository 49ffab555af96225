"""The read cache: fresh answers for ttl, one caller refreshes while others get the last."""

from __future__ import annotations

import contextlib
import threading

from sluice.service.cache import ReadCache
from sluice.testing import Clock


def test_fresh_then_one_refresh_while_the_others_get_the_last_answer() -> None:
    clock = Clock()
    cache = ReadCache(ttl=1.0, clock=clock)
    calls: list[int] = []
    assert cache.get("k", lambda: calls.append(1) or 1) == 1
    clock.advance(0.99)
    assert cache.get("k", lambda: calls.append(2) or 2) == 1  # fresh: not computed
    clock.advance(0.02)  # older than ttl: the next caller refreshes it
    started, release = threading.Event(), threading.Event()

    def slow() -> int:
        started.set()
        release.wait(5)
        return 3

    refresher = threading.Thread(target=lambda: cache.get("k", slow))
    refresher.start()
    started.wait(5)
    assert cache.lookup("k") == (1, False)  # being refreshed: the last answer, no wait
    release.set()
    refresher.join(5)
    assert cache.get("k", lambda: 4) == 3


def test_clear_drops_everything_and_a_failed_compute_can_be_retried() -> None:
    cache = ReadCache(ttl=60)
    cache.get("k", lambda: 1)
    cache.clear()
    assert cache.lookup("k") == (None, True)

    def boom() -> int:
        raise RuntimeError("down")

    with contextlib.suppress(RuntimeError):
        cache.compute("k", boom)
    assert cache.lookup("k") == (None, True)  # not stuck "refreshing"
