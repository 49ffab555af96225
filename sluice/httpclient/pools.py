"""The connections a client sends through: several small httpx pools, not one large one.

httpcore's pool looks at every one of its connections whenever a request starts and
whenever a response is closed (``has_expired``: a ``getpeername`` and a ``poll`` per
connection), so a request costs time in proportion to the pool's size
(encode/httpcore#928, open). Against the animals simulator on 127.0.0.1, 2,000 detail
calls by 64 tasks: one pool of 64 connections sent 154 requests/s on 12.8 CPU-s (its
loop's core saturated); eight pools of 8 sent 805 requests/s on 2.3 CPU-s. So a
client's ``max_concurrency`` connections are split into pools of at most
:data:`POOL_CONNECTIONS`, and each request goes through the pool with the fewest
requests in flight: as the concurrency gate lets no more than ``max_concurrency``
through, that pool always has a connection free.

In sluice, ``bench/http/run.py --animals 3000 --rate 1000 --error-rate 0.05``: the pull
took 15.2-16.1 s on 12.2-12.9 CPU-s with one pool of 64, 9.8-10.5 s on 5.6-5.7 CPU-s
with eight.
"""

from __future__ import annotations

import contextlib
from typing import Any

import httpx

#: the most connections one pool holds
POOL_CONNECTIONS = 8


def sizes(connections: int, most: int = POOL_CONNECTIONS) -> list[int]:
    """``connections`` split into as few pools of at most ``most`` as can hold them,
    as even as can be: 32 -> [8, 8, 8, 8], 20 -> [7, 7, 6], 4 -> [4]."""
    count = max(1, -(-connections // most))
    base, extra = divmod(max(1, connections), count)
    return [base + 1 if i < extra else base for i in range(count)]


class Pools:
    """httpx clients sharing one configuration, each with its own connection pool."""

    def __init__(self, connections: int, **options: Any) -> None:
        self.clients = [
            httpx.AsyncClient(
                limits=httpx.Limits(max_connections=n, max_keepalive_connections=n), **options
            )
            for n in sizes(connections)
        ]
        self._busy = [0] * len(self.clients)

    def build_request(self, method: str, url: str) -> httpx.Request:
        return self.clients[0].build_request(method, url)

    async def request(self, method: str, url: httpx.URL, **kwargs: Any) -> httpx.Response:
        """``httpx.AsyncClient.request`` on the least busy pool (its body read)."""
        busy = self._busy
        i = busy.index(min(busy))
        busy[i] += 1
        try:
            return await self.clients[i].request(method, url, **kwargs)
        finally:
            busy[i] -= 1

    async def aclose(self) -> None:
        """Every pool closed, even when one raises (its error is raised after)."""
        async with contextlib.AsyncExitStack() as stack:
            for client in reversed(self.clients):  # the stack closes them in order
                stack.push_async_callback(client.aclose)
