"""The parts of a run that Celery workers carry out, kept in the state store.

A run on the Celery executor is planned into parts (one per file, or one per stream);
each part is a row here. A worker marks its part ``running`` when it starts (counting
the attempt), then ``done`` or ``failed`` with the part's own report. Every step is
a small transaction in the shared store, so any worker, any number of times, can pick
up a part again and the last one to end can assemble the run's report.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import Session

from sluice.errors import StateStoreError
from sluice.state.faults import retry_dropped
from sluice.state.models import Run, RunPart, Stage, utcnow
from sluice.state.store import StateStore
from sluice.status import PART_ENDED, PartStatus, RunStatus

FILES = "files:"  # a part's target that packs several files: files:["a.csv", "b.csv"]
WHOLE_RUN = "*"  # the part key (and stream) of a run carried out as one part


@dataclass(frozen=True)
class Part:
    key: str  # unique within the run
    stream: str
    target: str | None  # a file path, several (FILES), a page range; None: the whole stream
    size: int | None = None  # its file's bytes; None: not known


def part_files(target: str | None) -> list[str] | None:
    """The files of a part that packs several (``files:["a.csv", ...]``); None for a
    part of one file, a page range or a whole stream."""
    if not target or not target.startswith(FILES):
        return None
    found = json.loads(target[len(FILES) :])
    return [str(f) for f in found]


def describe(target: str | None) -> str | None:
    """A part's target as a message says it: a file, ``a.csv and 3 more files``."""
    files = part_files(target)
    if files is None:
        return target
    more = len(files) - 1
    return f"{files[0]} and {more} more file{'s' if more != 1 else ''}"


@dataclass(frozen=True)
class PartsTally:
    """How a stream's parts stand: how many, and how many run or ended (failed); the
    rows its running parts read so far (those of the parts that ended are in the
    run's stages); the bytes read (a part that ended: its size; a running one: what
    it told, at most its size) and the stream's size (None: a part's is not known)."""

    parts: int
    running: int
    ended: int
    failed: int
    rows: int = 0
    read: int = 0
    size: int | None = None


class LiveParts(NamedTuple):
    """How a run's parts stand, per stream (:meth:`RunParts.by_stream`)."""

    tallies: dict[str, PartsTally]
    rows: dict[str, int]  # read by its parts that ended (the run's stages)


class Started(NamedTuple):
    """A part as :meth:`RunParts.start` left it, and how its run stands."""

    part: RunPart
    run_status: str


#: how far a running part got: rows, bytes read, its units' bytes (None: as planned)
Told = tuple[int, int, int | None]


@retry_dropped  # each method one short transaction: made again if its connection dropped
class RunParts:
    def __init__(self, store: StateStore) -> None:
        self.store = store

    def plan(self, run_id: str, parts: Sequence[Part]) -> None:
        """Record the run's parts (again: a plan task picked up twice adds nothing)."""
        with self.store.session() as s:
            known = set(s.scalars(sa.select(RunPart.key).where(RunPart.run_id == run_id)))
            for p in parts:
                if p.key not in known:
                    s.add(
                        RunPart(
                            run_id=run_id,
                            key=p.key,
                            stream=p.stream,
                            target=p.target,
                            status=PartStatus.QUEUED,
                            attempts=0,
                            worker="",
                            size=p.size,
                        )
                    )

    def start(self, run_id: str, key: str, worker: str) -> Started | None:
        """Mark a part started by ``worker`` and its run carried out (its heartbeat
        refreshed), in one transaction; None if either is unknown. A part that has
        ended is returned as it is: the caller does nothing more with it. The run's
        status comes with it: a run being cancelled starts no more parts."""
        with self.store.session() as s:
            task = s.get(RunPart, (run_id, key), with_for_update=True)
            run = s.get(Run, run_id)
            if task is None or run is None:
                return None
            if task.status not in PART_ENDED:
                task.status, task.worker = PartStatus.RUNNING, worker
                task.attempts += 1
                task.updated_at = utcnow()
                task.rows = task.bytes_read = None  # an attempt before told its own
                run.heartbeat_at = utcnow()
            s.flush()
            s.expunge(task)
            return Started(task, run.status)

    def finish(
        self,
        run_id: str,
        key: str,
        status: PartStatus,
        result: dict[str, Any],
        stages: Mapping[str, Mapping[str, tuple[int, float]]] | None = None,
    ) -> None:
        """Record a part's end and its report. ``stages``: rows and seconds (per stream,
        per stage) the part adds to its run's stages, in the same transaction: the live
        view of a run sums its ended parts once each, however many parts it has."""
        with self.store.session() as s:
            ended = s.execute(
                sa.update(RunPart)
                .where(RunPart.run_id == run_id, RunPart.key == key)
                .values(status=status, result=result, updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            if ended.rowcount != 1:  # type: ignore[attr-defined]
                raise LookupError(f"no part {key!r} of run {run_id!r} in the state store")
            if stages:
                _add_stages(s, run_id, stages)

    def tick(self, run_id: str, key: str, told: Told | None) -> bool:
        """A running part's once-a-second call, one transaction: write how far it got
        (``told``; None: nothing new) and say whether its run is being cancelled."""
        with self.store.session() as s:
            if told is not None:  # one UPDATE, no read; a size of None keeps the plan's
                rows, bytes_read, size = told
                values: dict[str, Any] = {"rows": rows, "bytes_read": bytes_read}
                if size is not None:
                    values["size"] = size
                s.execute(
                    sa.update(RunPart)
                    .where(
                        RunPart.run_id == run_id,
                        RunPart.key == key,
                        RunPart.status == PartStatus.RUNNING,
                    )
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )
            status = s.scalar(sa.select(Run.status).where(Run.id == run_id))
        return bool(status == RunStatus.CANCELLING)

    def of(self, run_id: str) -> list[RunPart]:
        with self.store.session() as s:
            found = list(
                s.scalars(sa.select(RunPart).where(RunPart.run_id == run_id).order_by(RunPart.key))
            )
            for t in found:
                s.expunge(t)
            return found

    def open_parts(self, run_id: str) -> int:
        """How many parts of the run have not ended."""
        ended, total = self.tally(run_id)
        return total - ended

    def tally(self, run_id: str) -> tuple[int, int]:
        """(parts ended, parts) of the run: one count, no reports read."""
        # SUM(CASE ...), not COUNT(*) FILTER: MySQL has no FILTER.
        ended = sa.func.sum(sa.case((RunPart.status.in_(PART_ENDED), 1), else_=0))
        with self.store.session() as s:
            row = s.execute(sa.select(ended, sa.func.count()).where(RunPart.run_id == run_id)).one()
        return int(row[0] or 0), int(row[1] or 0)

    def by_stream(self, run_id: str) -> LiveParts:
        """Per stream: how its parts stand and how far its running parts got, and the
        rows its parts that ended added to the run's stages (``extract``): one
        statement, so one snapshot (a part that ends meanwhile is counted once), no
        reports read; for a display that follows the run from here."""
        status, size = RunPart.status, RunPart.size
        running = status == PartStatus.RUNNING

        def counted(*statuses: str) -> Any:
            return sa.func.sum(sa.case((status.in_(statuses), 1), else_=0))

        told = sa.func.coalesce(RunPart.bytes_read, 0)
        read = sa.case(
            (status.in_(PART_ENDED), sa.func.coalesce(size, 0)),
            (running & (told > size), size),  # the bytes are an estimate: at most its size
            (running, told),
            else_=0,
        )
        zero: sa.ColumnClause[Any] = sa.literal_column("0")
        parts = (
            sa.select(
                RunPart.stream,
                sa.func.count(),  # a stream's parts: 1 or more; its stage's row: 0
                counted(PartStatus.RUNNING),
                counted(*PART_ENDED),
                counted(PartStatus.FAILED),
                sa.func.sum(sa.case((running, sa.func.coalesce(RunPart.rows, 0)), else_=0)),
                sa.func.sum(read),
                sa.func.sum(sa.case((size.is_(None), 1), else_=0)),  # sizes not known
                sa.func.sum(size),
                zero,
            )
            .where(RunPart.run_id == run_id)
            .group_by(RunPart.stream)
        )
        stages = sa.select(Stage.stream, *[zero] * 8, Stage.rows).where(
            Stage.run_id == run_id, Stage.stage == "extract"
        )
        with self.store.session() as s:
            found = s.execute(sa.union_all(parts, stages)).all()
        out = LiveParts({}, {})
        for stream, *counts in found:
            n, going, ended, failed, rows, got, unknown, total, added = (
                int(c or 0) for c in counts
            )
            if n:
                known = None if unknown else total
                out.tallies[str(stream)] = PartsTally(n, going, ended, failed, rows, got, known)
            else:
                out.rows[str(stream)] = added
        return out


def _add_stages(
    s: Session, run_id: str, stages: Mapping[str, Mapping[str, tuple[int, float]]]
) -> None:
    """Add rows and seconds to the run's stages: one UPDATE for them all (a stage row
    the plan did not make is made here)."""
    added = {
        (stream, stage): (rows, secs)
        for stream, per_stage in stages.items()
        for stage, (rows, secs) in per_stage.items()
        if rows or secs
    }
    if not added:
        return
    where = [(Stage.stream == stream) & (Stage.stage == stage) for stream, stage in added]
    rows = sa.case(*((w, n) for w, (n, _) in zip(where, added.values(), strict=True)), else_=0)
    secs = sa.case(*((w, t) for w, (_, t) in zip(where, added.values(), strict=True)), else_=0.0)
    done = s.execute(
        sa.update(Stage)
        .where(Stage.run_id == run_id, sa.or_(*where))
        .values(rows=Stage.rows + rows, seconds=Stage.seconds + secs, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if done.rowcount == len(added):  # type: ignore[attr-defined]
        return
    found = s.execute(
        sa.select(Stage.stream, Stage.stage).where(Stage.run_id == run_id, sa.or_(*where))
    )
    for stream, stage in set(added) - {tuple(r) for r in found}:
        n, t = added[(stream, stage)]
        s.add(Stage(run_id=run_id, stream=stream, stage=stage, rows=n, seconds=t))


class Lease:
    """Who holds a part: a database lock, held on a connection of its own while the part
    runs. A second delivery of the same task (a broker's redelivery while the first
    worker still lives) does not get it and leaves the part alone; when a worker dies,
    its connection closes and the lock goes with it, so the next delivery gets it.

    PostgreSQL: a session advisory lock; MySQL/MariaDB: ``GET_LOCK``. SQLite has no
    such lock (and no other machines): there the lease is always granted.
    """

    def __init__(self, store: StateStore, name: str) -> None:
        self.store, self.name = store, name
        self._conn: sa.Connection | None = None
        self._unlock: tuple[str, dict[str, Any]] | None = None  # the statement that frees it

    def acquire(self) -> bool:
        dialect = self.store.engine.dialect.name
        if dialect not in ("postgresql", "mysql", "mariadb"):
            return True
        digest = hashlib.sha256(self.name.encode()).digest()
        conn = self.store.engine.connect()
        if dialect == "postgresql":
            key: dict[str, Any] = {"k": int.from_bytes(digest[:8], "big", signed=True)}
            got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), key).scalar()
            unlock = "SELECT pg_advisory_unlock(:k)"
        else:
            key = {"k": "sluice:" + digest.hex()[:56]}
            got = conn.execute(sa.text("SELECT GET_LOCK(:k, 0)"), key).scalar()
            unlock = "SELECT RELEASE_LOCK(:k)"
        conn.commit()  # the lock is the session's, not the transaction's
        if not got:
            conn.close()
            return False
        self._conn, self._unlock = conn, (unlock, key)
        return True

    def release(self) -> None:
        if self._conn is not None:
            # Freed by name first: the server frees a closed session's locks a moment
            # after the close, and a caller that takes the lease again at once must get it.
            freed = False
            try:
                if self._unlock is not None:
                    got = self._conn.execute(sa.text(self._unlock[0]), self._unlock[1])
                    freed = bool(got.scalar())
                    self._conn.commit()
            except (sa.exc.SQLAlchemyError, StateStoreError):
                pass  # the connection is gone, and its locks with it
            finally:
                if not freed:  # close the session itself: its locks go with it
                    self._conn.invalidate()
                self._conn.close()  # freed: the connection goes back to the pool, lock-free
                self._conn, self._unlock = None, None
