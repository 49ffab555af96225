"""The chaos knobs every simulator shares, and the middleware that applies them.

A simulated call goes through these steps, in this order:

1. ``rate_limit``: more than ``rate_limit`` accepted calls in the last second -> 429 with
   a ``Retry-After`` header (whole seconds, at least 1), answered at once. Rejected calls
   do not count against the limit and do not consume a chaos draw.
2. a delay: ``latency`` (mean seconds, drawn uniformly from 0.5x to 1.5x) plus, for a
   share ``pause_rate`` of calls, a long pause of ``pause_min`` to ``pause_max`` seconds.
   Every sleep is multiplied by ``time_scale`` and is an ``asyncio.sleep``, so a paused
   call never holds up the others.
3. for a share ``error_rate`` of calls, one of 500/502/503/504, before the route runs
   (a failed POST has accepted nothing).
4. the route; then, for a share ``broken_json_rate`` of successful GET calls, the body
   is cut in half (still 200, still ``application/json``).

The fate of a call is a pure function of ``seed``, the method, the path and query, and
how many times that same method + path + query was admitted before (since the last
reset): never of wall-clock timing, thread scheduling or the other knobs' values. So a
client that retries a URL sees the same sequence of failures on every run.

Routes under ``/_sim/`` (stats, reset, ...) bypass all of it and are not counted.
"""

from __future__ import annotations

import asyncio
import math
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sluice.errors import ConfigError

SIM_PREFIX = "/_sim/"
ERROR_STATUSES = (500, 502, 503, 504)


@dataclass(frozen=True, kw_only=True)
class Knobs:
    """The common knobs. Each simulator's config extends this (and may change defaults)."""

    seed: int = 0
    latency: float = 0.0
    error_rate: float = 0.0
    pause_rate: float = 0.0
    pause_min: float = 5.0
    pause_max: float = 15.0
    time_scale: float = 1.0
    rate_limit: float | None = None
    broken_json_rate: float = 0.0

    def __post_init__(self) -> None:
        for name in ("error_rate", "pause_rate", "broken_json_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name} must be between 0 and 1, got {value}")
        for name in ("latency", "pause_min", "pause_max", "time_scale"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must not be negative, got {getattr(self, name)}")
        if self.pause_min > self.pause_max:
            raise ConfigError(
                f"pause_min ({self.pause_min}) is larger than pause_max ({self.pause_max})"
            )
        if self.rate_limit is not None and self.rate_limit <= 0:
            raise ConfigError(
                f"rate_limit must be positive, got {self.rate_limit}",
                hint="leave it unset (None) for no rate limit",
            )


def rng(seed: int, *parts: object) -> random.Random:
    """A generator determined by ``seed`` and ``parts`` alone (stable across processes)."""
    return random.Random(":".join(str(p) for p in (seed, *parts)))


@dataclass(frozen=True)
class Verdict:
    """What the chaos decided for one call."""

    status: int | None = None  # an injected status (429 or 5xx), or None to run the route
    retry_after: int | None = None
    delay: float = 0.0
    broken_json: bool = False


class SlidingMax:
    """Counts events in a sliding one-second window and remembers the largest count."""

    def __init__(self) -> None:
        self.times: deque[float] = deque()
        self.max = 0

    def trim(self, now: float) -> None:
        while self.times and self.times[0] <= now - 1.0:
            self.times.popleft()

    def add(self, now: float) -> None:
        self.trim(now)
        self.times.append(now)
        self.max = max(self.max, len(self.times))


class Chaos:
    """The chaos state of one app: knobs, attempt counters, rate window and stats.

    Thread-safe: every mutation happens under one lock, and the randomness of a call
    comes from its own generator (see :func:`rng`), never from a shared one.
    """

    def __init__(self, knobs: Knobs, clock: Callable[[], float] = time.monotonic) -> None:
        self.knobs = knobs
        self.clock = clock
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.attempts: Counter[tuple[str, str]] = Counter()
            self.arrivals = SlidingMax()
            self.accepted = SlidingMax()
            self.total = 0
            self.by_status: Counter[int] = Counter()
            self.injected: Counter[str] = Counter()

    def admit(self, method: str, target: str) -> Verdict:
        """Decide the fate of one call to ``method target`` (path plus query string)."""
        k = self.knobs
        with self.lock:
            now = self.clock()
            self.total += 1
            self.arrivals.add(now)
            if k.rate_limit is not None:
                self.accepted.trim(now)
                if len(self.accepted.times) >= k.rate_limit:
                    frees_at = self.accepted.times[0] + 1.0
                    self.injected["rate_limited"] += 1
                    return Verdict(status=429, retry_after=max(1, math.ceil(frees_at - now)))
            self.accepted.add(now)
            attempt = self.attempts[method, target]
            self.attempts[method, target] += 1
        r = rng(k.seed, "chaos", method, target, attempt)
        # Always the same draws in the same order, so one knob never shifts another's fates.
        latency_factor, pause_draw, pause_span, error_draw = (r.random() for _ in range(4))
        error_status, broken_draw = r.choice(ERROR_STATUSES), r.random()
        delay = k.latency * (0.5 + latency_factor)
        paused = pause_draw < k.pause_rate
        if paused:
            delay += k.pause_min + (k.pause_max - k.pause_min) * pause_span
        failed = error_draw < k.error_rate
        broken = method == "GET" and not failed and broken_draw < k.broken_json_rate
        with self.lock:
            self.injected["pauses"] += paused
            self.injected["errors"] += failed
        return Verdict(
            status=error_status if failed else None,
            delay=delay * k.time_scale,
            broken_json=broken,
        )

    def note(self, fault: str) -> None:
        with self.lock:
            self.injected[fault] += 1

    def record_status(self, status: int) -> None:
        with self.lock:
            self.by_status[status] += 1

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "total_requests": self.total,
                "by_status": {str(s): n for s, n in sorted(self.by_status.items())},
                "rate_limited": self.injected["rate_limited"],
                "errors_injected": self.injected["errors"],
                "pauses_injected": self.injected["pauses"],
                "broken_json_injected": self.injected["broken_json"],
                "max_per_second": self.arrivals.max,
                "max_accepted_per_second": self.accepted.max,
            }


async def _send_json(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": head + headers})
    await send({"type": "http.response.body", "body": body})


class ChaosMiddleware:
    """Pure ASGI middleware applying a :class:`Chaos` to every route outside ``/_sim/``."""

    def __init__(self, app: ASGIApp, chaos: Chaos) -> None:
        self.app = app
        self.chaos = chaos

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(SIM_PREFIX):
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"").decode("latin-1")
        target = scope["path"] + ("?" + query if query else "")
        verdict = self.chaos.admit(scope["method"], target)
        if verdict.status == 429:
            self.chaos.record_status(429)
            body = b'{"detail": "rate limit exceeded (simulated)"}'
            await _send_json(send, 429, body, [(b"retry-after", str(verdict.retry_after).encode())])
            return
        if verdict.delay > 0:
            await asyncio.sleep(verdict.delay)
        if verdict.status is not None:
            self.chaos.record_status(verdict.status)
            body = b'{"detail": "simulated server error %d"}' % verdict.status
            await _send_json(send, verdict.status, body, [])
            return
        await self.app(scope, receive, self._wrap(send, verdict.broken_json))

    def _wrap(self, send: Send, broken_json: bool) -> Send:
        start: Message | None = None
        chunks: list[bytes] = []

        async def wrapped(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                self.chaos.record_status(message["status"])
                if broken_json and message["status"] == 200:
                    start = message  # hold it: the length changes once the body is cut
                    return
            elif message["type"] == "http.response.body" and start is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                self.chaos.note("broken_json")
                full = b"".join(chunks)
                cut = full[: len(full) // 2]
                headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
                headers.append((b"content-length", str(len(cut)).encode()))
                await send({**start, "headers": headers})
                await send({"type": "http.response.body", "body": cut})
                return
            await send(message)

        return wrapped


def install_chaos(
    app: FastAPI,
    chaos: Chaos,
    *,
    extra_stats: Callable[[], dict[str, Any]] | None = None,
    on_reset: Callable[[], None] | None = None,
) -> None:
    """Add the chaos middleware and the ``/_sim/stats`` and ``/_sim/reset`` routes."""
    app.add_middleware(ChaosMiddleware, chaos=chaos)
    app.state.chaos = chaos

    @app.get("/_sim/stats", tags=["_sim"])
    def stats() -> JSONResponse:
        """Calls, statuses, injected faults and the busiest second (plus app extras)."""
        data = chaos.stats()
        if extra_stats is not None:
            data.update(extra_stats())
        return JSONResponse(data)

    @app.post("/_sim/reset", tags=["_sim"])
    def reset() -> JSONResponse:
        """Forget every call, counter and received record: back to a fresh server."""
        chaos.reset()
        if on_reset is not None:
            on_reset()
        return JSONResponse({"reset": True})
