"""Run leases: a live run is one whose heartbeat is fresh.

Whatever carries out a run (or waits for it: a queued run's service, the CLI waiting
for its Celery run, a live Celery worker) refreshes the run's ``heartbeat_at`` every
few seconds. A live run whose heartbeat is older than the lease has no one left: the
next command that opens the state store settles it (:mod:`sluice.engine.settle`),
on any host. The same beat carries ``sluice cancel`` to the run: a run found
``cancelling`` is told to stop.

    SLUICE_RUN_LEASE_SECONDS=60   the lease (default 60 s; the beat is every lease/4, at most 2 s)
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

from sluice.state.store import StateStore
from sluice.status import RunStatus

log = logging.getLogger(__name__)

LEASE_ENV = "SLUICE_RUN_LEASE_SECONDS"
LEASE_SECONDS = 60.0


def lease_seconds() -> float:
    """How long a run lives without a heartbeat (``SLUICE_RUN_LEASE_SECONDS``)."""
    try:
        return max(0.5, float(os.environ.get(LEASE_ENV) or LEASE_SECONDS))
    except ValueError:
        return LEASE_SECONDS


def beat_seconds() -> float:
    return min(2.0, lease_seconds() / 4)


class Heartbeat:
    """A thread that keeps the leases of some runs fresh while this process holds them.

    ``on_cancel(run_id)`` is called (once per run) when a run is found ``cancelling``.
    ``also``: something more to do on each beat (a Celery worker's runs).
    """

    def __init__(
        self,
        store: StateStore,
        *run_ids: str,
        on_cancel: Callable[[str], None] | None = None,
        also: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.on_cancel = on_cancel
        self.also = also
        self._runs = set(run_ids)
        self._told: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, run_id: str) -> None:
        with self._lock:
            self._runs.add(run_id)

    def discard(self, run_id: str) -> None:
        with self._lock:
            self._runs.discard(run_id)

    def start(self) -> Heartbeat:
        self._thread = threading.Thread(target=self._loop, name="sluice-lease", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def __enter__(self) -> Heartbeat:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def beat(self) -> None:
        """One beat: refresh the leases, pass on the cancels asked."""
        with self._lock:
            runs = sorted(self._runs)
        statuses = self.store.beat(runs)
        if self.also is not None:
            self.also()
        if self.on_cancel is None:
            return
        for run_id, status in statuses.items():
            if status == RunStatus.CANCELLING and run_id not in self._told:
                self._told.add(run_id)
                self.on_cancel(run_id)

    def _loop(self) -> None:
        while not self._stop.wait(beat_seconds()):
            try:
                self.beat()
            except Exception as exc:  # the store blinked: the next beat tries again
                log.warning("run lease not refreshed: %s", exc)
