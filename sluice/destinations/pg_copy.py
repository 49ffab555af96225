"""One ``COPY ... FROM STDIN`` kept open while a load's batches go to the same table.

A COPY per batch made the two sides take turns: the server parsed batch N while we
waited for its answer, then sat idle while we encoded batch N+1. One COPY for the
stream lets the server take in each batch as it is sent, while the next is encoded.
A batch for another table, or of another schema, ends the COPY and starts the next
(all in the load's one transaction).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from typing import Any

import polars as pl

from sluice.destinations import pg_binary


class CopyStream:
    """The open COPY of one load's connection: :meth:`write` batches, :meth:`close`."""

    def __init__(self, conn: Any, quote: Callable[[str], str]) -> None:
        self.conn, self.quote = conn, quote
        self._key: tuple[Any, ...] | None = None
        self._open: contextlib.ExitStack | None = None
        self._copy: Any = None
        self._encoder: pg_binary.Encoder | None = None

    def write(self, table: str, columns: list[str], data: pl.DataFrame) -> int:
        """``data`` (exactly ``columns``, in that order) into ``table``."""
        key = (table, tuple(columns), data.schema)
        if key != self._key:
            self.close()
            self._start(table, columns, data.schema)
            self._key = key
        if self._encoder is not None:
            for chunk in self._encoder.rows(data):
                self._copy.write(chunk)
        else:
            payload = io.BytesIO()
            data.write_csv(payload, include_header=False)
            self._copy.write(payload.getbuffer())
        return data.height

    def _start(self, table: str, columns: list[str], schema: pl.Schema) -> None:
        with contextlib.ExitStack() as stack:
            cur = stack.enter_context(self.conn.cursor())
            # The table's types decide the format (a column added by evolution is seen).
            binary = pg_binary.available() and pg_binary.fits(
                schema, columns, pg_binary.table_types(cur, self.quote(table))
            )
            cols = ", ".join(self.quote(c) for c in columns)
            fmt = "binary" if binary else "csv"
            self._copy = stack.enter_context(
                cur.copy(f"COPY {self.quote(table)} ({cols}) FROM STDIN (FORMAT {fmt})")
            )
            self._encoder = pg_binary.Encoder(schema) if binary else None
            if self._encoder is not None:
                self._copy.write(self._encoder.header())
            # Started: the cursor and the COPY stay open until close(); a failure before
            # here closed them on the way out.
            self._open = stack.pop_all()

    def close(self, failed: BaseException | None = None) -> None:
        """End the open COPY: the rows are in the table (uncommitted); or, ``failed``,
        abort it (the server discards it, the transaction can be rolled back)."""
        stack, self._open, self._key = self._open, None, None
        if stack is None:
            return
        if failed is None:
            if self._encoder is not None:
                self._copy.write(self._encoder.trailer())
            stack.close()
        else:
            stack.__exit__(type(failed), failed, failed.__traceback__)
        self._copy = self._encoder = None
