"""The two gates in front of every request: a rate limiter and an adaptive concurrency limit."""

from __future__ import annotations

import asyncio
import time
from collections import deque


class RateLimiter:
    """At most ``per_second`` request starts in any one-second window, evenly spaced.

    Two rules, both checked at the moment a request goes out: starts are at least
    ``1/per_second`` apart (no bursts), and the last ``per_second`` starts span more than
    a second (so a late start after a stalled loop cannot bunch up with the next ones).
    """

    # Arrivals jitter: a few milliseconds on a quiet machine, more on a busy one (a start
    # 30 ms late let 21 of a limit of 20 reach the server within one second while the
    # test suite ran beside it). The margin keeps starts that are one interval apart,
    # or a window's worth of them, from landing in the same server-side second.
    MARGIN = 1.06

    def __init__(self, per_second: float | None) -> None:
        self.per_second = per_second
        self.interval = self.MARGIN / per_second if per_second else 0.0
        self.window = self.MARGIN
        self._sent: deque[float] = deque(maxlen=max(1, int(per_second or 1)))
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self.per_second:
            return
        while True:
            async with self._lock:
                now = time.monotonic()
                start = self._next
                if len(self._sent) == self._sent.maxlen:
                    start = max(start, self._sent[0] + self.window)
                if start <= now:
                    self._next = now + self.interval
                    self._sent.append(now)
                    return
            await asyncio.sleep(start - now)

    def hold(self, seconds: float) -> None:
        """Push every later start back (the API asked us to wait: Retry-After)."""
        self._next = max(self._next, time.monotonic() + seconds)


class AdaptiveLimit:
    """How many requests may be in flight: slow start, then AIMD.

    It doubles per round of successes until the first sign of overload, then grows by
    one per round and is cut by a third on 429 (or a 503 with Retry-After), timeouts,
    or when the *median* latency of recent calls climbs well above the best median
    seen. A median, because one long pause (APIs have them) says nothing about load;
    a rising median does.
    """

    WINDOW = 32

    def __init__(self, start: int, ceiling: int) -> None:
        self.ceiling = max(ceiling, 1)
        self.limit = float(min(max(start, 1), self.ceiling))
        self.in_flight = 0
        self.slow_start = True
        self.best_median: float | None = None
        self._recent: deque[float] = deque(maxlen=self.WINDOW)
        self._since_check = 0
        self._cond = asyncio.Condition()
        self._last_cut = 0.0

    async def acquire(self) -> None:
        async with self._cond:
            while self.in_flight >= int(self.limit):
                await self._cond.wait()
            self.in_flight += 1

    def _queueing(self, latency: float) -> bool:
        self._recent.append(latency)
        self._since_check += 1
        if len(self._recent) < self.WINDOW or self._since_check < self.WINDOW // 2:
            return False
        self._since_check = 0
        median = sorted(self._recent)[len(self._recent) // 2]
        if self.best_median is None or median < self.best_median:
            self.best_median = median
            return False
        return median > 3 * self.best_median + 0.05

    async def release(self, *, ok: bool, overloaded: bool, latency: float) -> None:
        async with self._cond:
            self.in_flight -= 1
            slow = ok and self._queueing(latency)
            if overloaded or slow:
                now = time.monotonic()
                if now - self._last_cut > 0.5:  # one cut per burst of bad news
                    self.limit = max(1.0, self.limit * (2 / 3))
                    self.slow_start = False
                    self._last_cut = now
            elif ok:
                step = 1.0 if self.slow_start else 1 / self.limit
                self.limit = min(float(self.ceiling), self.limit + step)
            # As many waiters as there are free slots, first come first served. Waking
            # them all cost every release a wake-up per waiting request, and a fan-out
            # pull keeps hundreds waiting (max_concurrency pages of details): 14% of
            # the pulling thread's time in py-spy at 1,000 requests/s.
            self._cond.notify(int(self.limit) - self.in_flight)
