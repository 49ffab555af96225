"""One ``COPY ... FROM STDIN`` kept open while a load's batches go to the same table.

A COPY per batch made the two sides take turns: the server parsed batch N while we
waited for its answer, then sat idle while we encoded batch N+1. One COPY for the
stream lets the server take in each batch as it is sent, while the next is encoded.

A connection has one COPY at a time, and a load into the tables of a normalized layout
writes every table each batch. Switching COPY for each (end one, look up the next
table's types, start it) cost 330 round trips on the 200k-record normalize bench, where
the client waited ~3 s for the server. So rows for the other tables are held (up to
:data:`HOLD` bytes) and sent table by table, in the layout's order: a table's rows never
go before those of a table it may reference (as a foreign key between them would need).
Everything is in the load's one transaction.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from typing import Any

import polars as pl

from sluice.destinations import pg_binary

#: bytes of rows held for tables other than the one being copied, before they are sent:
#: on the normalize bench 16 MiB costs ~15 MB of peak RSS (64 MiB cost 115 MB and was
#: no faster: since the steps moved to the reader's thread the load thread mostly waits)
HOLD = 16 * 1024**2

#: (table, columns, the batch's (name, type) pairs): one COPY per key
_Key = tuple[str, tuple[str, ...], tuple[tuple[str, pl.DataType], ...]]


class CopyStream:
    """The open COPY of one load's connection: :meth:`write` batches, :meth:`close`."""

    def __init__(self, conn: Any, quote: Callable[[str], str], tables: list[str]) -> None:
        """``tables``: those the load writes, referenced ones first (its layout's order)."""
        self.conn, self.quote = conn, quote
        self._key: _Key | None = None
        self._open: contextlib.ExitStack | None = None
        self._copy: Any = None
        self._encoder: pg_binary.Encoder | None = None
        #: the tables in order: the first one's rows go straight out
        self._order = list(tables)
        #: rows for the other tables
        self._held: dict[_Key, list[pl.DataFrame]] = {}
        self._held_bytes = 0
        #: each table's column types, looked up once a load (a column added since is
        #: missing: its batches go as CSV, which the server parses into any type)
        self._types: dict[str, dict[str, str]] = {}

    def write(self, table: str, columns: list[str], data: pl.DataFrame) -> int:
        """``data`` (exactly ``columns``, in that order) into ``table``: the first
        table's rows are sent now, the others' held (see the module's docstring)."""
        key = (table, tuple(columns), tuple(data.schema.items()))
        if table not in self._order:
            self._order.append(table)
        if self._order[0] == table:
            if key != self._key:  # a schema of its own, or after the held rows went
                self._end()
                self._start(key)
            self._send(data)
            return data.height
        self._held.setdefault(key, []).append(data)
        self._held_bytes += int(data.estimated_size())
        if self._held_bytes >= HOLD:
            self._send_held()
        return data.height

    def _send_held(self) -> None:
        """Every held table's rows, in the layout's order."""
        held, self._held, self._held_bytes = self._held, {}, 0
        for key in sorted(held, key=lambda k: self._order.index(k[0])):
            self._end()
            self._start(key)
            for data in held[key]:
                self._send(data)

    def _send(self, data: pl.DataFrame) -> None:
        if self._encoder is not None:
            for chunk in self._encoder.rows(data):
                self._copy.write(chunk)
        else:
            payload = io.BytesIO()
            data.write_csv(payload, include_header=False)
            self._copy.write(payload.getbuffer())

    def _start(self, key: _Key) -> None:
        table, names, types = key
        columns, schema = list(names), pl.Schema(types)
        with contextlib.ExitStack() as stack:
            cur = stack.enter_context(self.conn.cursor())
            # The table's types decide the format.
            binary = pg_binary.available() and pg_binary.fits(
                schema, columns, self._types_of(cur, table)
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
            self._key = key

    def _types_of(self, cur: Any, table: str) -> dict[str, str]:
        types = self._types.get(table)
        if types is None:
            types = self._types[table] = pg_binary.table_types(cur, self.quote(table))
        return types

    def close(self, failed: BaseException | None = None) -> None:
        """Send the rows held and end the open COPY: the rows are in their tables
        (uncommitted); or, ``failed``, drop what is held and abort the COPY (the server
        discards it, the transaction can be rolled back)."""
        if failed is None:
            self._send_held()
        else:
            self._held, self._held_bytes = {}, 0
        self._end(failed)

    def _end(self, failed: BaseException | None = None) -> None:
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
