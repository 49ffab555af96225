"""Run a coroutine to its end from synchronous code, whoever called it.

``asyncio.run`` refuses to start in a thread that already runs an event loop: a
Jupyter notebook, an async web app calling sluice, or a test process holding
Playwright's sync API. There the coroutine runs on an event loop of its own in a
thread of its own, and the caller waits for its result (or its exception) as it
would have.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """``coro``'s result: ``asyncio.run(coro)`` here, or in a thread of its own when
    this thread runs an event loop already."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    outcome: list[Any] = []

    def main() -> None:
        try:
            outcome.append((True, asyncio.run(coro)))
        except BaseException as exc:  # handed to the caller, as asyncio.run would raise it
            outcome.append((False, exc))

    worker = threading.Thread(target=main, name="sluice-async", daemon=True)
    worker.start()
    worker.join()
    ok, value = outcome[0]
    if not ok:
        raise value
    return value
