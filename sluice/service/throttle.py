"""Failed sign-ins counted per client address: too many in a minute and it must wait.

A token is long and random (:func:`sluice.service.settings.token_bits`), but nothing
should let a client try them at the server's full speed. Each failed sign-in (the
sign-in form, ``POST /api/session``, an unknown bearer token) is counted against the
client's address; at :data:`LIMIT` failures within :data:`WINDOW` seconds every
further attempt from it, right or wrong, is answered 429 with ``Retry-After`` until
the oldest failure leaves the window. Kept in this process's memory: ``sluice serve``
runs one process. Behind a reverse proxy the address is the proxy's unless uvicorn
trusts its ``X-Forwarded-For`` (``--forwarded-allow-ips``).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

LIMIT = 10
WINDOW = 60.0
#: addresses remembered at most (a spray from many addresses cannot fill memory)
MAX_CLIENTS = 10_000


class Throttle:
    def __init__(
        self,
        limit: int = LIMIT,
        window: float = WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._lock = threading.Lock()
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, client: str) -> int:
        """Seconds ``client`` must wait before trying again; 0: it may try now."""
        now = self.clock()
        with self._lock:
            failures = self._recent(client, now)
            if len(failures) < self.limit:
                return 0
            return max(1, math.ceil(failures[0] + self.window - now))

    def failed(self, client: str) -> None:
        """Count a failed attempt of ``client``."""
        now = self.clock()
        with self._lock:
            if client not in self._failures and len(self._failures) >= MAX_CLIENTS:
                self._forget(now)
            self._failures.setdefault(client, deque(maxlen=self.limit)).append(now)

    def _recent(self, client: str, now: float) -> deque[float]:
        failures = self._failures.get(client, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def _forget(self, now: float) -> None:
        for client in [c for c, f in self._failures.items() if not self._recent(c, now)]:
            del self._failures[client]
        if len(self._failures) >= MAX_CLIENTS:  # all of them recent: start afresh
            self._failures.clear()
