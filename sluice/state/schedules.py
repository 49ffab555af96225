"""Schedule marks: the newest cron slot each pipeline's schedule handled, claimed with a
compare-and-set so that two servers sharing a state store never fire the same slot."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from sluice.state.core import StoreCore
from sluice.state.faults import retry_dropped
from sluice.state.models import Base, ScheduleMark, utcnow
from sluice.status import SlotOutcome


@retry_dropped
class ScheduleMarks(StoreCore):
    """One mark per scheduled pipeline: its last slot, and what came of it."""

    def schedule_mark(self, pipeline: str) -> ScheduleMark | None:
        """The newest cron slot the scheduler handled for ``pipeline`` (times in UTC)."""
        with self.session() as s:
            mark = s.get(ScheduleMark, pipeline)
            if mark is not None and mark.last_slot.tzinfo is None:  # SQLite keeps no zone
                mark.last_slot = mark.last_slot.replace(tzinfo=UTC)
            return mark

    def claim_slot(
        self,
        pipeline: str,
        schedule: str,
        slot: datetime,
        seen: int | None,
        outcome: SlotOutcome = SlotOutcome.CLAIMED,
    ) -> bool:
        """Take ``slot`` if the mark is still the one read (``fires == seen``; None: no
        mark yet). False when another scheduler on this store took it first."""
        t = sa.Table(ScheduleMark.__tablename__, Base.metadata)
        values = {"schedule": schedule, "last_slot": slot, "outcome": outcome, "run_id": None}
        with self.engine.begin() as conn:
            if seen is None:
                try:
                    with conn.begin_nested():
                        conn.execute(
                            t.insert().values(
                                pipeline=pipeline, fires=1, updated_at=utcnow(), **values
                            )
                        )
                except sa.exc.IntegrityError:
                    return False
                return True
            done = conn.execute(
                t.update()
                .where(t.c.pipeline == pipeline, t.c.fires == seen)
                .values(fires=seen + 1, updated_at=utcnow(), **values)
            )
            return done.rowcount == 1

    def record_slot(self, pipeline: str, outcome: SlotOutcome, run_id: str | None) -> None:
        """What became of the slot just claimed: submitted, rejected or error."""
        with self.session() as s:
            mark = s.get_one(ScheduleMark, pipeline)
            mark.outcome, mark.run_id, mark.updated_at = outcome, run_id, utcnow()
