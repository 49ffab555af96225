"""PostgreSQL: bulk path ``COPY ... FROM STDIN (FORMAT csv)`` through psycopg 3.

Polars writes each batch as CSV (unquoted empty = NULL, ``""`` = empty string, the
same convention as COPY's csv format), so the server does the parsing it does for
``psql \\copy``.
"""

from __future__ import annotations

import io
from typing import Any

import polars as pl

from sluice.destinations.base import Capabilities, register
from sluice.destinations.sql import SqlDestination


@register("postgresql")
class PostgresDestination(SqlDestination):
    capabilities = Capabilities(bulk_path="COPY", transactional_ddl=True)

    def _engine_options(self) -> dict[str, Any]:
        return {"pool_pre_ping": True}

    def _write(self, conn: Any, table: str, columns: list[str], data: pl.DataFrame) -> int:
        cols = ", ".join(self.quote(c) for c in columns)
        payload = io.BytesIO()
        data.write_csv(payload, include_header=False)
        with (
            conn.cursor() as cur,
            cur.copy(f"COPY {self.quote(table)} ({cols}) FROM STDIN (FORMAT csv)") as copy,
        ):
            copy.write(payload.getbuffer())
        return data.height
