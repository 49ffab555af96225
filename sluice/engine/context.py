"""One run's identity and settings, fixed when it starts: :func:`start` records the run.

Everything that configures a run is said to :func:`start`, never set on the run
afterwards: what asked for it, whether it waits for another run of its pipeline, which
part of a Celery run this process carries out, the mode it writes under (a replay of a
``replace`` pipeline appends). What changes while the run goes is in the objects the
context holds: its report (counted by :mod:`sluice.engine.tally`) and its cancel
signal (set from another thread).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sluice.config import PipelineConfig, Project
from sluice.dburl import redact
from sluice.destinations import Destination
from sluice.destinations.base import Mode
from sluice.engine.report import RunReport
from sluice.engine.settle import settle_stale
from sluice.errors import RunCancelled
from sluice.state.store import StateStore
from sluice.status import RunKind
from sluice.transforms.stated import stated_rules

#: (stream, stage, rows so far); stages: extract (a unit opened, no rows yet), load
#: (rows streaming: read, transformed and written at once), then merge, replace or
#: commit (the warehouse finishing), done. A progress with a method
#: ``bytes_read(stream, unit, read, size)`` is also told, after each batch, about how
#: many bytes of the unit its rows took (their in-memory size: an estimate) and the
#: unit's size (0: not known); one with ``planned(stream, size)`` is told, once the run
#: has planned, the bytes of every unit each stream will load (0: not known).
Progress = Callable[[str, str, int], None]


def _quiet(stream: str, stage: str, rows: int) -> None:
    """No progress display (a service's run, a Celery part)."""


class Cancellation:
    """A run's stop signal: set by another thread (Ctrl-C, ``sluice cancel`` through the
    lease), checked by the run between batches."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.why = ""

    def set(self, why: str = "") -> None:
        if not self.event.is_set():
            self.why = why
        self.event.set()


@dataclass(frozen=True)
class RunContext:
    """One run: its pipeline, where it writes, its id and its report."""

    project: Project
    name: str  # the pipeline's
    pipe: PipelineConfig
    store: StateStore
    #: the run opened ``store`` and closes it when it ends
    own_store: bool
    run_id: str
    url: str  # the warehouse's, or an http destination's endpoint
    mode: Mode  # the pipeline's, or ``append`` for a replay of a ``replace`` pipeline
    report: RunReport
    kind: RunKind = RunKind.RUN
    trigger: str = "cli"  # what asked for the run: cli, api, schedule, watch, celery
    #: another run has the pipeline: wait for it (True) or refuse to start (False)
    wait: bool = False
    part: str | None = None  # the part of a Celery run this carries out
    pages: tuple[int, int] | None = None  # an API part of a Celery run: its pages
    progress: Progress = _quiet
    cancellation: Cancellation = field(default_factory=Cancellation)
    #: the warehouse this run borrows instead of opening its own (a Celery worker keeps
    #: one per URL for all its parts): called on first use, never closed by the run
    borrowed: Callable[[], Destination] | None = None

    @property
    def cancelled(self) -> threading.Event:
        return self.cancellation.event

    def cancel(self, why: str = "") -> None:
        """Ask the run to stop: the load in progress rolls back, the run ends ``cancelled``.
        ``why``: what asked (``SIGINT``, ``sluice cancel``), said in its message."""
        self.cancellation.set(why)

    def check_cancelled(self) -> None:
        if self.cancelled.is_set():
            why = f" ({self.cancellation.why})" if self.cancellation.why else ""
            raise RunCancelled(
                f"run {self.run_id} of {self.name} was cancelled{why}",
                hint="the load in progress was rolled back, the table is as it was; "
                "run again to load the rest",
            )

    def log(self, level: str, message: str, **data: Any) -> None:
        """A line of the run's log (``sluice show``, the dashboard)."""
        self.store.log(self.run_id, level, message, **data)


def start(
    project: Project,
    pipeline: str,
    *,
    store: StateStore | None = None,
    kind: RunKind = RunKind.RUN,
    run_id: str | None = None,
    claim: bool = True,
    trigger: str = "cli",
    wait: bool = False,
    part: str | None = None,
    pages: tuple[int, int] | None = None,
    mode: Mode | None = None,
    progress: Progress | None = None,
    borrowed: Callable[[], Destination] | None = None,
) -> RunContext:
    """Record a run of ``pipeline`` (or take one over) and say how it goes.

    ``store``: the state store to use (None: the run opens its own, and closes it when
    it ends). ``run_id``: carry out a run another process recorded (the service's
    worker); ``claim=False``: only a part of it (a Celery task), the run keeps its
    owner; with ``part``, the part of it this carries out (started by
    ``RunParts.start``). ``mode``: write under this mode instead of the pipeline's.
    ``borrowed``: the warehouse to load into, opened by the caller (who closes it).
    """
    pipe = project.pipeline(pipeline)
    own_store = store is None
    store = store or StateStore(project.state_url())
    url = project.destination_url(pipe)
    mode = mode or pipe.destination.mode
    # A part of a Celery run skips both: its run was adopted and the stale runs settled
    # when the run was planned, and the part's start refreshed the run's heartbeat
    # (RunParts.start), two transactions fewer for each of a run's parts.
    if part is None or run_id is None:
        # Runs whose process is gone are settled first: what they committed is counted,
        # what they held rolls back (and this run loads it).
        settle_stale(project, store, keep=run_id)
        run_id = store.adopt_run(run_id, claim=claim) if run_id else store.start_run(pipeline)
    report = RunReport(
        run_id=run_id,
        pipeline=pipeline,
        table=pipe.table.name,
        destination=redact(url),
        mode=mode,
        kind=kind,
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        rules=stated_rules(pipe),
    )
    return RunContext(
        project=project,
        name=pipeline,
        pipe=pipe,
        store=store,
        own_store=own_store,
        run_id=run_id,
        url=url,
        mode=mode,
        report=report,
        kind=kind,
        trigger=trigger,
        wait=wait,
        part=part,
        pages=pages,
        progress=progress or _quiet,
        borrowed=borrowed,
    )
