"""Runs in the state store: recorded, leased, cancelled, finished, found again.

A live run (:data:`~sluice.status.LIVE`) holds a lease, ``heartbeat_at``, that whoever
carries it out keeps fresh (:meth:`RunRecords.beat`); a run whose lease expired, or
whose process on this host is gone, is stale and is settled by the next command
(:mod:`sluice.engine.settle`).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import sqlalchemy as sa

from sluice.errors import NotFound, UsageError
from sluice.redact import redact_data
from sluice.state.core import StoreCore
from sluice.state.faults import retry_dropped
from sluice.state.models import PipelineLock, Run, utcnow
from sluice.status import LIVE, RunStatus


class Reported(Protocol):
    """A run's report as the engine makes it (``RunReport``): the store keeps its document."""

    def as_dict(self) -> dict[str, Any]: ...


def new_run_id() -> str:
    # Sortable by start time, unique across workers.
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]


#: newest first: by start time, then id (runs of one second tie on their time)
NEWEST_FIRST = (Run.started_at.desc(), Run.id.desc())


@retry_dropped
class RunRecords(StoreCore):
    """The runs: one row each, with its status, lease, owner and report."""

    def start_run(self, pipeline: str, *, host: str | None = None) -> str:
        """Record a new run, owned by this process; ``host``: owned by something else
        (``celery``: workers carry it out, and no local pid says whether it lives).
        Its lease starts now: whoever carries it out keeps it fresh (:meth:`beat`)."""
        run_id = new_run_id()
        with self.session() as s:
            s.add(
                Run(
                    id=run_id,
                    pipeline=pipeline,
                    status=RunStatus.RUNNING,
                    host=host or socket.gethostname(),
                    pid=0 if host else os.getpid(),
                    heartbeat_at=utcnow(),
                )
            )
        return run_id

    def adopt_run(self, run_id: str, *, claim: bool = True) -> str:
        """This process now carries out ``run_id`` (recorded by another): its pid is ours.

        ``claim=False``: only one part of it (a Celery task); the run's owner stays.
        """
        with self.session() as s:
            run = s.get(Run, run_id)
            if run is None:
                raise UsageError(f"no run {run_id!r} in the state store")
            run.heartbeat_at = utcnow()
            if claim:
                run.pid = os.getpid()
                run.host = socket.gethostname()
                if run.status != RunStatus.CANCELLING:  # a cancel asked while it started holds
                    run.status = RunStatus.RUNNING
        return run_id

    def beat(self, run_ids: Sequence[str]) -> dict[str, RunStatus]:
        """Refresh the leases of those of ``run_ids`` still live; the status of each."""
        if not run_ids:
            return {}
        ids = list(run_ids)
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(Run)
                .where(Run.id.in_(ids), Run.status.in_(LIVE))
                .values(heartbeat_at=utcnow())
            )
            rows = conn.execute(sa.select(Run.id, Run.status).where(Run.id.in_(ids)))
            return {i: RunStatus(st) for i, st in rows}

    def beat_hosted(self, host: str, pipelines: Sequence[str]) -> None:
        """Refresh the leases of the live runs of ``pipelines`` owned by ``host`` (a live
        Celery worker keeps the runs queued for workers alive)."""
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(Run)
                .where(Run.host == host, Run.pipeline.in_(list(pipelines)), Run.status.in_(LIVE))
                .values(heartbeat_at=utcnow())
            )

    def stale_runs(self, lease_seconds: float, pipeline: str | None = None) -> list[Run]:
        """Live runs that no one carries out any more: their lease expired, or the
        process that owned them on this host is gone."""
        host, now = socket.gethostname(), utcnow()
        q = sa.select(Run).where(Run.status.in_(LIVE)).order_by(Run.id)
        if pipeline is not None:
            q = q.where(Run.pipeline == pipeline)
        with self.session() as s:
            found = list(s.scalars(q))
        stale = []
        for run in found:
            beat = run.heartbeat_at or run.started_at
            if beat.tzinfo is None:  # SQLite keeps no zone
                beat = beat.replace(tzinfo=UTC)
            expired = (now - beat).total_seconds() > lease_seconds
            gone = run.host == host and run.pid > 0 and not _alive(run.pid)
            if expired or gone:
                stale.append(run)
        return stale

    def request_cancel(self, run_id: str) -> RunStatus | None:
        """Ask a live run to stop (``cancelling``: whoever carries it out sees it on its
        next heartbeat); its status before, or None when it was not live."""
        with self.engine.begin() as conn:
            before = conn.execute(sa.select(Run.status).where(Run.id == run_id)).scalar()
            if before not in LIVE:
                return None
            conn.execute(
                sa.update(Run)
                .where(Run.id == run_id, Run.status.in_(LIVE))
                .values(status=RunStatus.CANCELLING)
            )
            return RunStatus(before)

    def finish_run(
        self, run_id: str, status: RunStatus, report: Reported | Mapping[str, Any]
    ) -> None:
        """Record the run's end; the pipeline it held is free (in the same transaction).
        The report (a ``RunReport``, or the document of one) is kept with the secrets of
        its URLs masked (:mod:`sluice.redact`)."""
        doc = redact_data(dict(report) if isinstance(report, Mapping) else report.as_dict())
        with self.session() as s:
            run = s.get_one(Run, run_id)
            run.status, run.report, run.finished_at = status, doc, utcnow()
            s.execute(sa.delete(PipelineLock).where(PipelineLock.run_id == run_id))

    def set_run_status(self, run_id: str, status: RunStatus) -> None:
        """A run waiting its turn is ``queued``; it is ``running`` again when it starts."""
        with self.session() as s:
            s.get_one(Run, run_id).status = status

    def runs(
        self,
        pipeline: str | None = None,
        limit: int = 20,
        *,
        status: str | None = None,
        offset: int = 0,
    ) -> Sequence[Run]:
        q = sa.select(Run).order_by(*NEWEST_FIRST).limit(limit)
        if pipeline:
            q = q.where(Run.pipeline == pipeline)
        if status:
            q = q.where(Run.status == status)
        if offset:
            q = q.offset(offset)
        with self.session() as s:
            return s.scalars(q).all()

    def run(self, run_id: str) -> Run | None:
        with self.session() as s:
            run = s.get(Run, run_id)
            if run is None:  # allow a unique prefix, as git does (% and _ are characters)
                prefix = Run.id.startswith(run_id, autoescape=True)
                found = s.scalars(sa.select(Run).where(prefix).limit(2)).all()
                run = found[0] if len(found) == 1 else None
            return run

    def known_run(self, run_id: str) -> Run:
        """The run with this whole id; :class:`NotFound` when the state store has none."""
        run = self.run(run_id)
        if run is None:
            raise _no_run(run_id)
        return run

    def find_run(self, run_id: str, command: str = "sluice show") -> Run:
        """:meth:`run`, or a :class:`UsageError` that says why: no run has that id, or
        several start with it (a few named, newest first, for ``command``)."""
        run = self.run(run_id)
        if run is not None:
            return run
        where = Run.id.startswith(run_id, autoescape=True)
        with self.session() as s:
            total = s.scalar(sa.select(sa.func.count()).select_from(Run).where(where)) or 0
            # Newest first, as `sluice runs` lists them.
            ids = list(s.scalars(sa.select(Run.id).where(where).order_by(*NEWEST_FIRST).limit(5)))
        if total > 1:
            more = f" and {total - len(ids)} more" if total > len(ids) else ""
            raise UsageError(
                f"run id {run_id!r} is ambiguous: {total} runs start with it: "
                f"{', '.join(ids)}{more}",
                hint=f"give more of the id: `{command} {ids[0]}` (the newest)",
            )
        raise _no_run(run_id)


def _no_run(run_id: str) -> NotFound:
    return NotFound(f"no run {run_id!r}", hint="`sluice runs` lists the recent ones")


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
