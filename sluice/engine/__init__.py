"""The engine: one run of a pipeline, from its sources to its warehouse.

A run starts with :func:`start` (:mod:`~sluice.engine.context`: the run is recorded,
its settings fixed) and is carried out by :func:`run` (:mod:`~sluice.engine.run`):
the planner (:mod:`~sluice.engine.plan`) lists the units and checks them against the
file ledger, the loader (:mod:`~sluice.engine.load`) loads each planned load
atomically, opening its units through the unit opener (:mod:`~sluice.engine.opener`:
header mapping, drift, evolve); :mod:`~sluice.engine.lifecycle` holds the run's life
around that (lease, one run per pipeline, report, end). Every row is counted once
(:mod:`~sluice.engine.tally`: read = loaded + quarantined + filtered), what cannot be
loaded is set aside (quarantine, dead-letter copies) and replay
(:mod:`~sluice.engine.replay`) loads it again through the same pieces. Around the run
itself: the settling of runs whose process is gone, retention's prune, and the read
models the CLI and the service show (:mod:`~sluice.engine.inspect`: datasets, audit,
validate's checks) and ``sluice record``.

Who carries a run out and where (a worker process, Celery) is
:mod:`sluice.executors`; what ``sluice serve`` runs beside it (scheduler, folder
watcher, alerts, metrics) is :mod:`sluice.service.runtime`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sluice.engine.context import RunContext, start
    from sluice.engine.report import Counts, RunReport, StreamReport
    from sluice.engine.run import run_pipeline

#: public name -> its module. Loaded on first use (PEP 562): importing one module of the
#: engine (``sluice runs`` needs only settle) does not load the whole data plane.
_WHERE = {
    "Counts": "sluice.engine.report",
    "RunContext": "sluice.engine.context",
    "RunReport": "sluice.engine.report",
    "StreamReport": "sluice.engine.report",
    "run_pipeline": "sluice.engine.run",
    "start": "sluice.engine.context",
}

__all__ = ["Counts", "RunContext", "RunReport", "StreamReport", "run_pipeline", "start"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'sluice.engine' has no attribute {name!r}")
