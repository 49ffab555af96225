"""SQLite: the zero-infrastructure default.

Bulk path: Arrow batches go through ADBC's SQLite driver (C++, no Python object per
value; :mod:`sluice.destinations.sqlite_adbc`), all in one transaction. DDL, markers and
previews use SQLAlchemy.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import polars as pl
import sqlalchemy as sa

from sluice.destinations import sqlite_adbc as adbc
from sluice.destinations.base import Capabilities, register
from sluice.destinations.sql import SqlDestination
from sluice.destinations.sql_load import Writer
from sluice.destinations.writeback import Writeback
from sluice.schema import Narrow


@register("sqlite")
class SqliteDestination(SqlDestination):
    # NUMERIC keeps the first 15 significant digits of a decimal (an 8-byte float, or
    # the integer that float is): 12345678901234567.89 would be stored 12345678901234568.
    capabilities = Capabilities(keeps_raw=False, decimal_digits=15)

    def narrow_columns(
        self, table: str, declared: dict[str, str], run_id: str
    ) -> dict[str, Narrow]:
        # SQLite keeps what it is given whatever a column's type names: NUMERIC(10,2)
        # stores 12.345 as it is, REAL is 8 bytes.
        return {}

    def __init__(self, url: str) -> None:
        super().__init__(url)

        # The driver would only open transactions before DML; replace and merge need
        # their DDL inside the same transaction, so we say BEGIN ourselves. DDL takes
        # the write lock at once (IMMEDIATE): a transaction that read the catalog first
        # could not take it later while another process creates the same tables.
        @sa.event.listens_for(self.engine, "begin")
        def _begin(conn: sa.Connection) -> None:
            ddl = conn.get_execution_options().get("sluice_ddl")
            conn.exec_driver_sql("BEGIN IMMEDIATE" if ddl else "BEGIN")

    def _engine_options(self) -> dict[str, Any]:
        return {"connect_args": {"isolation_level": None, "timeout": 60}}

    def _differs(self, target: str, column: str, as_text: bool) -> str:
        # SQLite's null-safe comparison; it has IS DISTINCT FROM only from 3.39.
        return f"{self.quote(target)}.{self.quote(column)} IS NOT excluded.{self.quote(column)}"

    def _drop_not_null(self, conn: sa.Connection, table: str, columns: list[str]) -> None:
        """SQLite cannot alter a column: the table is rebuilt as it is, less NOT NULL.

        Its own recipe (sqlite.org/lang_altertable.html): a copy made from the reflected
        table (keys, foreign keys, unique constraints), the rows, the old one dropped,
        the copy renamed, its indexes made again. Foreign keys are not enforced on these
        connections, and ``legacy_alter_table`` keeps the rename from re-checking views
        (``<table>_latest``) while the table is gone; they name it and see it again.
        """
        metadata = sa.MetaData()
        old = sa.Table(table, metadata, autoload_with=conn)
        copy = old.to_metadata(metadata, name=f"_sluice_rebuild_{table}"[:63])
        for index in list(copy.indexes):
            copy.indexes.discard(index)
        for name in columns:
            copy.c[name].nullable = True
        copy.create(conn)
        q = self.quote
        conn.exec_driver_sql(f"INSERT INTO {q(copy.name)} SELECT * FROM {q(table)}")
        conn.exec_driver_sql(f"DROP TABLE {q(table)}")
        conn.exec_driver_sql("PRAGMA legacy_alter_table = ON")
        try:
            conn.exec_driver_sql(f"ALTER TABLE {q(copy.name)} RENAME TO {q(table)}")
        finally:
            conn.exec_driver_sql("PRAGMA legacy_alter_table = OFF")
        for index in old.indexes:
            index.create(conn)

    def _raw_connection(self) -> Any:
        # ADBC opens a transaction itself (autocommit off) and keeps DDL inside it.
        conn = adbc.connect(self.engine.url.database or ":memory:")
        cur = conn.cursor()
        cur.execute("PRAGMA busy_timeout = 60000")
        cur.close()
        return conn

    def _param(self) -> str:
        return "?"

    def _now(self) -> Any:
        return super()._now().isoformat()

    def _db_errors(self) -> tuple[type[BaseException], ...]:
        return (*super()._db_errors(), adbc.Error)

    @contextlib.contextmanager
    def _writing(self, conn: Any, tables: list[str]) -> Iterator[Writer]:
        """Batches written as the base class does, the file sent to disk as it grows
        (:mod:`sluice.destinations.writeback`): the commit then waits for little."""
        with super()._writing(conn, tables) as write:
            back = None
            path = self.engine.url.database
            if path and path != ":memory:":
                with contextlib.suppress(OSError):  # a speed-up: the load goes on without
                    back = Writeback(path)
            if back is None:
                yield write
                return

            def written(table: str, columns: list[str], data: pl.DataFrame) -> int:
                rows = write(table, columns, data)
                back.grew()
                return rows

            try:
                yield written
            finally:
                back.close()

    def _write(self, conn: Any, table: str, columns: list[str], data: pl.DataFrame) -> int:
        # SQLite has no date or decimal types: they are stored as ISO text, as the
        # SQLAlchemy dialect reads them back.
        data = data.with_columns(
            pl.col(pl.Date, pl.Datetime, pl.Decimal).cast(pl.String),
            pl.col(pl.Boolean).cast(pl.Int8),
        )
        # String views are Polars' own layout, and ADBC's SQLite driver binds them: the
        # default (large_string) copied every text value (1M leads: ~0.2 CPU-s, 0.15 s).
        with conn.cursor() as cur:
            cur.adbc_ingest(table, data.to_arrow(compat_level=pl.CompatLevel.newest()))
        return data.height
