"""PostgreSQL: bulk path ``COPY ... FROM STDIN`` through psycopg 3.

Each batch goes in COPY's binary format where the table's column types take it
(:mod:`sluice.destinations.pg_binary`: the server parses nothing). Otherwise Polars
writes it as CSV (unquoted empty = NULL, ``""`` = empty string, the same convention
as COPY's csv format), and the server parses it as it does for ``psql \\copy``.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from typing import Any

import polars as pl
import sqlalchemy as sa

from sluice.destinations import pg_binary
from sluice.destinations.base import Mode, register
from sluice.destinations.sql import SqlDestination

DDL_LOCK = 0x5_1C3_0002  # the advisory lock held while creating or evolving tables


@register("postgresql")
class PostgresDestination(SqlDestination):
    ADD_COLUMNS_AT_ONCE = True

    def _engine_options(self) -> dict[str, Any]:
        return {"pool_pre_ping": True}

    @contextlib.contextmanager
    def _ddl_lock(self, conn: sa.Connection) -> Iterator[None]:
        # Until this transaction ends: a second first run waits, then sees the tables.
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": DDL_LOCK})
        yield

    def _stage_ddl(self, create: str, mode: Mode) -> str:
        # A merge's stage lives for one transaction and is dropped before it commits:
        # nothing in it needs the write-ahead log (1M staged rows: 2.5 s -> 1.1 s of
        # the server's time). A replace's stage becomes the table: logged.
        if mode == "merge":
            return create.replace("CREATE TABLE", "CREATE UNLOGGED TABLE", 1)
        return create

    def _write(self, conn: Any, table: str, columns: list[str], data: pl.DataFrame) -> int:
        cols = ", ".join(self.quote(c) for c in columns)
        copy_into = f"COPY {self.quote(table)} ({cols}) FROM STDIN"
        with conn.cursor() as cur:
            # One catalog query a batch (well under a millisecond): the table's types
            # decide the format, and a column added since the last batch is seen.
            types = pg_binary.table_types(cur, self.quote(table)) if pg_binary.available() else {}
            if types and pg_binary.fits(data.schema, columns, types):
                with cur.copy(f"{copy_into} (FORMAT binary)") as copy:
                    for chunk in pg_binary.encode(data.select(columns)):
                        copy.write(chunk)
                return data.height
            payload = io.BytesIO()
            data.write_csv(payload, include_header=False)
            with cur.copy(f"{copy_into} (FORMAT csv)") as copy:
                copy.write(payload.getbuffer())
        return data.height
