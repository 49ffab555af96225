"""The inline executor: a run carried out in this process, in the caller's thread.

``sluice run`` under ``executor: local`` takes this door: the run draws its progress
on the terminal and a signal cancels it, which a run process of ``sluice serve``
could not give. It answers as the Celery executor answers the CLI: :meth:`trigger`
records the run (refused while another run has the pipeline, unless ``queue``),
:meth:`wait` carries it out and gives its report, :meth:`cancel` stops it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sluice.config import Project
from sluice.engine import RunContext, start
from sluice.engine.context import Progress
from sluice.engine.exclusive import refuse_if_running, then
from sluice.engine.run import run
from sluice.executors.hooks import RunHooks
from sluice.executors.local import Submitted
from sluice.state.store import StateStore
from sluice.status import RunStatus


@dataclass(frozen=True)
class _Triggered:
    """A run :meth:`InlineExecutor.trigger` recorded, for :meth:`InlineExecutor.wait`."""

    ctx: RunContext
    source: str | None
    file: str | None
    full_refresh: bool


class InlineExecutor:
    def __init__(self, project: Project, store: StateStore, hooks: RunHooks | None = None) -> None:
        self.project, self.store = project, store
        self.hooks = hooks or RunHooks()  # told of every run carried out here when it ends
        self._runs: dict[str, _Triggered] = {}

    def trigger(
        self,
        pipeline: str,
        by: str = "cli",
        *,
        file: str | None = None,
        source: str | None = None,
        full_refresh: bool = False,
        queue: bool = False,
        progress: Progress | None = None,
    ) -> Submitted:
        """Record a run of ``pipeline``; :meth:`wait` carries it out. Refused before it is
        recorded while another run has the pipeline, unless ``queue``: it then waits its
        turn (``queued``) once carried out. ``progress(stream, stage, rows)``: told as
        rows go."""
        if not queue:
            refuse_if_running(self.store, pipeline, then(pipeline))
        ctx = start(
            self.project, pipeline, store=self.store, trigger=by, wait=queue, progress=progress
        )
        self._runs[ctx.run_id] = _Triggered(ctx, source, file, full_refresh)
        return Submitted(ctx.run_id, pipeline, RunStatus.RUNNING)

    def wait(self, run_id: str) -> dict[str, Any]:
        """Carry out the run ``run_id`` here and now; its report."""
        t = self._runs[run_id]
        try:
            report = run(t.ctx, source=t.source, file=t.file, full_refresh=t.full_refresh)
        finally:
            del self._runs[run_id]
        self.hooks.after_run(report)
        return report.as_dict()

    def cancel(self, run_id: str, why: str = "") -> RunStatus | None:
        """Ask the run to stop (from a signal handler): the load in progress rolls back
        and the run ends ``cancelled``. ``why``: what asked (``SIGINT``). Its status now:
        ``cancelling``, or what it ended as (a signal may come after :meth:`wait`); None
        when there is no such run (any more). Never raises: a signal handler calls it."""
        t = self._runs.get(run_id)
        if t is None:  # carried out already: nothing to stop
            run = self.store.run(run_id)
            return RunStatus(run.status) if run is not None else None
        t.ctx.cancel(why)
        return RunStatus.CANCELLING
