"""The few DB-API calls a SQLite load makes, on ADBC's low-level bindings.

ADBC's own DB-API module (``adbc_driver_manager.dbapi``) imports ``pyarrow.dataset``,
whose start-up asks PyArrow's pandas shim whether pandas is there, and so imports
pandas wherever it is installed: 0.29 s of every ``sluice run`` into SQLite (``import
adbc_driver_sqlite.dbapi`` 0.52 s against ``import pyarrow`` 0.12 s, beside pandas 2).
A load needs only this: statements with ``?`` parameters, the first row of a query,
Arrow ingest, commit and rollback, each call cancellable by Ctrl-C as the DB-API's are.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

import adbc_driver_manager as adbc
import adbc_driver_sqlite
import polars as pl

if TYPE_CHECKING:
    import pyarrow as pa

try:
    # What ADBC's DB-API runs each call through: Ctrl-C cancels the driver's call.
    from adbc_driver_manager._lib import _blocking_call

    _blocking: Callable[..., Any] | None = _blocking_call
except ImportError:  # a release that moved it: calls run as they are, Ctrl-C waits
    _blocking = None


def _call(func: Callable[[], Any], cancel: Callable[[], None]) -> Any:
    return func() if _blocking is None else _blocking(func, (), {}, cancel)


#: The driver's errors (``adbc_driver_manager.Error`` and its DB-API subclasses).
Error = adbc.Error


class Cursor:
    def __init__(self, conn: adbc.AdbcConnection) -> None:
        self._stmt = adbc.AdbcStatement(conn)
        self._rows: list[tuple[Any, ...]] = []
        self.closed = False

    def execute(self, sql: str, params: tuple[Any, ...] | None = None) -> Cursor:
        self._stmt.set_sql_query(sql)
        if params:
            # Through Polars: building Arrow values in PyArrow (``pa.array``) asks its
            # pandas shim, which imports pandas.
            row = pl.DataFrame([pl.Series(str(i), [v]) for i, v in enumerate(params)])
            self._stmt.bind_stream(row)
        handle, _ = _call(self._stmt.execute_query, self._stmt.cancel)
        self._rows = pl.DataFrame(handle).rows()
        return self

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._rows.pop(0) if self._rows else None

    def adbc_ingest(self, table: str, data: pa.Table, mode: str = "append") -> int:
        if mode != "append":
            raise ValueError(f"unsupported ingest mode {mode!r}")
        self._stmt.set_options(
            **{
                adbc.INGEST_OPTION_TARGET_TABLE: table,
                adbc.INGEST_OPTION_MODE: adbc.INGEST_OPTION_MODE_APPEND,
            }
        )
        self._stmt.bind_stream(data)
        rows: int = _call(self._stmt.execute_update, self._stmt.cancel)
        return rows

    def close(self) -> None:
        if not self.closed:  # ADBC counts closes: a second one is an error
            self.closed = True
            self._stmt.close()

    def __enter__(self) -> Cursor:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class Connection:
    """One connection to a SQLite file, autocommit off: a load is one transaction."""

    def __init__(self, path: str) -> None:
        self._db = adbc_driver_sqlite.connect(path)
        self._conn = adbc.AdbcConnection(self._db)
        self._conn.set_autocommit(False)
        self._cursors: list[Cursor] = []

    def cursor(self) -> Cursor:
        # Those still open, to close with the connection (a load opens one a batch).
        self._cursors = [c for c in self._cursors if not c.closed]
        cursor = Cursor(self._conn)
        self._cursors.append(cursor)
        return cursor

    def commit(self) -> None:
        self._conn.commit()

    def rollback(self) -> None:
        self._conn.rollback()

    def close(self) -> None:
        # A statement left open would keep the connection from closing.
        for cursor in self._cursors:
            cursor.close()
        self._conn.close()
        self._db.close()


def connect(path: str) -> Connection:
    return Connection(path)
