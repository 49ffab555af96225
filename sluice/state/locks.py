"""One run of a pipeline at a time, across processes and machines sharing a state store.

A run takes its pipeline by writing the pipeline's row in ``sluice_pipeline_locks``
(its primary key): of two runs starting at once, exactly one inserts it. The row holds
while the run it names is live: a run that ended, or whose lease expired or whose
process on this host is gone (:meth:`StateStore.stale_runs`), holds nothing, and the
next run takes the row over with a compare-and-set on the run id, so again only one
does. ``finish_run`` removes the row with the run's end.

The lock belongs to the run, not to a process or a connection: the parts of a Celery
run, carried out by any worker, run under the lock their run took when it was planned.
"""

from __future__ import annotations

import sqlalchemy as sa

from sluice.state.faults import retry_dropped
from sluice.state.models import PipelineLock, Run, utcnow
from sluice.state.store import StateStore
from sluice.status import LIVE, RunStatus

TRIES = 20  # rounds of a claim that keeps meeting another claim (each: a few ms)


@retry_dropped
class PipelineLocks:
    def __init__(self, store: StateStore) -> None:
        self.store = store
        self.table = sa.Table(PipelineLock.__tablename__, PipelineLock.metadata)

    def claim(self, pipeline: str, run_id: str, lease_seconds: float) -> Run | None:
        """Take ``pipeline`` for ``run_id`` (again: a run that has it keeps it).

        None when taken; else the live run that has it."""
        t = self.table
        for _ in range(TRIES):
            with self.store.engine.connect() as conn:
                holder = conn.execute(sa.select(t.c.run_id).where(t.c.pipeline == pipeline))
                held_by = holder.scalar()
            if held_by is None:
                try:
                    with self.store.engine.begin() as conn:
                        conn.execute(
                            t.insert().values(pipeline=pipeline, run_id=run_id, claimed_at=utcnow())
                        )
                    return None
                except sa.exc.IntegrityError:
                    continue  # another run took it at this very moment: look again
            if held_by == run_id:
                return None
            live = self._live(pipeline, held_by, lease_seconds)
            if live is not None:
                return live
            with self.store.engine.begin() as conn:  # the holder is gone: take it over
                taken = conn.execute(
                    t.update()
                    .where(t.c.pipeline == pipeline, t.c.run_id == held_by)
                    .values(run_id=run_id, claimed_at=utcnow())
                )
            if taken.rowcount == 1:
                return None
        raise RuntimeError(f"pipeline {pipeline!r}: the lock changed hands {TRIES} times")

    def holder(self, pipeline: str, lease_seconds: float) -> Run | None:
        """The live run that has ``pipeline``, if any."""
        t = self.table
        with self.store.engine.connect() as conn:
            held_by = conn.execute(sa.select(t.c.run_id).where(t.c.pipeline == pipeline)).scalar()
        return None if held_by is None else self._live(pipeline, held_by, lease_seconds)

    def release(self, pipeline: str, run_id: str) -> None:
        t = self.table
        with self.store.engine.begin() as conn:
            conn.execute(t.delete().where(t.c.pipeline == pipeline, t.c.run_id == run_id))

    def set_waiting(self, run_id: str, waiting: bool) -> bool:
        """``queued`` while the run waits for its pipeline, ``running`` again after; a
        cancel asked meanwhile (``cancelling``) is kept. Whether the status changed."""
        queued, running = RunStatus.QUEUED, RunStatus.RUNNING
        before, after = (running, queued) if waiting else (queued, running)
        with self.store.engine.begin() as conn:
            done = conn.execute(
                sa.update(Run).where(Run.id == run_id, Run.status == before).values(status=after)
            )
        return bool(done.rowcount == 1)

    def _live(self, pipeline: str, run_id: str, lease_seconds: float) -> Run | None:
        run = self.store.run(run_id)
        if run is None or run.status not in LIVE:
            return None
        stale = self.store.stale_runs(lease_seconds, pipeline)
        return None if any(r.id == run.id for r in stale) else run
