"""Simulators served for real: uvicorn on a free loopback port, called with httpx."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from sluice.sim import SimServer
from sluice.testing import simulator

Serve = Callable[..., httpx.Client]


@pytest.fixture(scope="session")
def stopping() -> Iterator[list[SimServer]]:
    """Servers told to exit; each takes ~0.2 s to shut down, so they do it together."""
    servers: list[SimServer] = []
    yield servers
    for server in servers:
        server.stop()


@pytest.fixture
def serve(stopping: list[SimServer]) -> Iterator[Serve]:
    """``serve("animals", seed=1, ...)``: a started simulator, as a client on its URL."""
    started: list[tuple[SimServer, httpx.Client]] = []

    def start(name: str, **knobs: Any) -> httpx.Client:
        server = simulator(name, **knobs).start()
        client = httpx.Client(base_url=server.url, timeout=10)
        started.append((server, client))
        return client

    yield start
    for server, client in started:
        client.close()
        server.stop(wait=False)
        stopping.append(server)


@pytest.fixture
def calm(serve: Serve) -> Callable[..., httpx.Client]:
    """Like ``serve`` for animals, with its default chaos (errors, pauses) off."""

    def start(**knobs: Any) -> httpx.Client:
        return serve("animals", **{"error_rate": 0.0, "pause_rate": 0.0, **knobs})

    return start
