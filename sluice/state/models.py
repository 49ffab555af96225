"""The state store's tables (SQLAlchemy 2). Alembic migrations create and evolve them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sluice.status import QuarantineStatus


def utcnow() -> datetime:
    return datetime.now(UTC)


class Zoned(sa.TypeDecorator[datetime]):
    """A time with its zone, read back with it: SQLite and MySQL keep none, so what they
    give back (written by :func:`utcnow`) is UTC. Every time the store hands out (to
    the CLI, the API, a report) carries its zone."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: sa.JSON, list[Any]: sa.JSON}


class Run(Base):
    __tablename__ = "sluice_runs"
    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    pipeline: Mapped[str] = mapped_column(sa.String(255), index=True)
    status: Mapped[str] = mapped_column(sa.String(32))
    started_at: Mapped[datetime] = mapped_column(Zoned(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(Zoned())
    host: Mapped[str] = mapped_column(sa.String(255), default="")
    pid: Mapped[int] = mapped_column(sa.Integer, default=0)
    report: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    #: the run's lease: refreshed by whatever carries it out (or waits for it); a live
    #: run whose heartbeat is older than the lease has no one left and is settled
    heartbeat_at: Mapped[datetime | None] = mapped_column(Zoned())


class Stage(Base):
    __tablename__ = "sluice_stages"
    __table_args__ = (sa.UniqueConstraint("run_id", "stream", "stage"),)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(sa.String(32), sa.ForeignKey("sluice_runs.id"), index=True)
    stream: Mapped[str] = mapped_column(sa.String(255))
    stage: Mapped[str] = mapped_column(sa.String(32))
    rows: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    seconds: Mapped[float] = mapped_column(sa.Float, default=0.0)
    updated_at: Mapped[datetime] = mapped_column(Zoned(), default=utcnow)


class Event(Base):
    __tablename__ = "sluice_events"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(sa.String(32), sa.ForeignKey("sluice_runs.id"), index=True)
    at: Mapped[datetime] = mapped_column(Zoned(), default=utcnow)
    level: Mapped[str] = mapped_column(sa.String(16))
    message: Mapped[str] = mapped_column(sa.Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)


class FileRecord(Base):
    """The file ledger. Its id is the load id stamped on snapshot rows."""

    __tablename__ = "sluice_files"
    __table_args__ = (sa.Index("ix_sluice_files_hash", "pipeline", "source", "fingerprint"),)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    pipeline: Mapped[str] = mapped_column(sa.String(255))
    source: Mapped[str] = mapped_column(sa.String(255))
    name: Mapped[str] = mapped_column(sa.Text)
    fingerprint: Mapped[str] = mapped_column(sa.String(64))
    size: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    status: Mapped[str] = mapped_column(sa.String(32))
    run_id: Mapped[str] = mapped_column(sa.String(32))
    load_key: Mapped[str] = mapped_column(sa.String(255), default="")
    rows: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    #: the unit's counts (and the cursor its pull reached), staged before the warehouse
    #: commit: a run that dies after the commit is settled from them and the load marker
    counts: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(Zoned(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Zoned(), default=utcnow)


class QuarantineEntry(Base):
    """A row or a whole file set aside, with every reason, until it is replayed."""

    __tablename__ = "sluice_quarantine"
    __table_args__ = (sa.Index("ix_sluice_quarantine_open", "pipeline", "status"),)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(sa.String(32), index=True)
    pipeline: Mapped[str] = mapped_column(sa.String(255))
    source: Mapped[str] = mapped_column(sa.String(255))
    kind: Mapped[str] = mapped_column(sa.String(8))  # "row" or "file"
    unit: Mapped[str] = mapped_column(sa.Text)
    line: Mapped[int | None] = mapped_column(sa.BigInteger)
    reasons: Mapped[list[Any]] = mapped_column(sa.JSON)
    payload: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    # Indexed: a committed unit opens and supersedes entries by their ledger entry.
    file_id: Mapped[int | None] = mapped_column(sa.Integer, index=True)
    status: Mapped[str] = mapped_column(sa.String(16), default=QuarantineStatus.OPEN)
    replay_run_id: Mapped[str | None] = mapped_column(sa.String(32))
    #: status ``superseded``: the run whose load made the entry obsolete (the same
    #: content loaded again, or a newer pull of the same API)
    superseded_by: Mapped[str | None] = mapped_column(sa.String(32))
    created_at: Mapped[datetime] = mapped_column(Zoned(), default=utcnow)


class SchemaVersion(Base):
    __tablename__ = "sluice_schema_versions"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    pipeline: Mapped[str] = mapped_column(sa.String(255))
    table_name: Mapped[str] = mapped_column(sa.String(255))
    version: Mapped[int] = mapped_column(sa.Integer)
    columns: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    run_id: Mapped[str] = mapped_column(sa.String(32))
    created_at: Mapped[datetime] = mapped_column(Zoned(), default=utcnow)


class Cursor(Base):
    """Where an incremental source got to: the highest cursor value it has loaded."""

    __tablename__ = "sluice_cursors"
    pipeline: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    source: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    value: Mapped[str] = mapped_column(sa.Text)
    run_id: Mapped[str] = mapped_column(sa.String(32))
    updated_at: Mapped[datetime] = mapped_column(Zoned(), default=utcnow)


class Delivery(Base):
    """The delivery ledger: one row per record key an http destination was sent.

    ``status`` is ``sending`` from just before a POST until the API acknowledges it
    (``acked``) or refuses the record for good (``rejected``); ``acks`` counts
    acknowledgements, so a key delivered twice is visible, never hidden.
    """

    __tablename__ = "sluice_deliveries"
    pipeline: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    target: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    status: Mapped[str] = mapped_column(sa.String(16))
    sends: Mapped[int] = mapped_column(sa.Integer, default=0)
    acks: Mapped[int] = mapped_column(sa.Integer, default=0)
    run_id: Mapped[str] = mapped_column(sa.String(32), index=True)
    updated_at: Mapped[datetime] = mapped_column(Zoned(), default=utcnow)


class RunKey(Base):
    """The keys a run had to deliver, and what became of each (for ``sluice audit``)."""

    __tablename__ = "sluice_run_keys"
    run_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    pipeline: Mapped[str] = mapped_column(sa.String(255))
    target: Mapped[str] = mapped_column(sa.String(255))
    outcome: Mapped[str] = mapped_column(sa.String(16))  # a DeliveryOutcome


class ScheduleMark(Base):
    """The newest cron slot the scheduler handled for a pipeline, and what came of it.

    ``fires`` counts the slots claimed: a claim is a compare-and-set on it, so two
    servers sharing a state store never both fire the same slot.
    """

    __tablename__ = "sluice_schedules"
    pipeline: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    schedule: Mapped[str] = mapped_column(sa.String(255))
    last_slot: Mapped[datetime] = mapped_column(Zoned())
    fires: Mapped[int] = mapped_column(sa.Integer, default=0)
    outcome: Mapped[str] = mapped_column(sa.String(16))  # a SlotOutcome
    run_id: Mapped[str | None] = mapped_column(sa.String(32))
    updated_at: Mapped[datetime] = mapped_column(Zoned(), default=utcnow)


class RunPart(Base):
    """One part of a run carried out by a Celery worker: a file, or a whole stream.

    ``result`` is the part's own report (counts, files, errors); the run's report is
    assembled from them when the last part ends. ``attempts`` counts the starts, so a
    part that keeps killing its worker stops being retried. ``rows``, ``bytes_read``
    and ``size`` are how far a running part got, for a display that follows the run.
    """

    # The table keeps the name migration 0005 gave it (parts were called tasks then).
    __tablename__ = "sluice_run_tasks"
    run_id: Mapped[str] = mapped_column(
        sa.String(32), sa.ForeignKey("sluice_runs.id"), primary_key=True
    )
    key: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    stream: Mapped[str] = mapped_column(sa.String(255))
    target: Mapped[str | None] = mapped_column(sa.Text)  # a file path; None: the whole stream
    status: Mapped[str] = mapped_column(sa.String(16))  # queued, running, done, failed
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    worker: Mapped[str] = mapped_column(sa.String(255), default="")
    result: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    updated_at: Mapped[datetime] = mapped_column(Zoned(), default=utcnow)
    #: while the part runs, about once a second: rows read so far and the bytes they
    #: took (an estimate); None: it has not told yet
    rows: Mapped[int | None] = mapped_column(sa.BigInteger)
    bytes_read: Mapped[int | None] = mapped_column(sa.BigInteger)
    #: the bytes of its units (its file's, from the plan; what the part found when it
    #: opened them); None: not known (an API, a zip not opened yet)
    size: Mapped[int | None] = mapped_column(sa.BigInteger)


class PipelineLock(Base):
    """Which run has a pipeline now: one row per pipeline, taken atomically (its key) by
    the run that starts, so two runs of one pipeline never load at once. The row holds
    only while its run is live (its lease, :class:`Run`); a killed holder's row is taken
    over, and a run's end (``finish_run``) removes it."""

    __tablename__ = "sluice_pipeline_locks"
    pipeline: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    run_id: Mapped[str] = mapped_column(sa.String(32))
    claimed_at: Mapped[datetime] = mapped_column(Zoned(), default=utcnow)


class RevokedSession(Base):
    """A signed-out session of ``sluice serve``: its cookie, still validly signed until
    ``expires_at``, is refused by every server sharing this state store. Rows past
    ``expires_at`` are of no use (the cookie's signature has expired) and are deleted."""

    __tablename__ = "sluice_revoked_sessions"
    sid: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(Zoned(), index=True)
