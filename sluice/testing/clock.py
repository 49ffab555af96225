"""Clocks a test moves by hand, for code that takes ``clock=`` instead of reading time.

    clock = Clock()                          # seconds, where time.monotonic is expected
    cache = ReadCache(ttl=1.0, clock=clock)
    clock.advance(1.5)                       # the answer is now stale: no sleep

    wall = WallClock(datetime(2026, 3, 7, 9, 59, tzinfo=UTC))   # for schedules
    scheduler = Scheduler(project, store, submit, clock=wall)
    wall.advance(60)

A test that sleeps past a 50 ms TTL fails when a loaded machine pauses it longer than
the TTL somewhere else; with a clock the test says when time passes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    """A stand-in for ``time.monotonic``: ``clock()`` is :attr:`now` (seconds)."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        """Move forward ``seconds``; the new time."""
        self.now += seconds
        return self.now


class WallClock:
    """A stand-in for ``datetime.now(UTC)``: ``clock()`` is :attr:`now` (aware, UTC)."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        """Move forward ``seconds``; the new time."""
        self.now += timedelta(seconds=seconds)
        return self.now
