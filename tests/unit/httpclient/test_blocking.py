"""Coroutines run to their end from synchronous code, inside a running event loop too
(a notebook, an async app, a test process holding Playwright's sync API)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from sluice.httpclient import blocking


async def where() -> str:
    await asyncio.sleep(0)
    return threading.current_thread().name


async def fails() -> None:
    await asyncio.sleep(0)
    raise ValueError("the API said no")


def test_without_a_running_loop_it_runs_in_this_thread() -> None:
    assert blocking.run(where()) == threading.current_thread().name


def test_inside_a_running_loop_it_runs_on_a_loop_of_its_own() -> None:
    async def caller() -> str:  # a notebook cell: a loop runs in this thread already
        return blocking.run(where())

    assert asyncio.run(caller()) == "sluice-async"


def test_inside_a_running_loop_its_exception_reaches_the_caller() -> None:
    async def caller() -> None:
        blocking.run(fails())

    with pytest.raises(ValueError, match="the API said no"):
        asyncio.run(caller())
