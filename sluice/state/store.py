"""The state store: runs, stages, log events, the file ledger, quarantine, schema versions.

The only module that touches the state database. SQLite by default (``.sluice/state.db``
in the project), PostgreSQL by URL; the schema is migrated with Alembic on open.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from sluice.dbpool import quiet_pool_logs
from sluice.dburl import normalize, redact
from sluice.errors import NotFound, StateError, StateStoreError, UsageError
from sluice.redact import redact_data, redact_text
from sluice.state.faults import retry_dropped, translate_errors
from sluice.state.models import (
    Base,
    Cursor,
    Delivery,
    Event,
    FileRecord,
    PipelineLock,
    QuarantineEntry,
    Run,
    RunKey,
    ScheduleMark,
    SchemaVersion,
    Stage,
    utcnow,
)

MIGRATIONS = Path(__file__).parent / "migrations"
#: the newest migration; a test holds it equal to Alembic's head
HEAD = "0009"
#: a run someone carries out (or will): it holds a lease (``heartbeat_at``)
LIVE = ("running", "queued", "cancelling")
VERSION_TABLE = "sluice_alembic_version"
MIGRATE_LOCK = 0x5_1C3_0001  # the advisory lock taken while migrating (PostgreSQL)
WAL_TRIES = 200  # a new SQLite store turned to WAL by another process: 10 s at most


def new_run_id() -> str:
    # Sortable by start time, unique across workers.
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]


@retry_dropped
class StateStore:
    def __init__(self, url: str) -> None:
        self.url = url
        parsed = normalize(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        quiet_pool_logs()  # a connection dropped under the pool: one line, no traceback
        try:
            # pre-ping: a pooled connection that died while idle is replaced before use
            self.engine = sa.create_engine(
                parsed, connect_args=_connect_args(parsed), pool_pre_ping=True
            )
            if parsed.get_backend_name() == "sqlite":
                sa.event.listen(self.engine, "connect", _sqlite_pragmas)
            self._migrate()  # (Alembic catches some errors itself: translated after it)
            translate_errors(self.engine, url)  # its failures are the state store's
        except sa.exc.SQLAlchemyError as exc:
            raise StateError(
                f"cannot open the state store {redact(url)}: {str(exc).splitlines()[0]}",
                hint="check `state:` in sluice.yaml or SLUICE_STATE_URL",
            ) from None
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    def _migrate(self) -> None:
        with self.engine.connect() as conn:
            if sa.inspect(conn).has_table(VERSION_TABLE):
                current = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
                if current == HEAD:  # the common case: skip loading Alembic at all
                    return
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        dialect = self.engine.dialect.name
        with self.engine.begin() as conn:
            # Workers started together against a new store would each create the tables:
            # one migrates, the others wait and then find nothing to do.
            if dialect == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATE_LOCK})
            elif dialect in ("mysql", "mariadb"):
                conn.execute(sa.text("SELECT GET_LOCK('sluice_migrate', 120)"))
            elif dialect == "sqlite":
                # The database's write lock, held until the migration commits (DDL runs
                # inside it): a second process waits, then finds the tables made.
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            if dialect in ("mysql", "mariadb"):
                conn.execute(sa.text("SELECT RELEASE_LOCK('sluice_migrate')"))

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.sessions.begin() as s:
            yield s

    def close(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------------ runs

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
                    status="running",
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
                if run.status != "cancelling":  # a cancel asked while it started holds
                    run.status = "running"
        return run_id

    def beat(self, run_ids: Sequence[str]) -> dict[str, str]:
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
            return {i: st for i, st in rows}

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

    def request_cancel(self, run_id: str) -> str | None:
        """Ask a live run to stop (``cancelling``: whoever carries it out sees it on its
        next heartbeat); its status before, or None when it was not live."""
        with self.engine.begin() as conn:
            before = conn.execute(sa.select(Run.status).where(Run.id == run_id)).scalar()
            if before not in LIVE:
                return None
            conn.execute(
                sa.update(Run)
                .where(Run.id == run_id, Run.status.in_(LIVE))
                .values(status="cancelling")
            )
            return str(before)

    def finish_run(self, run_id: str, status: str, report: dict[str, Any]) -> None:
        """Record the run's end; the pipeline it held is free (in the same transaction).
        The report is kept with the secrets of its URLs masked (:mod:`sluice.redact`)."""
        report = redact_data(report)
        with self.session() as s:
            run = s.get_one(Run, run_id)
            run.status, run.report, run.finished_at = status, report, utcnow()
            s.execute(sa.delete(PipelineLock).where(PipelineLock.run_id == run_id))

    def set_run_status(self, run_id: str, status: str) -> None:
        """A run waiting its turn is ``queued``; it is ``running`` again when it starts."""
        with self.session() as s:
            s.get_one(Run, run_id).status = status

    def ping(self) -> bool:
        """Whether the state store answers."""
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            return True
        except (sa.exc.SQLAlchemyError, StateStoreError):
            return False

    def runs(
        self,
        pipeline: str | None = None,
        limit: int = 20,
        *,
        status: str | None = None,
        offset: int = 0,
    ) -> Sequence[Run]:
        q = sa.select(Run).order_by(Run.started_at.desc(), Run.id.desc()).limit(limit)
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

    def find_run(self, run_id: str, command: str = "sluice show") -> Run:
        """:meth:`run`, or a :class:`UsageError` that says why: no run has that id, or
        several start with it (a few named, newest first, for ``command``)."""
        run = self.run(run_id)
        if run is not None:
            return run
        where = Run.id.startswith(run_id, autoescape=True)
        with self.session() as s:
            total = s.scalar(sa.select(sa.func.count()).select_from(Run).where(where)) or 0
            ids = list(s.scalars(sa.select(Run.id).where(where).order_by(Run.id.desc()).limit(5)))
        if total > 1:
            more = f" and {total - len(ids)} more" if total > len(ids) else ""
            raise UsageError(
                f"run id {run_id!r} is ambiguous: {total} runs start with it: "
                f"{', '.join(ids)}{more}",
                hint=f"give more of the id: `{command} {ids[0]}` (the newest)",
            )
        raise NotFound(f"no run {run_id!r}", hint="`sluice runs` lists the recent ones")

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
        with self.session() as s:
            row = s.scalars(
                sa.select(Stage).where(
                    Stage.run_id == run_id, Stage.stream == stream, Stage.stage == stage
                )
            ).first()
            if row is None:
                s.add(Stage(run_id=run_id, stream=stream, stage=stage, rows=rows, seconds=seconds))
            else:
                row.rows, row.seconds, row.updated_at = rows, seconds, utcnow()

    def log(self, run_id: str, level: str, message: str, **data: Any) -> None:
        # The one door into the run log: what it keeps, viewers read and alerts quote,
        # so the secrets of URLs in it (a password, an api_key parameter) are masked here.
        message, data = redact_text(message), redact_data(data)
        with self.session() as s:
            s.add(Event(run_id=run_id, level=level, message=message, data=data or None))

    # ------------------------------------------------------------------ file ledger

    def find_file(self, pipeline: str, source: str, fingerprint: str) -> FileRecord | None:
        with self.session() as s:
            return s.scalars(
                sa.select(FileRecord)
                .where(
                    FileRecord.pipeline == pipeline,
                    FileRecord.source == source,
                    FileRecord.fingerprint == fingerprint,
                )
                .order_by(FileRecord.id.desc())
            ).first()

    def add_file(self, **fields: Any) -> FileRecord:
        with self.session() as s:
            rec = FileRecord(**fields)
            s.add(rec)
            s.flush()
            return rec

    def update_file(self, file_id: int, **fields: Any) -> None:
        with self.session() as s:
            rec = s.get_one(FileRecord, file_id)
            for k, v in fields.items():
                setattr(rec, k, v)
            rec.updated_at = utcnow()

    def file(self, file_id: int) -> FileRecord | None:
        with self.session() as s:
            return s.get(FileRecord, file_id)

    def files_of(self, run_id: str) -> Sequence[FileRecord]:
        """The ledger entries a run holds (loading, loaded, quarantined, failed)."""
        with self.session() as s:
            q = sa.select(FileRecord).where(FileRecord.run_id == run_id).order_by(FileRecord.id)
            return s.scalars(q).all()

    def stage_unit(self, file_id: int, load_key: str, counts: dict[str, Any]) -> None:
        """A unit about to commit: its counts (and cursor) and the key its load marker will
        have, so that a run that dies past the commit can be settled from them."""
        self.update_file(file_id, load_key=load_key, counts=counts)

    def commit_unit(self, file_id: int, counts: dict[str, Any]) -> None:
        """A unit's load committed in the warehouse: in one transaction, its ledger entry
        is ``loaded`` with its counts, its quarantined rows are open (they were pending)
        and its pull's cursor (``counts["cursor"]``) is saved."""
        with self.session() as s:
            rec = s.get_one(FileRecord, file_id)
            rec.status, rec.rows, rec.counts = "loaded", int(counts.get("loaded", 0)), counts
            rec.updated_at = utcnow()
            s.execute(
                sa.update(QuarantineEntry)
                .where(
                    QuarantineEntry.file_id == file_id,
                    QuarantineEntry.kind == "row",
                    QuarantineEntry.status == "pending",
                )
                .values(status="open")
            )
            cursor = counts.get("cursor")
            if cursor is not None:
                row = s.get(Cursor, (rec.pipeline, rec.source))
                if row is None:
                    s.add(
                        Cursor(
                            pipeline=rec.pipeline,
                            source=rec.source,
                            value=cursor,
                            run_id=rec.run_id,
                        )
                    )
                else:
                    row.value, row.run_id, row.updated_at = cursor, rec.run_id, utcnow()

    # ------------------------------------------------------------------ quarantine

    def quarantine(self, entries: list[dict[str, Any]]) -> None:
        if entries:
            now = utcnow()
            with self.session() as s:
                rows = [{"created_at": now, **e} for e in entries]
                for row in rows:  # a reason may quote the URL of an API page
                    if row.get("reasons"):
                        row["reasons"] = redact_data(row["reasons"])
                s.execute(sa.insert(QuarantineEntry), rows)

    def discard_rows(self, file_id: int) -> None:
        """Forget the row entries of a file's load that did not commit (they are
        ``pending`` until it does) and the counts it staged."""
        with self.session() as s:
            s.execute(
                sa.delete(QuarantineEntry).where(
                    QuarantineEntry.file_id == file_id,
                    QuarantineEntry.kind == "row",
                    QuarantineEntry.status == "pending",
                )
            )
            s.execute(
                sa.update(FileRecord)
                .where(FileRecord.id == file_id, FileRecord.status != "loaded")
                .values(counts=None)
            )

    def quarantined(
        self,
        pipeline: str | None = None,
        status: str | None = "open",
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
        self, pipeline: str | None = None, status: str | None = "open", run_id: str | None = None
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
            sa.select(q.pipeline, sa.func.count()).where(q.status == "open").group_by(q.pipeline)
        )
        with self.session() as s:
            return {p: int(n) for p, n in s.execute(query).all()}

    def quarantine_counts(self, run_id: str) -> dict[str, int]:
        """Entries by kind that ``run_id`` set aside, or (a replay) tried and left open."""
        e = QuarantineEntry
        again = (e.replay_run_id == run_id) & (e.status == "open")
        q = sa.select(e.kind, sa.func.count()).where((e.run_id == run_id) | again).group_by(e.kind)
        with self.session() as s:
            return {k: int(n) for k, n in s.execute(q).all()}

    def update_quarantine(self, entry_id: int, **fields: Any) -> None:
        with self.session() as s:
            s.execute(
                sa.update(QuarantineEntry).where(QuarantineEntry.id == entry_id).values(**fields)
            )

    def set_quarantine_status(self, ids: Sequence[int], status: str, run_id: str | None) -> None:
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
            for chunk in _chunks(sorted(ids), 500):
                done = conn.execute(
                    sa.update(q)
                    .where(q.id.in_(chunk), q.status == "open")
                    .values(status="replaying", replay_run_id=run_id)
                )
                if done.rowcount:
                    got += conn.execute(
                        sa.select(q.id).where(
                            q.id.in_(chunk), q.status == "replaying", q.replay_run_id == run_id
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
                .where(q.id == entry_id, q.status == "replaying", owner)
                .values(replay_run_id=run_id)
            )
            return bool(done.rowcount == 1)

    def replaying(self, run_id: str) -> set[int]:
        """The ids of the entries ``run_id`` holds (claimed, not yet replayed)."""
        q = QuarantineEntry
        with self.engine.connect() as conn:
            found = conn.execute(
                sa.select(q.id).where(q.status == "replaying", q.replay_run_id == run_id)
            )
            return set(found.scalars())

    def release_quarantine(self, ids: Sequence[int], run_id: str) -> None:
        """Entries ``run_id`` claimed but did not load are open again. They keep
        ``replay_run_id`` (only ``replaying`` makes it an owner): the replay's run page
        counts them as its failures."""
        q = QuarantineEntry
        with self.engine.begin() as conn:
            for chunk in _chunks(list(ids), 500):
                conn.execute(
                    sa.update(q)
                    .where(q.id.in_(chunk), q.status == "replaying", q.replay_run_id == run_id)
                    .values(status="open")
                )

    def supersede_entries(self, ids: Sequence[int], run_id: str) -> int:
        """Close the open entries ``ids`` as ``superseded`` by ``run_id``; how many."""
        q = QuarantineEntry
        n = 0
        with self.engine.begin() as conn:
            for chunk in _chunks(list(ids), 500):
                done = conn.execute(
                    sa.update(q)
                    .where(q.id.in_(chunk), q.status == "open")
                    .values(status="superseded", superseded_by=run_id)
                )
                n += done.rowcount
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
        if same_content:
            fingerprint = sa.select(f.fingerprint).where(f.id == file_id).scalar_subquery()
            units = sa.select(f.id).where(
                f.pipeline == pipeline,
                f.source == source,
                f.fingerprint == fingerprint,
                f.id != file_id,
            )
            which = q.file_id.in_(units)
        else:
            which = q.file_id < file_id
            if unit is not None:
                which = which & (q.unit == unit)
        if not rows:
            which = which & (q.kind == "file")
        mine = (q.status == "replaying") & (q.replay_run_id == run_id)
        with self.engine.begin() as conn:
            done = conn.execute(
                sa.update(q)
                .where(
                    q.pipeline == pipeline,
                    q.source == source,
                    which,
                    (q.status == "open") | mine,
                )
                .values(status="superseded", superseded_by=run_id)
                .execution_options(synchronize_session=False)
            )
            return int(done.rowcount or 0)

    # ------------------------------------------------------------------ schema versions

    def record_schema(self, pipeline: str, table: str, columns: dict[str, str], run_id: str) -> int:
        """Store the table's columns if they changed; return the current version."""
        with self.session() as s:
            last = s.scalars(
                sa.select(SchemaVersion)
                .where(SchemaVersion.pipeline == pipeline, SchemaVersion.table_name == table)
                .order_by(SchemaVersion.version.desc())
            ).first()
            if last is not None and last.columns == columns:
                return last.version
            version = (last.version + 1) if last else 1
            s.add(
                SchemaVersion(
                    pipeline=pipeline,
                    table_name=table,
                    version=version,
                    columns=columns,
                    run_id=run_id,
                )
            )
            return version

    def schema_versions(self, pipeline: str) -> Sequence[SchemaVersion]:
        with self.session() as s:
            return s.scalars(
                sa.select(SchemaVersion)
                .where(SchemaVersion.pipeline == pipeline)
                .order_by(SchemaVersion.id)
            ).all()

    # ------------------------------------------------------------------ cursors

    def cursor(self, pipeline: str, source: str) -> str | None:
        """The saved cursor of an incremental source, or None before its first load."""
        with self.session() as s:
            row = s.get(Cursor, (pipeline, source))
            return row.value if row is not None else None

    def save_cursor(self, pipeline: str, source: str, value: str, run_id: str) -> None:
        with self.session() as s:
            row = s.get(Cursor, (pipeline, source))
            if row is None:
                s.add(Cursor(pipeline=pipeline, source=source, value=value, run_id=run_id))
            else:
                row.value, row.run_id, row.updated_at = value, run_id, utcnow()

    # ------------------------------------------------------------------ schedules

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
        outcome: str = "claimed",
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

    def settle_slot(self, pipeline: str, outcome: str, run_id: str | None) -> None:
        """What became of the slot just claimed: submitted, rejected or error."""
        with self.session() as s:
            mark = s.get_one(ScheduleMark, pipeline)
            mark.outcome, mark.run_id, mark.updated_at = outcome, run_id, utcnow()

    # ------------------------------------------------------------------ delivery ledger

    def delivery_status(self, pipeline: str, target: str, keys: list[str]) -> dict[str, str]:
        """The ledger status of each of ``keys`` that it knows."""
        out: dict[str, str] = {}
        t = sa.Table(Delivery.__tablename__, Base.metadata)
        with self.engine.connect() as conn:
            for chunk in _chunks(keys, 500):
                rows = conn.execute(
                    sa.select(t.c.key, t.c.status).where(
                        t.c.pipeline == pipeline, t.c.target == target, t.c.key.in_(chunk)
                    )
                )
                out.update({k: st for k, st in rows})
        return out

    def mark_deliveries(
        self, pipeline: str, target: str, keys: list[str], status: str, run_id: str
    ) -> None:
        """Move ``keys`` to ``status`` (sending: one more send; acked: one more ack)."""
        t = sa.Table(Delivery.__tablename__, Base.metadata)
        now = utcnow()
        bump = {"sending": {"sends": t.c.sends + 1}, "acked": {"acks": t.c.acks + 1}}.get(
            status, {}
        )
        with self.engine.begin() as conn:
            for chunk in _chunks(keys, 500):
                where = (t.c.pipeline == pipeline) & (t.c.target == target) & t.c.key.in_(chunk)
                known = set(conn.execute(sa.select(t.c.key).where(where)).scalars())
                if known:
                    conn.execute(
                        t.update()
                        .where(where)
                        .values(status=status, run_id=run_id, updated_at=now, **bump)
                    )
                new = [k for k in chunk if k not in known]
                if new:
                    conn.execute(
                        t.insert(),
                        [
                            {
                                "pipeline": pipeline,
                                "target": target,
                                "key": k,
                                "status": status,
                                "sends": 1 if status == "sending" else 0,
                                "acks": 1 if status == "acked" else 0,
                                "run_id": run_id,
                                "updated_at": now,
                            }
                            for k in new
                        ],
                    )

    def record_run_keys(
        self, run_id: str, pipeline: str, target: str, outcomes: dict[str, str]
    ) -> None:
        t = sa.Table(RunKey.__tablename__, Base.metadata)
        with self.engine.begin() as conn:
            for chunk in _chunks(list(outcomes), 500):
                conn.execute(t.delete().where(t.c.run_id == run_id, t.c.key.in_(chunk)))
                conn.execute(
                    t.insert(),
                    [
                        {
                            "run_id": run_id,
                            "key": k,
                            "pipeline": pipeline,
                            "target": target,
                            "outcome": outcomes[k],
                        }
                        for k in chunk
                    ],
                )

    def run_keys(self, run_id: str) -> Sequence[RunKey]:
        with self.session() as s:
            return s.scalars(sa.select(RunKey).where(RunKey.run_id == run_id)).all()

    def deliveries(self, pipeline: str, target: str, keys: list[str]) -> dict[str, Delivery]:
        out: dict[str, Delivery] = {}
        with self.session() as s:
            for chunk in _chunks(keys, 500):
                rows = s.scalars(
                    sa.select(Delivery).where(
                        Delivery.pipeline == pipeline,
                        Delivery.target == target,
                        Delivery.key.in_(chunk),
                    )
                )
                out.update({d.key: d for d in rows})
        return out


T = TypeVar("T")
Q = TypeVar("Q", bound=sa.Select[Any])


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


def _chunks(items: list[T], size: int) -> Iterator[list[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _connect_args(url: sa.URL) -> dict[str, Any]:
    if url.get_backend_name() == "sqlite":
        return {"timeout": 60}
    if url.get_backend_name() == "postgresql" and "application_name" not in url.query:
        # Which connections are a state store's, and whose (pg_stat_activity).
        return {"application_name": f"sluice state store (pid {os.getpid()})"}
    return {}


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets `sluice show` read a run's progress while the run writes it.
    cur = dbapi_conn.cursor()
    # Turning a new file to WAL needs it alone, and SQLite says "locked" at once (no
    # busy wait) to a process opening it at that moment: that one looks again.
    for attempt in range(WAL_TRIES):
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == WAL_TRIES - 1:
                raise
            time.sleep(0.05)
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


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
