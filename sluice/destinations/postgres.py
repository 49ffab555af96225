"""PostgreSQL: bulk path ``COPY ... FROM STDIN`` through psycopg 3.

A load's batches stream through one COPY per table (:mod:`.pg_copy`), in COPY's binary
format where the table's column types take it (:mod:`.pg_binary`: the server parses
nothing). Otherwise Polars writes them as CSV (unquoted empty = NULL, ``""`` = empty
string, the same convention as COPY's csv format), and the server parses them as it
does for ``psql \\copy``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from sluice.destinations.base import Mode, register
from sluice.destinations.found_types import Found, Unique
from sluice.destinations.pg_copy import CopyStream
from sluice.destinations.sql import SqlDestination
from sluice.destinations.sql_load import Writer
from sluice.schema import ColumnSpec, TableSpec

DDL_LOCK = 0x5_1C3_0002  # the advisory lock held while creating or evolving tables


@register("postgresql")
class PostgresDestination(SqlDestination):
    ADD_COLUMNS_AT_ONCE = True
    #: A merge's stage without the key: filling a keyed stage of 1M rows took the server
    #: 3.3-4.4 s, the same rows unkeyed 0.7-1.1 s, and the upsert then sorts them (below).
    STAGE_KEYED = False

    def _engine_options(self) -> dict[str, Any]:
        return {"pool_pre_ping": True}

    @contextlib.contextmanager
    def _ddl_lock(self, conn: sa.Connection) -> Iterator[None]:
        # Until this transaction ends: a second first run waits, then sees the tables.
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": DDL_LOCK})
        yield

    def _retype(
        self, table: TableSpec, mode: Mode, changed: list[tuple[ColumnSpec, Found]]
    ) -> list[str]:
        q = self.quote
        # A view on the table pins its columns' types; sluice makes a snapshot's
        # `_latest` view again when it finds it gone.
        out = [f"DROP VIEW IF EXISTS {q(table.name + '_latest')}"] if mode == "snapshot" else []
        return out + self._alter_types(table, changed)

    def _unkey(self, table: TableSpec, unique: Unique) -> list[str]:
        if unique.kind == "a unique index":
            return super()._unkey(table, unique)
        return [
            f"ALTER TABLE {self.quote(table.name)} DROP CONSTRAINT {self.quote(str(unique.name))}"
        ]

    def _key_order(self, table: TableSpec) -> str:
        # Text keys sorted byte by byte: the server's sort of 1M staged rows took 1.0 s,
        # against 2.2 s by the database's collation (strcoll for each comparison). Under
        # C.UTF-8 that is the key index's own order; under another collation it differs
        # in places, which costs the upsert some locality, never a row.
        types = {c.name: c.type for c in table.columns}
        return ", ".join(
            self.quote(k) + (' COLLATE "C"' if types.get(k) == "string" else "") for k in table.keys
        )

    def _stage_ddl(self, create: str, mode: Mode) -> str:
        # A merge's stage lives for one transaction and is dropped before it commits:
        # nothing in it needs the write-ahead log (1M staged rows: 2.5 s -> 1.1 s of
        # the server's time). A replace's stage becomes the table: logged.
        if mode == "merge":
            return create.replace("CREATE TABLE", "CREATE UNLOGGED TABLE", 1)
        return create

    @contextlib.contextmanager
    def _writing(self, conn: Any, tables: list[str]) -> Iterator[Writer]:
        # One COPY for consecutive batches of a table (see pg_copy): the server takes
        # in each batch while the next one is encoded.
        stream = CopyStream(conn, self.quote, tables)
        try:
            yield stream.write
        except BaseException as exc:
            with contextlib.suppress(Exception):  # the connection may be gone
                stream.close(exc)
            raise
        stream.close()
