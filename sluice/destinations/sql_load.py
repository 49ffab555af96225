"""Atomic loads into SQL tables, each under a load marker, in every write mode.

Write modes, each one transaction:
- ``append``/``snapshot``: rows go straight into the table.
- ``replace``: rows go into a staging table that then takes the table's place, so a
  reader sees the old rows or the new ones, never half of them.
- ``merge``: rows go into a staging table, then one upsert on the table's keys.

The marker (a row of ``_sluice_loads``) is written in the load's own transaction, so a
committed load is never repeated. Subclasses supply the bulk path (``_write``: COPY,
executemany, ...) and the upsert statement. Every identifier goes through the
dialect's quoting.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import polars as pl
import sqlalchemy as sa

from sluice.destinations.base import LOADS_TABLE, LoadMeta, LoadResult, Mode, Target
from sluice.destinations.sql_base import SqlBase, snapshot_columns
from sluice.dtypes import json_text
from sluice.errors import LoadError, RetryableLoadError, RunCancelled, Where
from sluice.schema import TableSpec

STAGE_PREFIX = "_sluice_stage_"
#: writes a batch into a table during a load: ``(table, columns, data) -> rows``
Writer = Callable[[str, list[str], pl.DataFrame], int]


class SqlLoads(SqlBase):
    """The loads of a SQL destination: ``load``, ``load_tables``, ``is_loaded``."""

    def _write(self, conn: Any, table: str, columns: list[str], data: pl.DataFrame) -> int:
        raise NotImplementedError

    @contextlib.contextmanager
    def _writing(self, conn: Any, tables: list[str]) -> Iterator[Writer]:
        """What writes one load's batches: ``write(table, columns, data) -> rows``.
        When the block ends, every row written is in its table (uncommitted).
        ``tables``: those the load writes, referenced ones first."""
        yield lambda table, columns, data: self._write(conn, table, columns, data)

    def _upsert(
        self,
        target: str,
        stage: str,
        columns: list[str],
        keys: list[str],
        as_text: frozenset[str] = frozenset(),
        order: str | None = None,
    ) -> str:
        """``INSERT ... ON CONFLICT (keys) DO UPDATE``: PostgreSQL and SQLite share it.

        A row whose every value is as the table holds it is left alone: no new row
        version, no index entries (merging 1M rows the table already held: 9.3 s of
        the server's time -> 4.6 s). ``as_text``: columns compared by their text (JSON,
        which PostgreSQL cannot compare as it is). ``order``: what the rows go in
        (default: the keys).
        """
        q = self.quote
        cols = ", ".join(q(c) for c in columns)
        rest = [c for c in columns if c not in keys]
        keyed = ", ".join(q(k) for k in keys)
        if rest:
            sets = ", ".join(f"{q(c)} = excluded.{q(c)}" for c in rest)
            changed = " OR ".join(self._differs(target, c, c in as_text) for c in rest)
            action = f"DO UPDATE SET {sets} WHERE {changed}"
        else:
            action = "DO NOTHING"
        # `WHERE true` keeps SQLite from reading ON CONFLICT as part of a join. The rows
        # go in key order: each probe and insert lands next to the last one in the key's
        # index, where the file's order sent them all over it and, on PostgreSQL, through
        # its buffer cache (500k updates + 500k new keys into 1M rows: 10.1-10.5 s of
        # the server's time in file order, 6.7-7.0 s sorted).
        return (
            f"INSERT INTO {q(target)} ({cols}) SELECT {cols} FROM {q(stage)} WHERE true "
            f"ORDER BY {order or keyed} ON CONFLICT ({keyed}) {action}"
        )

    def _differs(self, target: str, column: str, as_text: bool) -> str:
        """Whether the table's value of ``column`` and the incoming one differ, nulls
        included (``IS DISTINCT FROM``; SQLite says ``IS NOT``)."""
        q = self.quote
        held, new = f"{q(target)}.{q(column)}", f"excluded.{q(column)}"
        if as_text:
            held, new = f"CAST({held} AS TEXT)", f"CAST({new} AS TEXT)"
        return f"{held} IS DISTINCT FROM {new}"

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
            with self._writing(raw, [into[t.table.name] for t in targets]) as write:
                for batch in batches:
                    for name, data in batch.items():
                        if data.height:
                            cols = columns[name]
                            rows[name] += write(into[name], cols, stamp(data, cols, meta))
            swaps = [(into[t.table.name], t.table.name) for t in targets if t.mode == "replace"]
            if swaps:
                self._swap(cur, swaps)
            merged = [t for t in targets if t.mode == "merge"]
            if merged:
                self._merge(cur, merged, into, columns)
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

    def _merge(
        self, cur: Any, merged: list[Target], into: dict[str, str], columns: dict[str, list[str]]
    ) -> None:
        """The staged rows into their tables, in dependency order (one statement each)."""
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
                texts = frozenset(c.name for c in t.table.columns if c.type == "list")
                order = self._key_order(t.table)
                cur.execute(self._upsert(name, stage, columns[name], t.table.keys, texts, order))

    def _key_order(self, table: TableSpec) -> str | None:
        """The ORDER BY an upsert sends its rows in (None: the keys as they are)."""
        return None

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
        cur.execute(self._stage_ddl(str(ddl), mode))
        return stage

    def _stage_ddl(self, create: str, mode: Mode) -> str:
        """The stage's CREATE TABLE (a warehouse may make a merge's stage cheaper)."""
        return create

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
    if extra or lists:
        batch = batch.with_columns(extra + lists)
    # Each query costs ~1 ms of set-up even when it has nothing to do (0.2 s of the
    # 222 batches of the normalize bench's six tables): most batches already match.
    return batch if batch.columns == columns else batch.select(columns)
