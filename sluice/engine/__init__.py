"""The engine: run lifecycle, accounting, quarantine and replay."""

from sluice.engine.report import Counts, RunReport, StreamReport
from sluice.engine.runner import Runner, run_pipeline

__all__ = ["Counts", "RunReport", "Runner", "StreamReport", "run_pipeline"]
