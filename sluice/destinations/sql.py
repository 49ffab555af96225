"""What SQL destinations share: DDL from the declared schema, write modes, load markers.

Subclasses supply the bulk path (``_write``: COPY, executemany, ...) and the upsert
statement. Every identifier goes through the dialect's quoting; tables are created
from the declared schema with SQLAlchemy, never from text found in a file.

Write modes, each one transaction:
- ``append``/``snapshot``: rows go straight into the table.
- ``replace``: rows go into a staging table that then takes the table's place, so a
  reader sees the old rows or the new ones, never half of them.
- ``merge``: rows go into a staging table, then one upsert on the table's keys.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import polars as pl
import sqlalchemy as sa

from sluice.dbpool import quiet_pool_logs
from sluice.dburl import normalize, redact
from sluice.destinations.base import (
    LOADS_TABLE,
    Capabilities,
    LoadMeta,
    LoadResult,
    Mode,
    Target,
)
from sluice.destinations.limits import limit_hit
from sluice.errors import LimitExceeded, LoadError, RetryableLoadError, RunCancelled, Where
from sluice.schema import SA_TYPES, ColumnSpec, TableSpec, json_text

STAGE_PREFIX = "_sluice_stage_"


class SqlDestination:
    capabilities = Capabilities(bulk_path="INSERT", transactional_ddl=True)

    def __init__(self, url: str) -> None:
        self.url = url
        quiet_pool_logs()  # a connection dropped under the pool: one line, no traceback
        try:
            self.engine = sa.create_engine(normalize(url), **self._engine_options())
        except (sa.exc.ArgumentError, ImportError) as exc:
            raise LoadError(f"cannot use warehouse {redact(url)}: {exc}") from None
        self.quote: Callable[[str], str] = self.engine.dialect.identifier_preparer.quote

    # ---------------------------------------------------------------- subclass hooks

    def _engine_options(self) -> dict[str, Any]:
        return {}

    def _write(self, conn: Any, table: str, columns: list[str], data: pl.DataFrame) -> int:
        raise NotImplementedError

    def _upsert(self, target: str, stage: str, columns: list[str], keys: list[str]) -> str:
        """``INSERT ... ON CONFLICT (keys) DO UPDATE``: PostgreSQL and SQLite share it."""
        q = self.quote
        cols = ", ".join(q(c) for c in columns)
        rest = [c for c in columns if c not in keys]
        action = (
            "DO UPDATE SET " + ", ".join(f"{q(c)} = excluded.{q(c)}" for c in rest)
            if rest
            else "DO NOTHING"
        )
        # `WHERE true` keeps SQLite from reading ON CONFLICT as part of a join.
        return (
            f"INSERT INTO {q(target)} ({cols}) SELECT {cols} FROM {q(stage)} WHERE true "
            f"ON CONFLICT ({', '.join(q(k) for k in keys)}) {action}"
        )

    # ---------------------------------------------------------------- schema

    def _column_type(self, spec: TableSpec, column: ColumnSpec) -> sa.types.TypeEngine[Any]:
        """The SQL type of a column (MySQL needs a bounded type for key columns)."""
        return SA_TYPES[column.type]

    def _sa_table(self, spec: TableSpec, mode: Mode, name: str | None = None) -> sa.Table:
        """The table as SQLAlchemy sees it; a stage (``name`` given) has no foreign keys.

        Exactly the declared columns: their type, NOT NULL where not ``nullable``, and
        no default of any kind. (SQLAlchemy would make a lone integer primary key
        generated: BIGSERIAL in PostgreSQL, AUTO_INCREMENT in MySQL; keys are data.)
        """
        metadata = sa.MetaData()
        cols = [
            sa.Column(c.name, self._column_type(spec, c), nullable=c.nullable, autoincrement=False)
            for c in [*spec.columns, *snapshot_columns(mode)]
        ]
        args: list[Any] = []
        if mode == "merge" and spec.keys:
            args.append(sa.PrimaryKeyConstraint(*spec.keys))
        for fk in spec.foreign_keys if name is None else []:
            # The referenced table only needs to be known by name and key columns.
            if fk.table not in metadata.tables:
                sa.Table(fk.table, metadata, *(sa.Column(c, sa.Integer) for c in fk.ref_columns))
            refs = [f"{fk.table}.{c}" for c in fk.ref_columns]
            args.append(sa.ForeignKeyConstraint(list(fk.columns), refs))
        return sa.Table(name or spec.name, metadata, *cols, *args)

    def _connect_error(self, exc: Exception) -> LoadError:
        msg = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        cls = RetryableLoadError if isinstance(exc, sa.exc.OperationalError) else LoadError
        return cls(
            f"warehouse {redact(self.url)}: {msg}",
            hint="check that the database is running and the URL is right",
        )

    def _limit_error(
        self, exc: Exception, limit: str, table: TableSpec, mode: Mode
    ) -> LimitExceeded:
        said = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        columns = len(table.columns) + len(snapshot_columns(mode))
        return LimitExceeded(
            f"warehouse {redact(self.url)}: table {table.name!r} would have {columns:,} "
            f"columns; {limit} ({said})",
            hint="a limit of the database, not a passing fault: running again will not "
            "help. Load fewer columns: list the ones not needed in the source's ignore",
        )

    def prepare(self, table: TableSpec, mode: Mode) -> list[str]:
        """Create or evolve ``table``. Two processes doing it at once on a new warehouse
        would both find it missing and both create it: the DDL is serialized where the
        database can (:meth:`_ddl_lock`), and a creation that lost such a race anyway
        looks again once (the table is there now)."""
        for attempt in (1, 2):
            try:
                ddl = self.engine.connect().execution_options(sluice_ddl=True)
                with ddl as conn, conn.begin(), self._ddl_lock(conn):
                    return self._prepare(conn, table, mode)
            except sa.exc.SQLAlchemyError as exc:
                if attempt == 1 and _made_meanwhile(exc):
                    continue
                if (limit := limit_hit(exc)) is not None:
                    raise self._limit_error(exc, limit, table, mode) from None
                raise self._connect_error(exc) from None
        raise AssertionError("unreachable")

    def _ddl_lock(self, conn: sa.Connection) -> contextlib.AbstractContextManager[object]:
        """Held around the DDL of a prepare, to take turns with other processes where the
        database can (PostgreSQL, MySQL: a named lock)."""
        return contextlib.nullcontext()

    def _prepare(self, conn: sa.Connection, table: TableSpec, mode: Mode) -> list[str]:
        loads = sa.Table(
            LOADS_TABLE,
            sa.MetaData(),
            sa.Column("load_key", sa.String(255), primary_key=True),
            sa.Column("table_name", sa.String(255), nullable=False),
            sa.Column("rows", sa.BigInteger, nullable=False),
            sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        )
        loads.create(conn, checkfirst=True)
        wanted = self._sa_table(table, mode)
        inspector = sa.inspect(conn)
        added: list[str] = []
        if not inspector.has_table(table.name):
            wanted.create(conn)
        else:
            have, primary = self._columns(conn, table.name)
            for col in wanted.columns:
                if col.name not in have:
                    # Added columns are nullable, even a required one: the rows already
                    # in the table have no value for them.
                    ddl = col.type.compile(dialect=self.engine.dialect)
                    conn.execute(
                        sa.text(
                            f"ALTER TABLE {self.quote(table.name)} "
                            f"ADD COLUMN {self.quote(col.name)} {ddl}"
                        )
                    )
                    added.append(col.name)
            # A column no longer `required` (or no longer declared) loses its NOT NULL:
            # a row without it must load, a replayed one for instance. Never the other
            # way: rows already in the table may lack the value.
            strict = {c.name for c in wanted.columns if not c.nullable}
            loose = [
                name
                for name, nullable in have.items()
                if not nullable and name not in strict and name not in primary
            ]
            if loose:
                self._drop_not_null(conn, table.name, loose)
            if mode == "merge" and table.keys:
                self._ensure_unique(conn, table)
        if mode == "snapshot" and (added or not inspector.has_table(f"{table.name}_latest")):
            self._latest_view(conn, table.name)
        return added

    def _columns(self, conn: sa.Connection, table: str) -> tuple[dict[str, bool], set[str]]:
        """An existing table's columns (name -> nullable) and its primary key's columns."""
        inspector = sa.inspect(conn)
        columns = {c["name"]: bool(c["nullable"]) for c in inspector.get_columns(table)}
        return columns, set(inspector.get_pk_constraint(table)["constrained_columns"])

    def _drop_not_null(self, conn: sa.Connection, table: str, columns: list[str]) -> None:
        for name in columns:
            conn.execute(
                sa.text(
                    f"ALTER TABLE {self.quote(table)} ALTER COLUMN {self.quote(name)} DROP NOT NULL"
                )
            )

    def _ensure_unique(self, conn: sa.Connection, table: TableSpec) -> None:
        """A unique index on the keys of a table made under another mode (no primary key).

        A table created for ``merge`` has its primary key on the keys, and nothing more.
        """
        if self._keys_unique(conn, table.name, table.keys):
            return
        name = self.quote(f"ux_{table.name}_keys"[:63])
        keys = ", ".join(self.quote(k) for k in table.keys)
        conn.execute(
            sa.text(
                f"CREATE UNIQUE INDEX IF NOT EXISTS {name} ON {self.quote(table.name)} ({keys})"
            )
        )

    def _keys_unique(self, conn: sa.Connection, table: str, keys: list[str]) -> bool:
        """Whether a primary key, unique constraint or unique index is on exactly ``keys``."""
        inspector = sa.inspect(conn)
        found: list[set[str | None]] = [
            set(inspector.get_pk_constraint(table)["constrained_columns"])
        ]
        found += [set(u["column_names"]) for u in inspector.get_unique_constraints(table)]
        found += [set(ix["column_names"]) for ix in inspector.get_indexes(table) if ix["unique"]]
        return set(keys) in found

    def _latest_view(self, conn: sa.Connection, table: str) -> None:
        q = self.quote
        view = q(f"{table}_latest")
        conn.execute(sa.text(f"DROP VIEW IF EXISTS {view}"))
        conn.execute(
            sa.text(
                f"CREATE VIEW {view} AS SELECT t.* FROM {q(table)} t JOIN "
                f"(SELECT {q('_source')} AS s, MAX({q('_load_id')}) AS l FROM {q(table)} "
                f"GROUP BY {q('_source')}) m ON t.{q('_source')} = m.s AND t.{q('_load_id')} = m.l"
            )
        )

    # ---------------------------------------------------------------- loading

    def is_loaded(self, load_key: str) -> bool:
        try:
            with self.engine.connect() as conn:
                if not sa.inspect(conn).has_table(LOADS_TABLE):
                    return False
                row = conn.execute(
                    sa.text(f"SELECT 1 FROM {self.quote(LOADS_TABLE)} WHERE load_key = :k"),
                    {"k": load_key},
                ).first()
                return row is not None
        except sa.exc.SQLAlchemyError as exc:
            raise self._connect_error(exc) from None

    def load(
        self,
        table: TableSpec,
        mode: Mode,
        load_key: str,
        batches: Iterable[pl.DataFrame],
        meta: LoadMeta | None = None,
    ) -> LoadResult:
        frames = ({table.name: b} for b in batches)
        return self.load_tables([Target(table, mode)], load_key, frames, meta)

    def load_tables(
        self,
        targets: list[Target],
        load_key: str,
        batches: Iterable[dict[str, pl.DataFrame]],
        meta: LoadMeta | None = None,
        counted: str | None = None,
    ) -> LoadResult:
        """Load several tables as one unit (normalized records): all of them or none.

        ``targets`` come in dependency order (referenced tables first); each batch maps
        a table name to its rows. The result's ``rows`` are table ``counted``'s (by
        default the first), the records the engine accounts for.
        """
        raw = self._raw_connection()
        first = counted or targets[0].table.name
        try:
            cur = raw.cursor()
            cur.execute(self._begin_sql())
            # `rows` is a reserved word in MySQL and MariaDB: the marker's columns are quoted.
            key_col, rows_col = self.quote("load_key"), self.quote("rows")
            cur.execute(
                f"SELECT {rows_col} FROM {self.quote(LOADS_TABLE)} "
                f"WHERE {key_col} = {self._param()}",
                (load_key,),
            )
            done = cur.fetchone()
            if done is not None:
                raw.rollback()
                return LoadResult(int(done[0]), already_loaded=True)
            columns = {
                t.table.name: t.table.column_names + [c.name for c in snapshot_columns(t.mode)]
                for t in targets
            }
            into = {
                t.table.name: (
                    self._create_stage(cur, t.table, t.mode)
                    if t.mode in ("replace", "merge")
                    else t.table.name
                )
                for t in targets
            }
            rows = dict.fromkeys(columns, 0)
            for batch in batches:
                for name, data in batch.items():
                    if data.height:
                        cols = columns[name]
                        rows[name] += self._write(raw, into[name], cols, stamp(data, cols, meta))
            swaps = [(into[t.table.name], t.table.name) for t in targets if t.mode == "replace"]
            if swaps:
                self._swap(cur, swaps)
            merged = [t for t in targets if t.mode == "merge"]
            for t in merged:
                stage, name = into[t.table.name], t.table.name
                if t.parent_keys:
                    parents = into.get(t.parent, stage)
                    cur.execute(self._delete_children(name, parents, list(t.parent_keys)))
                    listed = ", ".join(self.quote(c) for c in columns[name])
                    cur.execute(
                        f"INSERT INTO {self.quote(name)} ({listed}) "
                        f"SELECT {listed} FROM {self.quote(stage)}"
                    )
                else:
                    cur.execute(self._upsert(name, stage, columns[name], t.table.keys))
            cur.execute(
                f"INSERT INTO {self.quote(LOADS_TABLE)} ({key_col}, {self.quote('table_name')}, "
                f"{rows_col}, {self.quote('loaded_at')}) "
                f"VALUES ({self._param()}, {self._param()}, {self._param()}, {self._param()})",
                (load_key, first, rows[first], self._now()),
            )
            for t in merged:
                cur.execute(f"DROP TABLE {self.quote(into[t.table.name])}")
            raw.commit()
            return LoadResult(rows[first], tables=rows)
        except BaseException as exc:
            # The connection may be gone; then the server rolls back by itself.
            with contextlib.suppress(Exception):
                raw.rollback()
            if _interrupted(exc):
                # A driver with its own Ctrl-C handling (ADBC's SQLite) cancels the call
                # and raises its own error: this is the user's Ctrl-C, not a failed load.
                raise RunCancelled(
                    f"loading table {first!r} was interrupted (Ctrl-C); the table is unchanged",
                    where=Where(key=load_key),
                ) from None
            if isinstance(exc, self._db_errors()):
                msg = str(exc).strip().splitlines()[0]
                # A dropped connection or a deadlock: the same load may well succeed if
                # tried again (the Celery executor does; a local run reports it).
                # (duckdb_engine's DB-API has no OperationalError.)
                operational = getattr(self.engine.dialect.dbapi, "OperationalError", None)
                transient = operational is not None and isinstance(exc, operational)
                raise (RetryableLoadError if transient else LoadError)(
                    f"loading table {first!r} failed: {msg}",
                    where=Where(key=load_key),
                    hint="the table is unchanged; fix the cause and run again",
                ) from None
            raise
        finally:
            raw.close()

    def _swap(self, cur: Any, swaps: list[tuple[str, str]]) -> None:
        """Put each loaded stage in its table's place, inside the load's transaction.

        Referencing tables go first: a table is dropped after those that point to it.
        """
        for _, table in reversed(swaps):
            cur.execute(f"DROP TABLE {self.quote(table)}")
        for stage, table in swaps:
            cur.execute(f"ALTER TABLE {self.quote(stage)} RENAME TO {self.quote(table)}")

    def _delete_children(self, table: str, stage: str, parent_keys: list[str]) -> str:
        """Delete a child table's rows whose parent is in the stage (to insert anew)."""
        q = self.quote
        match = " AND ".join(f"s.{q(k)} = {q(table)}.{q(k)}" for k in parent_keys)
        return f"DELETE FROM {q(table)} WHERE EXISTS (SELECT 1 FROM {q(stage)} s WHERE {match})"

    def _create_stage(self, cur: Any, table: TableSpec, mode: Mode) -> str:
        stage = f"{STAGE_PREFIX}{table.name}"[:63]
        cur.execute(f"DROP TABLE IF EXISTS {self.quote(stage)}")
        ddl = sa.schema.CreateTable(self._sa_table(table, mode, stage)).compile(
            dialect=self.engine.dialect
        )
        cur.execute(str(ddl))
        return stage

    def _raw_connection(self) -> Any:
        """The DBAPI connection a load runs on (one transaction)."""
        return self.engine.raw_connection()

    def _begin_sql(self) -> str:
        return "SELECT 1"

    def _param(self) -> str:
        return "%s"

    def _now(self) -> Any:
        return datetime.now(UTC)

    def _db_errors(self) -> tuple[type[BaseException], ...]:
        # Loads run on the raw DBAPI connection: its own errors, not SQLAlchemy's.
        dbapi = self.engine.dialect.dbapi
        return (sa.exc.DBAPIError, *([dbapi.Error] if dbapi is not None else []))

    # ---------------------------------------------------------------- reading

    def preview(
        self, relation: str, limit: int, offset: int = 0
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        # A plain DB-API round trip: the service calls this from a thread, and the less
        # Python it runs there, the less it holds the GIL against the event loop. The
        # relation is quoted; limit and offset are ints, written as such.
        sql = f"SELECT * FROM {self.quote(relation)} LIMIT {int(limit)} OFFSET {int(offset)}"
        try:
            raw = self.engine.raw_connection()
            try:
                cur = raw.cursor()
                cur.execute(sql)
                columns = [d[0] for d in cur.description or ()]
                rows = [tuple(r) for r in cur.fetchall()]
                cur.close()
            finally:
                raw.close()  # back to the pool, which ends the transaction
        except (sa.exc.SQLAlchemyError, self.engine.dialect.loaded_dbapi.Error) as exc:
            raise self._connect_error(exc) from None
        return columns, rows

    def count(self, relation: str) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(sa.text(f"SELECT COUNT(*) FROM {self.quote(relation)}")).scalar_one()
            )

    def close(self) -> None:
        self.engine.dispose()


def _interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` is, or was caused by, a KeyboardInterrupt (the driver's SIGINT)."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, KeyboardInterrupt):
            return True
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return False


def _made_meanwhile(exc: sa.exc.SQLAlchemyError) -> bool:
    """Whether DDL failed because another process made the same object just before."""
    text = str(getattr(exc, "orig", exc)).lower()
    return (
        "already exists" in text  # PostgreSQL, SQLite, MySQL (1050), DuckDB
        or "pg_type_typname_nsp_index" in text  # PostgreSQL: a CREATE racing another
        or "duplicate key name" in text  # MySQL 1061: an index
    )


def snapshot_columns(mode: Mode) -> list[ColumnSpec]:
    if mode != "snapshot":
        return []
    return [
        ColumnSpec("_load_id", "integer", nullable=False),
        ColumnSpec("_loaded_at", "datetime", nullable=False),
        ColumnSpec("_source", "string", nullable=False),
    ]


def stamp(batch: pl.DataFrame, columns: list[str], meta: LoadMeta | None) -> pl.DataFrame:
    """The batch with exactly ``columns``, snapshot stamps added where asked for."""
    extra = []
    if meta is not None and "_load_id" in columns:
        extra = [
            pl.lit(meta.load_id, pl.Int64).alias("_load_id"),
            pl.lit(meta.loaded_at, pl.Datetime("us", "UTC")).alias("_loaded_at"),
            pl.lit(meta.source, pl.String).alias("_source"),
        ]
    # A list column is stored as its JSON array: every bulk path takes text.
    lists = [
        json_text(pl.col(c)).alias(c) for c, t in batch.schema.items() if isinstance(t, pl.List)
    ]
    return batch.with_columns(extra + lists).select(columns)
