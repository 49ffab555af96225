"""A run's log and its stages' progress, as ``sluice show`` and the dashboard read them."""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from sluice import logs
from sluice.redact import redact_data, redact_text
from sluice.state.core import StoreCore
from sluice.state.faults import retry_dropped
from sluice.state.models import Event, Run, Stage, utcnow


@retry_dropped
class RunLog(StoreCore):
    """Log events (the one door into a run's log) and rows per stage and stream."""

    def stages(self, run_id: str) -> Sequence[Stage]:
        with self.session() as s:
            return s.scalars(
                sa.select(Stage).where(Stage.run_id == run_id).order_by(Stage.id)
            ).all()

    def events(
        self, run_id: str, *, after: int | None = None, limit: int | None = None
    ) -> Sequence[Event]:
        """The run's log, oldest first; ``after`` an event id, at most ``limit`` events."""
        q = sa.select(Event).where(Event.run_id == run_id).order_by(Event.id)
        if after is not None:  # a 64-bit bound (the column may be 32-bit: PostgreSQL's)
            q = q.where(Event.id > sa.literal(after, sa.BigInteger))
        if limit is not None:
            q = q.limit(limit)
        with self.session() as s:
            return s.scalars(q).all()

    def progress(self, run_id: str, stream: str, stage: str, rows: int, seconds: float) -> None:
        self.progress_stages(run_id, stream, {stage: (rows, seconds)})

    def progress_stages(
        self, run_id: str, stream: str, stages: Mapping[str, tuple[int, float]]
    ) -> None:
        """Rows and seconds so far of a stream's ``stages``, in one transaction (a local
        run records three after each file: one each made 360 of a 120-file run's)."""
        with self.session() as s:
            known = {
                row.stage: row
                for row in s.scalars(
                    sa.select(Stage).where(
                        Stage.run_id == run_id, Stage.stream == stream, Stage.stage.in_(stages)
                    )
                )
            }
            for stage, (rows, seconds) in stages.items():
                row = known.get(stage)
                if row is None:
                    s.add(
                        Stage(run_id=run_id, stream=stream, stage=stage, rows=rows, seconds=seconds)
                    )
                else:
                    row.rows, row.seconds, row.updated_at = rows, seconds, utcnow()
                if logs.enabled(logging.DEBUG):
                    self.once_committed(
                        functools.partial(
                            logs.mirror,
                            logging.DEBUG,
                            f"{stream}: {stage} {rows:,} rows, {seconds:.2f} s",
                            run_id=run_id,
                            pipeline=self._pipeline_of(s, run_id),
                            event="stage",
                            stream=stream,
                            data={"stage": stage, "rows": rows, "seconds": round(seconds, 3)},
                        )
                    )

    def log(self, run_id: str, level: str, message: str, **data: Any) -> None:
        # The one door into the run log: what it keeps, viewers read and alerts quote,
        # so the secrets of URLs in it (a password, an api_key parameter) are masked here.
        message, data = redact_text(message), redact_data(data)
        with self.session() as s:
            # one INSERT, not the ORM's unit of work: a Celery part writes two of these
            # and a local run one per file (no data: SQL NULL, as the ORM wrote it)
            s.execute(
                sa.insert(Event).values(
                    run_id=run_id, level=level, message=message, data=data or sa.null()
                )
            )
            # ... and mirrored to the logger `sluice.run` (see :mod:`sluice.logs`)
            at = logs.level_of(level)
            if logs.enabled(at):
                pipeline = self._pipeline_of(s, run_id)
                self.once_committed(
                    functools.partial(
                        logs.mirror, at, message, run_id=run_id, pipeline=pipeline, data=data
                    )
                )

    def _pipeline_of(self, s: Session, run_id: str) -> str | None:
        """The pipeline of ``run_id``, read once per run and store (a mirrored record
        names it)."""
        known: dict[str, str | None] = self.__dict__.setdefault("_pipelines", {})
        if run_id not in known:
            if len(known) > 1000:  # a long-lived service: forget the old runs
                known.clear()
            known[run_id] = s.scalar(sa.select(Run.pipeline).where(Run.id == run_id))
        return known[run_id]
