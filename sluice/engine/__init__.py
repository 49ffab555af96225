"""The engine: one run of a pipeline, from its sources to its warehouse.

A run (:class:`Runner`) reads the sources unit by unit, transforms and validates the
batches, loads each unit exactly once (the file ledger, load markers), records drift,
counts every row (read = loaded + quarantined + filtered) and sets aside what it cannot
load (quarantine, dead-letter copies); replay loads those again. Around the run itself:
the lease that shows a run is alive and the settling of runs whose process is gone,
the one-run-per-pipeline rule, retention's prune, and the read models the CLI and the
service show (datasets, audit, record).

Who carries a run out and where (a worker process, Celery) is
:mod:`sluice.executors`; what ``sluice serve`` runs beside it (scheduler, folder
watcher, alerts, metrics) is :mod:`sluice.service.runtime`.
"""

from sluice.engine.report import Counts, RunReport, StreamReport
from sluice.engine.runner import Runner, run_pipeline

__all__ = ["Counts", "RunReport", "Runner", "StreamReport", "run_pipeline"]
