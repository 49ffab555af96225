"""Quarantine: rows and whole units set aside with their reasons, until replayed.

An entry's life (:class:`~sluice.status.QuarantineStatus`): a row of a load not yet
committed is ``pending`` (``open`` once the load commits, forgotten if it rolls back);
a set-aside unit is ``open`` at once. A replay claims open entries (``replaying``, by its
run id: of two replays, exactly one wins an entry), then marks them ``replayed`` or
opens them again; ``discarded`` and ``superseded`` close an entry for good.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, TypeVar

import sqlalchemy as sa

from sluice.redact import redact_data
from sluice.state.core import StoreCore, chunks
from sluice.state.faults import retry_dropped
from sluice.state.models import FileRecord, QuarantineEntry, utcnow
from sluice.status import EntryKind, FileStatus, QuarantineStatus

Q = TypeVar("Q", bound=sa.Select[Any])


@dataclass(frozen=True, slots=True)
class NewEntry:
    """A quarantine entry to record (:meth:`Quarantine.quarantine`): where the row or
    unit came from, why it was set aside, and what a replay needs to load it."""

    run_id: str
    pipeline: str
    source: str  # the stream
    kind: EntryKind
    unit: str  # the file, zip member or API pull
    line: int | None
    reasons: list[Any]
    #: a row: its raw fields; a unit: where its copy is kept and the error's document
    payload: dict[str, Any] | None
    file_id: int | None  # its ledger entry (the load id)
    status: QuarantineStatus = QuarantineStatus.OPEN


_ENTRY_FIELDS = tuple(f.name for f in fields(NewEntry))


@retry_dropped
class Quarantine(StoreCore):
    """Entries set aside, listed, claimed by replays, released, closed."""

    def quarantine(
        self, entries: Sequence[NewEntry], status: QuarantineStatus | None = None
    ) -> None:
        """Record ``entries`` in one statement; ``status``: theirs, if not their own.

        Through SQLAlchemy Core: the ORM's bulk insert of the same rows cost more CPU
        (4,929 entries in 53 statements into PostgreSQL: 0.19-0.21 CPU-s against
        0.13-0.16), on the thread that validates. A status given here, not by a copy
        of each entry (``dataclasses.replace``: ~8 us an entry, 0.04 CPU-s a load of
        the bench's 4,928 bad rows)."""
        if entries:
            now = utcnow()
            rows = [
                {"created_at": now, **{f: getattr(e, f) for f in _ENTRY_FIELDS}} for e in entries
            ]
            for row in rows:
                if status is not None:
                    row["status"] = status
                if row["reasons"]:  # a reason may quote the URL of an API page
                    row["reasons"] = redact_data(row["reasons"])
            with self.engine.begin() as conn:
                conn.execute(sa.insert(QuarantineEntry), rows)

    def discard_rows(self, file_id: int) -> None:
        """Forget the row entries of a file's load that did not commit (they are
        ``pending`` until it does) and the counts it staged."""
        with self.session() as s:
            s.execute(
                sa.delete(QuarantineEntry).where(
                    QuarantineEntry.file_id == file_id,
                    QuarantineEntry.kind == EntryKind.ROW,
                    QuarantineEntry.status == QuarantineStatus.PENDING,
                )
            )
            s.execute(
                sa.update(FileRecord)
                .where(FileRecord.id == file_id, FileRecord.status != FileStatus.LOADED)
                .values(counts=None)
            )

    def quarantined(
        self,
        pipeline: str | None = None,
        status: str | None = QuarantineStatus.OPEN,
        ids: Sequence[int] | None = None,
        run_id: str | None = None,
        limit: int | None = None,
        replays: bool = False,
        *,
        offset: int = 0,
        newest_first: bool = False,
        file_id: int | None = None,
    ) -> Sequence[QuarantineEntry]:
        """Entries, oldest first (``newest_first``: the other way), a page of ``limit``
        from ``offset`` on; ``file_id``: of that ledger entry's load only."""
        order = QuarantineEntry.id.desc() if newest_first else QuarantineEntry.id
        q = _quarantine_filter(sa.select(QuarantineEntry), pipeline, status, ids, run_id, replays)
        if file_id is not None:
            q = q.where(QuarantineEntry.file_id == file_id)
        q = q.order_by(order)
        if limit:
            q = q.limit(limit)
        if offset:
            q = q.offset(offset)
        with self.session() as s:
            return s.scalars(q).all()

    def count_quarantined(
        self,
        pipeline: str | None = None,
        status: str | None = QuarantineStatus.OPEN,
        run_id: str | None = None,
    ) -> int:
        """How many entries :meth:`quarantined` would give without a limit (counted in SQL)."""
        q = _quarantine_filter(
            sa.select(sa.func.count()).select_from(QuarantineEntry), pipeline, status, None, run_id
        )
        with self.session() as s:
            return int(s.scalar(q) or 0)

    def open_quarantine_counts(self) -> dict[str, int]:
        """pipeline -> its open entries (pipelines without any are left out)."""
        q = QuarantineEntry
        query = (
            sa.select(q.pipeline, sa.func.count())
            .where(q.status == QuarantineStatus.OPEN)
            .group_by(q.pipeline)
        )
        with self.session() as s:
            return {p: int(n) for p, n in s.execute(query).all()}

    def quarantine_counts(self, run_id: str) -> dict[str, int]:
        """Entries by kind that ``run_id`` set aside, or (a replay) tried and left open."""
        e = QuarantineEntry
        again = (e.replay_run_id == run_id) & (e.status == QuarantineStatus.OPEN)
        q = sa.select(e.kind, sa.func.count()).where((e.run_id == run_id) | again).group_by(e.kind)
        with self.session() as s:
            return {k: int(n) for k, n in s.execute(q).all()}

    def update_quarantine(self, entry_id: int, **fields: Any) -> None:
        with self.session() as s:
            s.execute(
                sa.update(QuarantineEntry).where(QuarantineEntry.id == entry_id).values(**fields)
            )

    def set_quarantine_status(
        self, ids: Sequence[int], status: QuarantineStatus, run_id: str | None
    ) -> None:
        with self.session() as s:
            s.execute(
                sa.update(QuarantineEntry)
                .where(QuarantineEntry.id.in_(ids))
                .values(status=status, replay_run_id=run_id)
            )

    def claim_quarantine(self, ids: Sequence[int], run_id: str) -> list[int]:
        """Mark the open entries of ``ids`` ``replaying`` by ``run_id``; the ids it got.

        One conditional UPDATE (``WHERE status = 'open'``): of two replays claiming the
        same entry at once, exactly one wins it; the other finds it taken.
        """
        q = QuarantineEntry
        got: list[int] = []
        with self.engine.begin() as conn:
            for chunk in chunks(sorted(ids), 500):
                if _take_open(conn, chunk, status=QuarantineStatus.REPLAYING, replay_run_id=run_id):
                    got += conn.execute(
                        sa.select(q.id).where(
                            q.id.in_(chunk),
                            q.status == QuarantineStatus.REPLAYING,
                            q.replay_run_id == run_id,
                        )
                    ).scalars()
        return got

    def take_over_quarantine(self, entry_id: int, dead_run: str | None, run_id: str) -> bool:
        """Take an entry left ``replaying`` by ``dead_run`` (a replay that is gone)."""
        q = QuarantineEntry
        owner = q.replay_run_id.is_(None) if dead_run is None else q.replay_run_id == dead_run
        with self.engine.begin() as conn:
            done = conn.execute(
                sa.update(q)
                .where(q.id == entry_id, q.status == QuarantineStatus.REPLAYING, owner)
                .values(replay_run_id=run_id)
            )
            return bool(done.rowcount == 1)

    def replaying(self, run_id: str) -> set[int]:
        """The ids of the entries ``run_id`` holds (claimed, not yet replayed)."""
        q = QuarantineEntry
        with self.engine.connect() as conn:
            found = conn.execute(
                sa.select(q.id).where(
                    q.status == QuarantineStatus.REPLAYING, q.replay_run_id == run_id
                )
            )
            return set(found.scalars())

    def release_quarantine(self, ids: Sequence[int], run_id: str) -> None:
        """Entries ``run_id`` claimed but did not load are open again. They keep
        ``replay_run_id`` (only ``replaying`` makes it an owner): the replay's run page
        counts them as its failures."""
        q = QuarantineEntry
        with self.engine.begin() as conn:
            for chunk in chunks(list(ids), 500):
                conn.execute(
                    sa.update(q)
                    .where(
                        q.id.in_(chunk),
                        q.status == QuarantineStatus.REPLAYING,
                        q.replay_run_id == run_id,
                    )
                    .values(status=QuarantineStatus.OPEN)
                )

    def supersede_entries(self, ids: Sequence[int], run_id: str) -> int:
        """Close the open entries ``ids`` as ``superseded`` by ``run_id``; how many."""
        n = 0
        with self.connection() as conn:
            for chunk in chunks(list(ids), 500):
                n += _take_open(
                    conn, chunk, status=QuarantineStatus.SUPERSEDED, superseded_by=run_id
                )
        return n

    def supersede_quarantine(
        self,
        pipeline: str,
        source: str,
        file_id: int,
        run_id: str,
        *,
        same_content: bool,
        unit: str | None = None,
        rows: bool = True,
    ) -> int:
        """Close as ``superseded`` by ``run_id`` the entries of ``source`` that the load
        of ledger entry ``file_id`` made obsolete; how many.

        ``same_content``: those of other ledger entries with its fingerprint (a file
        loaded again); else those of earlier units (an API's earlier pulls, only those
        named ``unit`` when given). ``rows``: row entries too, not only set-aside units.
        Open entries, and those this very run (a replay) claimed.
        """
        q, f = QuarantineEntry, FileRecord
        which: sa.ColumnElement[bool]
        with self.connection() as conn:  # a load's commit: in its transaction
            if same_content:
                # The other copies first: usually none (a new file), and then nothing
                # to update. Asked as one statement, the server walked every open entry
                # of the pipeline when its statistics were not yet fresh (a new state
                # store: 33 ms a file, more each file, on a 120-file Celery run).
                fingerprint = sa.select(f.fingerprint).where(f.id == file_id).scalar_subquery()
                copies = conn.scalars(
                    sa.select(f.id).where(
                        f.pipeline == pipeline,
                        f.source == source,
                        f.fingerprint == fingerprint,
                        f.id != file_id,
                    )
                ).all()
                if not copies:
                    return 0
                which = q.file_id.in_(copies)
            else:
                which = q.file_id < file_id
                if unit is not None:
                    which = which & (q.unit == unit)
            if not rows:
                which = which & (q.kind == EntryKind.FILE)
            mine = (q.status == QuarantineStatus.REPLAYING) & (q.replay_run_id == run_id)
            done = conn.execute(
                sa.update(q)
                .where(
                    q.pipeline == pipeline,
                    q.source == source,
                    which,
                    (q.status == QuarantineStatus.OPEN) | mine,
                )
                .values(status=QuarantineStatus.SUPERSEDED, superseded_by=run_id)
                .execution_options(synchronize_session=False)
            )
            return int(done.rowcount or 0)


def _quarantine_filter(
    q: Q,
    pipeline: str | None,
    status: str | None,
    ids: Sequence[int] | None,
    run_id: str | None,
    replays: bool = False,
) -> Q:
    e = QuarantineEntry
    if pipeline:
        q = q.where(e.pipeline == pipeline)
    if status:
        q = q.where(e.status == status)
    if ids:  # 64-bit bounds (the column may be 32-bit: PostgreSQL's)
        q = q.where(e.id.in_([sa.literal(i, sa.BigInteger) for i in ids]))
    if run_id and replays:  # set aside by the run, or replayed (or set aside again) by it
        q = q.where((e.run_id == run_id) | (e.replay_run_id == run_id))
    elif run_id:
        q = q.where(e.run_id == run_id)
    return q


def _take_open(conn: sa.Connection, ids: Sequence[int], **values: Any) -> int:
    """Set ``values`` on those of ``ids`` still ``open``, in one conditional UPDATE (of
    two writers racing for an entry, exactly one changes it); how many it changed."""
    q = QuarantineEntry
    done = conn.execute(
        sa.update(q).where(q.id.in_(ids), q.status == QuarantineStatus.OPEN).values(**values)
    )
    return int(done.rowcount)
