"""Cron schedules for ``sluice serve``: each pipeline with ``schedule`` runs at its slots (UTC).

The scheduler knows nothing of the service: it calls ``submit(pipeline, "schedule")``,
which returns a run id, or None when the run was refused (the pipeline is running).

Every slot is handled once, whatever happens to it. The newest slot handled is kept per
pipeline in the state store, so a server that was down over several slots runs the
pipeline ONCE when it comes back (for the newest missed slot), not once per slot. A slot
whose submit is refused is not tried again: the next run is at the next slot.

    scheduler = Scheduler(project, store, submit)
    scheduler.start()            # a daemon thread that ticks every second
    scheduler.next_run("leads")  # datetime in UTC, or None
    scheduler.stop()

Tests drive it without sleeping: pass ``clock=`` and call :meth:`Scheduler.tick`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sluice.config import Project
from sluice.cron import Cron
from sluice.service.runtime.periodic import Periodic
from sluice.state.models import ScheduleMark
from sluice.state.store import StateStore
from sluice.status import SlotOutcome

log = logging.getLogger("sluice.scheduler")

#: (pipeline name, trigger kind) -> run id, or None if refused because it is running
Submit = Callable[[str, str], str | None]
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Fired:
    """One slot handled by a tick."""

    pipeline: str
    slot: datetime
    run_id: str | None  # None: refused (already running) or the submit raised
    outcome: SlotOutcome  # submitted, rejected, error


class Scheduler:
    def __init__(
        self,
        project: Project,
        store: StateStore,
        submit: Submit,
        *,
        clock: Clock = utc_now,
        interval: float = 1.0,
    ) -> None:
        self.project = project
        self.store = store
        self.submit = submit
        self.clock = clock
        self.interval = interval
        self.crons = {
            name: Cron(pipe.schedule) for name, pipe in project.pipelines.items() if pipe.schedule
        }
        self._periodic = Periodic("sluice-scheduler", self.tick, interval)

    # ------------------------------------------------------------------ queries

    def next_run(self, pipeline: str) -> datetime | None:
        """When ``pipeline`` runs next (UTC); None if it has no schedule.

        A slot missed while the server was down is due now: it is returned as is, in
        the past, until the next tick runs it.
        """
        cron = self.crons.get(pipeline)
        if cron is None:
            return None
        return cron.next_after(self._baseline(pipeline, cron))

    @property
    def alive(self) -> bool:
        """True while the scheduler thread runs."""
        return self._periodic.alive

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Scheduler:
        """Tick once now (a missed slot runs at start-up), then every ``interval`` s."""
        self._periodic.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._periodic.stop(timeout)

    # ------------------------------------------------------------------ the work

    def tick(self) -> list[Fired]:
        """Submit every pipeline whose next slot has come; return what was handled."""
        now = self.clock()
        fired = []
        for name, cron in self.crons.items():
            handled = self._fire_if_due(name, cron, now)
            if handled is not None:
                fired.append(handled)
        return fired

    def _baseline(self, pipeline: str, cron: Cron) -> datetime:
        mark = self.store.schedule_mark(pipeline)
        if mark is not None and mark.schedule == cron.expression:
            return mark.last_slot
        return self.clock()

    def _mark(self, pipeline: str, cron: Cron, now: datetime) -> ScheduleMark:
        """The stored mark; a schedule seen for the first time (or changed) is marked
        now, so it does not fire for a slot that passed before it existed, and a slot
        missed after this, while the server is down, still runs at start-up."""
        mark = self.store.schedule_mark(pipeline)
        if mark is None or mark.schedule != cron.expression:
            seen = mark.fires if mark is not None else None
            baseline = SlotOutcome.BASELINE
            self.store.claim_slot(pipeline, cron.expression, now, seen, outcome=baseline)
            mark = self.store.schedule_mark(pipeline)
            assert mark is not None
        return mark

    def _fire_if_due(self, pipeline: str, cron: Cron, now: datetime) -> Fired | None:
        mark = self._mark(pipeline, cron, now)
        since = mark.last_slot
        if cron.next_after(since) > now:
            return None
        # One run for the newest slot that has come, however many were missed.
        slot = cron.latest_at_or_before(now)
        if not self.store.claim_slot(pipeline, cron.expression, slot, mark.fires):
            return None  # another scheduler on this state store took it
        try:
            run_id = self.submit(pipeline, "schedule")
        except Exception:
            log.exception("scheduled run of %s at %s could not be submitted", pipeline, slot)
            self.store.record_slot(pipeline, SlotOutcome.ERROR, None)
            return Fired(pipeline, slot, None, SlotOutcome.ERROR)
        outcome = SlotOutcome.SUBMITTED if run_id is not None else SlotOutcome.REJECTED
        if run_id is None:
            log.warning(
                "scheduled run of %s at %s skipped: a run of it is still going; next at %s",
                pipeline,
                slot.isoformat(),
                cron.next_after(slot).isoformat(),
            )
        self.store.record_slot(pipeline, outcome, run_id)
        return Fired(pipeline, slot, run_id, outcome)


__all__ = ["Clock", "Fired", "Scheduler", "Submit", "utc_now"]
