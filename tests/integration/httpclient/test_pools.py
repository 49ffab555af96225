"""The client's connections in several small pools, against a real server on loopback."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Request

from sluice.config.sources import HttpSourceConfig
from sluice.httpclient import HttpClient
from sluice.sim.server import SimServer


class Seen:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = self.most = 0
        self.ports: set[int] = set()


@pytest.fixture
def slow_api() -> Iterator[tuple[str, Seen]]:
    # An answer waits until 20 requests are in progress (or 2 s have passed), so the
    # count of requests on the wire at once does not hang on the machine's speed.
    seen = Seen()
    app = FastAPI()

    @app.get("/items/{i}")
    async def item(i: int, request: Request) -> dict[str, int]:
        with seen.lock:
            seen.now += 1
            seen.most = max(seen.most, seen.now)
            assert request.client is not None
            seen.ports.add(request.client.port)
        for _ in range(200):
            if seen.most >= 20:
                break
            await asyncio.sleep(0.01)
        with seen.lock:
            seen.now -= 1
        return {"id": i}

    with SimServer(app) as server:
        yield server.url, seen


def test_max_concurrency_requests_go_out_together_over_pools_of_eight(
    slow_api: tuple[str, Seen],
) -> None:
    url, seen = slow_api
    cfg = HttpSourceConfig(type="http", base_url=url, concurrency=20, max_concurrency=20)

    async def main() -> tuple[list[int], int]:
        client = HttpClient(cfg, where="items")
        try:
            answers = await asyncio.gather(*(client.get_json(f"/items/{i}") for i in range(60)))
            return [body["id"] for body, _ in answers], len(client.client.clients)
        finally:
            await client.close()

    ids, pools = asyncio.run(main())
    assert ids == list(range(60))
    assert pools == 3  # 7 + 7 + 6 connections
    # All 20 the gate lets through are on the wire at once: each request went to a pool
    # with a connection free (always the first pool: 7 at most).
    assert seen.most == 20
    assert len(seen.ports) == 20  # 60 requests over 20 connections, each reused
