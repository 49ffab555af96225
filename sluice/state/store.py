"""The state store: runs, stages, log events, the file ledger, quarantine, schema versions.

The only package that touches the state database. SQLite by default (``.sluice/state.db``
in the project), PostgreSQL by URL; the schema is migrated with Alembic on open.

:class:`StateStore` opens the database and is composed of one class per concern, each in
a module of its own over the same engine (:class:`~sluice.state.core.StoreCore`): a
store is one object callers pass around (``store.start_run``, ``store.quarantine``),
while each concern reads on its own page. Mixins rather than repositories held by the
store: the method names callers use everywhere stay as they are, with no forwarding
methods to keep in step.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from sluice.dbpool import ping_when_idle, quiet_pool_logs
from sluice.dburl import normalize, redact
from sluice.errors import StateError, StateStoreError
from sluice.extras import require_database
from sluice.state.deliveries import Deliveries
from sluice.state.faults import retry_dropped, translate_errors
from sluice.state.ledger import FileLedger
from sluice.state.models import Base
from sluice.state.quarantine import Quarantine
from sluice.state.runlog import RunLog
from sluice.state.runs import RunRecords
from sluice.state.schedules import ScheduleMarks
from sluice.state.versions import SchemaVersions

MIGRATIONS = Path(__file__).parent / "migrations"
#: the newest migration; a test holds it equal to Alembic's head
HEAD = "0011"
VERSION_TABLE = "sluice_alembic_version"
MIGRATE_LOCK = 0x5_1C3_0001  # the advisory lock taken while migrating (PostgreSQL)
WAL_TRIES = 200  # a new SQLite store turned to WAL by another process: 10 s at most


@retry_dropped
class StateStore(
    RunRecords, RunLog, FileLedger, Quarantine, SchemaVersions, ScheduleMarks, Deliveries
):
    def __init__(self, url: str) -> None:
        self.url = url
        parsed = normalize(url)
        require_database(parsed.get_backend_name(), "state store")
        if parsed.get_backend_name() == "sqlite" and parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        quiet_pool_logs()  # a connection dropped under the pool: one line, no traceback
        try:
            self.engine = sa.create_engine(parsed, connect_args=_connect_args(parsed))
            # a pooled connection that died while idle is replaced before use
            ping_when_idle(self.engine)
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
            if _is_new(conn):
                _create(conn)
            else:
                _upgrade(conn)
            if dialect in ("mysql", "mariadb"):
                conn.execute(sa.text("SELECT RELEASE_LOCK('sluice_migrate')"))

    def close(self) -> None:
        self.engine.dispose()

    def ping(self) -> bool:
        """Whether the state store answers."""
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            return True
        except (sa.exc.SQLAlchemyError, StateStoreError):
            return False


def _is_new(conn: sa.Connection) -> bool:
    """No table of the state store exists yet (other tables may share the database)."""
    names = set(sa.inspect(conn).get_table_names())
    return VERSION_TABLE not in names and not names & set(Base.metadata.tables)


def _create(conn: sa.Connection) -> None:
    """A new store: the tables as the models declare them, marked as migrated to HEAD.

    The migrations would make the same tables (tests/integration/state compares them on
    each database) in three times the time, 0.26 s against 0.08 on SQLite, most of it
    importing Alembic, Mako and Pygments: a cost every first run, and every run of the
    benchmark, paid. Later migrations start from the HEAD this records.
    """
    Base.metadata.create_all(conn)
    version = sa.Table(
        VERSION_TABLE,
        sa.MetaData(),
        # As Alembic makes it, so that it upgrades this store as one it made itself.
        sa.Column("version_num", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("version_num", name=f"{VERSION_TABLE}_pkc"),
    )
    version.create(conn)
    conn.execute(version.insert().values(version_num=HEAD))


def _upgrade(conn: sa.Connection) -> None:
    """A store made by an older sluice: Alembic's migrations up to HEAD."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "head")


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
