"""A daemon thread that does one step now and then every ``interval`` seconds.

The scheduler and the folder watcher of ``sluice serve`` are each one of these. A step
that raises is logged and the next one runs on time: a state store that is briefly
unreachable must not stop schedules for good.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Periodic:
    def __init__(self, name: str, step: Callable[[], object], interval: float) -> None:
        self.name, self.step, self.interval = name, step, interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.alive:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            try:
                self.step()
            except Exception:  # logged; the next step runs on time
                log.exception("%s: a step failed", self.name)
            if self._stop.wait(self.interval):
                return
