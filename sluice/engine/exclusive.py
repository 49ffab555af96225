"""One run of a pipeline at a time: a run takes its pipeline before it touches anything.

Every way a run starts goes through :func:`take` (from
:func:`sluice.engine.lifecycle.execute`: ``sluice run``, the service's worker
processes, replays; the Celery plan task for a Celery run, whose parts then run
under it). A second run of a pipeline that is going is refused
with who has it, or (``wait``) waits ``queued`` for its turn, cancellable all along.
The lock is the state store's (:mod:`sluice.state.locks`): it holds across processes
and machines, and a killed holder does not block for ever (its lease expires).
"""

from __future__ import annotations

import time
from typing import Protocol

from sluice.engine.lease import lease_seconds
from sluice.errors import RunConflict
from sluice.state.locks import PipelineLocks
from sluice.state.models import Run
from sluice.state.store import StateStore
from sluice.status import RunKind

POLL_SECONDS = 0.5


class Taker(Protocol):
    """What :func:`take` needs of a run (a :class:`~sluice.engine.context.RunContext`)."""

    @property
    def store(self) -> StateStore: ...
    @property
    def name(self) -> str: ...
    @property
    def run_id(self) -> str: ...
    @property
    def wait(self) -> bool: ...
    @property
    def trigger(self) -> str: ...  # cli, api, schedule, watch

    def check_cancelled(self) -> None: ...


def then(pipeline: str, kind: RunKind = RunKind.RUN, trigger: str = "cli") -> str:
    """What to do instead, for a run of ``kind`` asked for by ``trigger``."""
    if kind == RunKind.REPLAY and trigger == "cli":
        return "or `sluice quarantine replay --wait` to start the replay when it ends"
    if kind == RunKind.REPLAY:
        return "replay again once it has ended"
    if trigger == "cli":
        return f"or `sluice run {pipeline} --wait` to start this run when it ends"
    return f"or set `if_running: queue` on pipeline {pipeline!r} to have runs wait their turn"


def busy(pipeline: str, holder: Run, then: str) -> RunConflict:
    """The refusal: who has the pipeline, since when, and what to do."""
    who = f"pid {holder.pid} on {holder.host}" if holder.pid else f"on {holder.host} workers"
    since = holder.started_at.strftime("%Y-%m-%d %H:%M:%S")
    return RunConflict(
        f"pipeline {pipeline!r} is already running as run {holder.id} ({who}, started "
        f"{since} UTC); wait for it or `sluice cancel {holder.id}`",
        hint=then,
    )


def refuse_if_running(store: StateStore, pipeline: str, then: str) -> None:
    """Refuse before a run is even recorded when another run has ``pipeline``."""
    holder = PipelineLocks(store).holder(pipeline, lease_seconds())
    if holder is not None:
        raise busy(pipeline, holder, then)


def take(run: Taker, kind: RunKind = RunKind.RUN) -> None:
    """Take ``run``'s pipeline; wait for it if ``run.wait``, else refuse (RunConflict)."""
    locks = PipelineLocks(run.store)
    holder = locks.claim(run.name, run.run_id, lease_seconds())
    if holder is None:
        return
    if not run.wait:
        raise busy(run.name, holder, then(run.name, kind, run.trigger))
    locks.set_waiting(run.run_id, True)
    run.store.log(
        run.run_id,
        "info",
        f"waiting for run {holder.id} of {run.name} to end (it has the pipeline)",
        waiting_for=holder.id,
    )
    while holder is not None:
        run.check_cancelled()  # `sluice cancel`, Ctrl-C: stop waiting
        time.sleep(POLL_SECONDS)
        holder = locks.claim(run.name, run.run_id, lease_seconds())
    run.check_cancelled()
    locks.set_waiting(run.run_id, False)
    run.store.log(run.run_id, "info", "the run before it ended: starting")
