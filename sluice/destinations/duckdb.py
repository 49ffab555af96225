"""DuckDB: an embedded analytical warehouse in one file (``duckdb:///path/to/file.duckdb``).

Bulk path: each batch's Arrow table is copied with ``INSERT INTO t (cols) SELECT cols
FROM <arrow>``, DuckDB finding the table by its name among the caller's local variables
(a replacement scan): DuckDB scans the Arrow buffers itself, no Python object per value.
Stages, swap, upsert and the load marker all run in that connection's one transaction
(DuckDB's DDL is transactional).

The SQLAlchemy engine (``prepare``, ``is_loaded``, ``preview``) and the load share one
database instance: DuckDB opens a file once per process and gives each connection its
own MVCC snapshot, so a reader sees the last commit while a load is open. Another
*process* cannot open the file while this one holds it; ``close()`` lets go of it.

DuckDB checks a foreign key against the committed index and runs an UPDATE of an
indexed column as delete + insert: a referenced row can be updated in place, but not
deleted, nor moved to another value of an indexed (foreign key) column, in the load's
transaction. ``_upsert`` and ``_swap`` below are shaped around that.
"""

from __future__ import annotations

import contextlib
import functools
import json
import threading
from collections.abc import Iterator
from typing import Any

import duckdb
import polars as pl
import sqlalchemy as sa

from sluice.destinations.base import Capabilities, Mode, register
from sluice.destinations.found_kept import duckdb_kept
from sluice.destinations.found_types import Found, Unique, duckdb_family
from sluice.destinations.sql import SqlDestination
from sluice.destinations.sql_load import Writer
from sluice.schema import ColumnSpec, TableSpec

#: the name a batch's Arrow table goes by while it is copied: a local variable of
#: :meth:`DuckdbDestination._write`, which DuckDB finds when no table or view has it
_BATCH_VIEW = "_sluice_batch"
#: whether DuckDB would not find the batch by that name: a table or view holds it (and
#: would be read instead), or the connection looks at no Python variables at all
_NOT_SCANNED = (
    "SELECT 1 FROM duckdb_tables() WHERE lower(table_name) = ? "
    "UNION ALL SELECT 1 FROM duckdb_views() WHERE lower(view_name) = ? "
    "UNION ALL SELECT 1 WHERE NOT current_setting('python_enable_replacements')"
)
#: DuckDB's worker threads while a load writes its batches. A batch (a few MiB, ~20,000
#: rows) is less than one of DuckDB's row groups (122,880 rows): more threads only add
#: hand-offs. 1M leads, 53 batches: 1.26 s and 1.72 CPU-s with one, 1.66 s and 2.15
#: CPU-s with two, and the load's other threads get the core back.
WRITE_THREADS = 1
#: database -> (loads writing batches now, its ``threads`` before the first of them).
#: ``threads`` is a setting of the database instance, which every connection of the
#: process to that file shares.
_narrowed: dict[str, tuple[int, int]] = {}
_narrowed_lock = threading.Lock()


@functools.cache  # an in-memory DuckDB to ask costs ~16 ms; the list is per version
def _keywords() -> frozenset[str]:
    with duckdb.connect() as conn:
        rows = conn.execute(
            "SELECT keyword_name FROM duckdb_keywords() WHERE keyword_category <> 'unreserved'"
        ).fetchall()
    return frozenset(str(name).lower() for (name,) in rows)


@register("duckdb")
class DuckdbDestination(SqlDestination):
    # DuckDB compresses what a load wrote in bursts, on the thread that writes: about
    # every 600,000 rows (32 inserts), 0.3-0.6 s in which it takes no batch. Read ahead
    # by 64 MB (16 batches of 4 MiB) the engine goes on validating meanwhile: 1M leads,
    # 16 alternating pairs, median 4.80 -> 4.50 s; peak RSS 490-505 -> 542-583 MB.
    capabilities = Capabilities(keeps_raw=False, read_ahead_bytes=64 * 1024**2)

    def __init__(self, url: str) -> None:
        super().__init__(url)
        # duckdb-engine quotes by PostgreSQL's reserved words; DuckDB reserves more
        # (`at`, `qualify`, ...): a column so named broke CREATE TABLE. Every DuckDB
        # keyword that is not freely usable is quoted, by SQLAlchemy's DDL and by us.
        preparer = self.engine.dialect.identifier_preparer
        preparer.reserved_words = set(preparer.reserved_words) | _keywords()
        getattr(preparer, "_strings", {}).clear()  # SQLAlchemy caches quoted names

        # Timestamps come back in UTC, whatever the machine's time zone. (Not as a
        # connect option: DuckDB reads those before it loads ICU, which owns it.)
        @sa.event.listens_for(self.engine, "connect")
        def _utc(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.execute("SET TimeZone = 'UTC'")

    # ---------------------------------------------------------------- schema

    def _columns(self, conn: sa.Connection, table: str) -> tuple[dict[str, Found], set[str]]:
        # duckdb-engine's reflection queries pg_catalog tables DuckDB 2 no longer has.
        rows = conn.execute(
            sa.text(
                "SELECT column_name, is_nullable, data_type, column_default "
                "FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = :t"
            ),
            {"t": table},
        )
        columns = {
            str(name): Found(
                nullable == "YES",
                str(type_),
                duckdb_family(str(type_)),
                duckdb_kept(str(type_)),
                filled=default is not None,
            )
            for name, nullable, type_, default in rows
        }
        keys = conn.execute(
            sa.text(
                "SELECT constraint_column_names FROM duckdb_constraints() "
                "WHERE schema_name = current_schema() AND table_name = :t "
                "AND constraint_type = 'PRIMARY KEY'"
            ),
            {"t": table},
        ).all()
        return columns, {str(c) for (names,) in keys for c in names}

    def _retype(
        self, table: TableSpec, mode: Mode, changed: list[tuple[ColumnSpec, Found]]
    ) -> list[str]:
        return self._alter_types(table, changed)

    def _drop_not_null(self, conn: sa.Connection, table: str, columns: list[str]) -> None:
        """DuckDB refuses to alter a table that an index or another table's foreign key
        depends on (and the refusal aborts the transaction): such a table keeps its NOT
        NULL, and a row without the value fails its load, which changes nothing."""
        depended = conn.execute(
            sa.text(
                "SELECT 1 FROM duckdb_indexes() "
                "WHERE schema_name = current_schema() AND table_name = :t "
                "UNION ALL SELECT 1 FROM duckdb_constraints() "
                "WHERE schema_name = current_schema() AND referenced_table = :t"
            ),
            {"t": table},
        ).first()
        if depended is None:
            super()._drop_not_null(conn, table, columns)

    def _uniques(self, conn: sa.Connection, table: str) -> list[Unique]:
        # duckdb-engine cannot reflect keys or indexes either: DuckDB's own catalog.
        found = conn.execute(
            sa.text(
                "SELECT constraint_type, constraint_name, constraint_column_names "
                "FROM duckdb_constraints() "
                "WHERE schema_name = current_schema() AND table_name = :t "
                "AND constraint_type IN ('PRIMARY KEY', 'UNIQUE')"
            ),
            {"t": table},
        ).all()
        indexes = conn.execute(
            sa.text(
                "SELECT index_name, expressions FROM duckdb_indexes() WHERE is_unique "
                "AND schema_name = current_schema() AND table_name = :t"
            ),
            {"t": table},
        ).all()
        kinds = {"PRIMARY KEY": "its primary key", "UNIQUE": "a unique constraint"}
        out = [Unique(kinds[kind], str(name), [str(c) for c in cols]) for kind, name, cols in found]
        out += [
            Unique("a unique index", str(name), sorted(index_columns(e))) for name, e in indexes
        ]
        return out

    def _indexed_columns(self, table: str) -> set[str]:
        """Columns under a key, unique or foreign key constraint, or a plain index."""
        with self.engine.connect() as conn:
            found = conn.execute(
                sa.text(
                    "SELECT constraint_column_names FROM duckdb_constraints() "
                    "WHERE schema_name = current_schema() AND table_name = :t "
                    "AND constraint_type IN ('PRIMARY KEY', 'UNIQUE', 'FOREIGN KEY')"
                ),
                {"t": table},
            ).all()
            indexes = conn.execute(
                sa.text(
                    "SELECT expressions FROM duckdb_indexes() "
                    "WHERE schema_name = current_schema() AND table_name = :t"
                ),
                {"t": table},
            ).all()
        columns = {str(c) for (names,) in found for c in names}
        for (exprs,) in indexes:
            columns |= index_columns(exprs)
        return columns

    # ---------------------------------------------------------------- loading

    def _begin_sql(self) -> str:
        # DuckDB's Python connections autocommit until told otherwise.
        return "BEGIN TRANSACTION"

    def _param(self) -> str:
        return "?"

    def _db_errors(self) -> tuple[type[BaseException], ...]:
        return (*super()._db_errors(), duckdb.Error)

    @contextlib.contextmanager
    def _writing(self, conn: Any, tables: list[str]) -> Iterator[Writer]:
        """Batches are written with :data:`WRITE_THREADS` threads; what runs after them
        (a merge's upsert, a swap, the commit) with the database's own setting."""
        database = str(self.engine.url.database or ":memory:")
        with _narrowed_lock:
            loads, before = _narrowed.get(database, (0, 0))
            if not loads:
                before = int(self._setting("threads"))
                self._set("threads", WRITE_THREADS)
            _narrowed[database] = (loads + 1, before)
        try:
            with super()._writing(conn, tables) as write:
                viewed = conn.execute(_NOT_SCANNED, [_BATCH_VIEW, _BATCH_VIEW]).fetchall()
                yield functools.partial(self._write_registered, conn) if viewed else write
        finally:
            with _narrowed_lock:
                loads, before = _narrowed.pop(database)
                if loads > 1:
                    _narrowed[database] = (loads - 1, before)
                else:
                    # On a connection of its own: the load's may be in a failed transaction.
                    # Only a speed setting: a failure here must not hide the load's error.
                    with contextlib.suppress(duckdb.Error, sa.exc.SQLAlchemyError):
                        self._set("threads", before)

    def _setting(self, name: str) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(sa.text("SELECT current_setting(:n)"), {"n": name}).scalar()

    def _set(self, name: str, value: int) -> None:
        with self.engine.connect() as conn:
            conn.exec_driver_sql(f"SET {name} = {int(value)}")
            conn.commit()

    def _write(self, conn: Any, table: str, columns: list[str], data: pl.DataFrame) -> int:
        # `conn` is the pooled DBAPI connection; attribute access reaches DuckDB's own,
        # so DuckDB's replacement scan looks in this frame's locals for the batch. Not
        # `register`: its view keeps each batch's Arrow buffers alive until the load
        # commits, unregistered or not (duckdb-python#469): a 1M-lead load peaked at
        # 770 MB, 3M leads at 1.5 GB.
        # String views are Polars' own layout: DuckDB reads them without the copy of
        # every value that the default (large_string) makes (1M rows: ~0.3 s of CPU).
        _sluice_batch = data.to_arrow(compat_level=pl.CompatLevel.newest())
        conn.execute(self._copy_sql(table, columns))
        return data.height

    def _write_registered(
        self, conn: Any, table: str, columns: list[str], data: pl.DataFrame
    ) -> int:
        """:meth:`_write` where no replacement scan would find the batch (a table or
        view has its name, or ``python_enable_replacements`` is off): the batch is a
        view of the connection, which shadows any table, but whose memory lasts until
        the commit."""
        conn.register(_BATCH_VIEW, data.to_arrow(compat_level=pl.CompatLevel.newest()))
        try:
            conn.execute(self._copy_sql(table, columns))
        finally:
            conn.unregister(_BATCH_VIEW)
        return data.height

    def _copy_sql(self, table: str, columns: list[str]) -> str:
        """The statement that copies the batch named :data:`_BATCH_VIEW` into ``table``."""
        q = self.quote
        cols = ", ".join(q(c) for c in columns)
        return f"INSERT INTO {q(table)} ({cols}) SELECT {cols} FROM {q(_BATCH_VIEW)}"

    def _upsert(
        self,
        target: str,
        stage: str,
        columns: list[str],
        keys: list[str],
        as_text: frozenset[str] = frozenset(),
        order: str | None = None,
    ) -> str:
        """The upsert, then an UPDATE of indexed columns only where their value changed
        (in the stage's order: ``order`` is not used).

        An ``ON CONFLICT DO UPDATE`` that sets a foreign key column rewrites the row as
        delete + insert, which DuckDB refuses for a row another table references, even
        when the value stays the same. So the upsert sets the other columns in place,
        and the indexed ones move in a second statement, only on rows where they differ.
        """
        q = self.quote
        indexed = self._indexed_columns(target) - set(keys)
        cols = ", ".join(q(c) for c in columns)
        rest = [c for c in columns if c not in keys and c not in indexed]
        action = (
            "DO UPDATE SET " + ", ".join(f"{q(c)} = excluded.{q(c)}" for c in rest)
            if rest
            else "DO NOTHING"
        )
        statements = [
            f"INSERT INTO {q(target)} ({cols}) SELECT {cols} FROM {q(stage)} WHERE true "
            f"ON CONFLICT ({', '.join(q(k) for k in keys)}) {action}"
        ]
        moved = [c for c in columns if c in indexed]
        if moved:
            match = " AND ".join(f"{q(target)}.{q(k)} = s.{q(k)}" for k in keys)
            differs = " OR ".join(f"{q(target)}.{q(c)} IS DISTINCT FROM s.{q(c)}" for c in moved)
            sets = ", ".join(f"{q(c)} = s.{q(c)}" for c in moved)
            statements.append(
                f"UPDATE {q(target)} SET {sets} FROM {q(stage)} s WHERE {match} AND ({differs})"
            )
        # The load's cursor runs every statement of the text, in order.
        return ";\n".join(statements)

    def _swap(self, cur: Any, swaps: list[tuple[str, str]]) -> None:
        """Empty each table and copy its stage in, instead of drop-and-rename.

        DuckDB refuses to drop or rename a table another table's foreign key points
        to, and a renamed stage would lose the table's keys, foreign keys and indexes.
        Emptying referencing tables first and filling referenced ones first keeps the
        table as declared; MVCC still shows readers the old rows until commit.
        """
        q = self.quote
        for _, table in reversed(swaps):
            cur.execute(f"DELETE FROM {q(table)}")
        for stage, table in swaps:
            # BY NAME: a column added later sits at the table's end, not the stage's.
            cur.execute(f"INSERT INTO {q(table)} BY NAME SELECT * FROM {q(stage)}")
        for stage, _ in reversed(swaps):
            cur.execute(f"DROP TABLE {q(stage)}")


def index_columns(expressions: object) -> set[str]:
    """The columns of an index on plain columns, from ``duckdb_indexes().expressions``."""
    # '[a, "b c"]': an index on plain columns lists their names.
    names = str(expressions).strip("[]").split(", ")
    return {json.loads(e) if e.startswith('"') else e for e in names}
