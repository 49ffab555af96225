"""The SQL destinations' class: DDL, loads and reads of one warehouse, as one object.

It is both a :class:`~sluice.destinations.base.Destination` and its own
:class:`~sluice.destinations.base.Warehouse`. The work lives in one module per job:
:mod:`~sluice.destinations.sql_base` (engine, quoting, table shapes, errors),
:mod:`~sluice.destinations.sql_ddl` (making and evolving tables) and
:mod:`~sluice.destinations.sql_load` (atomic loads in each write mode); a database's
module (``sqlite``, ``postgres``, ``mysql``, ``duckdb``) subclasses this and supplies
its bulk path.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from sluice.destinations.base import Capabilities, Warehouse
from sluice.destinations.sql_ddl import SqlDdl
from sluice.destinations.sql_load import SqlLoads
from sluice.errors import LoadError
from sluice.httpclient.stats import HttpStatsRecord


class SqlDestination(SqlDdl, SqlLoads):
    # A load is taken whole or fails whole: no single row comes back refused.
    capabilities = Capabilities(keeps_raw=False)

    def delivery_stats(self) -> HttpStatsRecord | None:
        return None  # no API calls to count

    def warehouse(self) -> Warehouse | None:
        return self

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

    def has_relation(self, relation: str) -> bool:
        try:
            inspector = sa.inspect(self.engine)
            return bool(inspector.has_table(relation) or relation in inspector.get_view_names())
        except sa.exc.SQLAlchemyError as exc:
            raise LoadError(
                f"cannot read the warehouse: {str(exc).splitlines()[0]}",
                hint="check `warehouse:` in sluice.yaml or SLUICE_WAREHOUSE_URL",
            ) from None
