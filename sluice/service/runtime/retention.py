"""``sluice serve``'s daily prune (``retention: 30d`` in sluice.yaml): what
``sluice prune`` does (:func:`sluice.engine.retention.prune`), at start and then daily.
"""

from __future__ import annotations

import logging

from sluice.config import Project
from sluice.durations import parse_duration
from sluice.engine.retention import prune
from sluice.service.runtime.periodic import Periodic
from sluice.state.prune import Pruned
from sluice.state.store import StateStore

log = logging.getLogger(__name__)

DAY = 24 * 3600.0


class Retention:
    """``sluice serve``'s daily prune (at start, then every ``interval`` seconds)."""

    def __init__(self, project: Project, store: StateStore, *, interval: float = DAY) -> None:
        assert project.retention is not None
        self.project, self.store = project, store
        self.older_than = parse_duration(project.retention)
        self._periodic = Periodic("sluice-retention", self.step, interval)

    def step(self) -> Pruned:
        pruned = prune(self.project, self.store, self.older_than)
        if pruned.runs or pruned.entries:
            log.info(
                "retention %s: pruned %d runs (%d log events), %d closed quarantine entries, "
                "%d dead-letter copies",
                self.project.retention,
                pruned.runs,
                pruned.events,
                pruned.entries,
                len(pruned.copies),
            )
        return pruned

    def start(self) -> Retention:
        self._periodic.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._periodic.stop(timeout)
