"""The consumer side of an API pull: its columns, its batches, drift between pages.

The pull (:mod:`sluice.sources.http.pull`) runs on an asyncio loop in a background
thread and hands items over through a bounded queue, so memory stays at a few pages
however large the API is. The first page gives the columns (flattened field names).

An API that changes shape mid-pull is drift too. A field *vanished* when every record
of the first page had it (even as null) and no record of a later page has it. Sparse
JSON is not drift: a field only some records carry is not part of the known shape, a
later page where only some records lack a field still has it, and a field whose parent
object came as null (``"meta": null`` for ``meta_color``) is null, not gone. Under
``evolve`` a vanished field loads as null from there on, with a warning; otherwise the
pull stops with a :class:`DriftError` (the engine sets it aside, or fails the run).
A field that *appears* after the first page is logged and not loaded.

Under ``drift: quarantine`` every item read is spooled (:class:`~sluice.sources.http.
kept.Spool`), so a pull set aside can be kept whole.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import polars as pl

from sluice.batch import Batch, Reject
from sluice.errors import DriftError, Where
from sluice.handoff import Closed, Handoff
from sluice.schema import ignored
from sluice.sources.http import kept
from sluice.sources.http.pull import Pull
from sluice.sources.http.records import frame

if TYPE_CHECKING:
    from sluice.sources.http.source import HttpUnit

BATCH_RECORDS = 5000
_DONE = object()


class HttpReader:
    """An open pull: its columns (from the first page), then its batches."""

    may_be_empty = True  # an API with nothing new is a successful, empty pull

    def __init__(self, unit: HttpUnit) -> None:
        self.unit = unit
        self.cfg = unit.cfg
        self._handoff: Handoff[Any] = Handoff(8)
        self._closed = False
        self._finished = False
        # Every item read, for the dead letter should the pull be set aside for drift
        # (closed by discard_spool, once the pull loaded or was kept).
        self._spool: kept.Spool | None = None
        if self.cfg.drift == "quarantine" and unit.kept is None:
            self._spool = kept.Spool()
        self._high: Any = None  # highest incremental cursor value read
        self._thread = threading.Thread(target=self._run, daemon=True, name="sluice-http")
        self._thread.start()
        # The columns come from the first records: read up to them (what came before,
        # rejected payloads, is kept for batches()).
        self._buffer: list[tuple[str, Any]] = []
        item = self._next()
        while item is not None:
            self._buffer.append(item)
            if item[0] == "records":
                break
            item = self._next()
        self._finished = item is None
        last = self._buffer[-1] if self._buffer else None
        records = last[1][1] if last is not None and last[0] == "records" else []
        self._first: list[Any] = records  # the first page's records: tracked apart
        unit.vanished = {}  # a pull opened again starts over
        self.columns: list[str] = []
        for r in records:
            for k in r:
                if k not in self.columns:
                    self.columns.append(k)
        # The known shape: fields every record of the first page has (see the docstring).
        self._steady = [
            k
            for k in self.columns
            if not ignored(k, self.cfg.ignore) and all(self._has(r, k) for r in records)
        ]
        self._warned: set[str] = set()

    # ------------------------------------------------------------------ producer side

    def _run(self) -> None:
        try:
            try:
                if self.unit.kept is not None:
                    for item in kept.read(self.unit.kept):
                        self._handoff.put(item)
                else:
                    asyncio.run(Pull(self.unit, self._handoff.put).run())
                self._handoff.put(_DONE)
            except Closed:
                raise
            except BaseException as exc:  # handed to the consumer, which reports it
                self._handoff.put(exc)
        except Closed:  # the consumer stopped reading: nothing more to do
            return

    # ------------------------------------------------------------------ consumer side

    def _next(self) -> tuple[str, Any] | None:
        if self._closed or self._finished:
            return None
        item = self._handoff.get()
        if item is _DONE:
            self._finished = True
            return None
        if isinstance(item, BaseException):
            self.close()
            raise item
        kind, payload = item
        if self._spool is not None:
            self._spool.add(str(kind), payload)
        return str(kind), payload

    def close(self) -> None:
        self._closed = True
        self._handoff.close()

    def drain(self) -> bool:
        """Read the rest of the pull (into the spool); whether it reached its end."""
        try:
            while self._next() is not None:
                pass
        except Exception:  # the API gave up: what was read is kept, and said partial
            return False
        finally:
            self.close()
        return self._finished

    def discard_spool(self) -> None:
        if self._spool is not None:
            self._spool.close()
            self._spool = None

    def spooled(self) -> Iterator[tuple[str, Any]]:
        """Every item read so far, in order."""
        return self._spool.items() if self._spool is not None else iter(())

    def batches(self) -> Iterator[Batch]:
        line = 1  # the n-th record of the pull: where a quarantined record came from
        frames: list[pl.DataFrame] = []
        rejects: list[Reject] = []
        size = 0

        def items() -> Iterator[tuple[str, Any]]:
            yield from self._buffer
            self._buffer = []
            while not self._finished and (nxt := self._next()) is not None:
                yield nxt

        try:
            for item in items():
                kind, payload = item
                if kind == "bad":
                    for raw, reason in payload:
                        text = json.dumps(raw, default=str, ensure_ascii=False)
                        rejects.append(Reject(line, text[:100_000], reason))
                        line += 1
                else:
                    where, payload = payload
                    self._track(where, payload)
                    frames.append(frame(payload, line, self.columns))
                    line += len(payload)
                size += len(payload)
                if size >= BATCH_RECORDS:
                    yield self._batch(frames, rejects)
                    frames, rejects, size = [], [], 0
            if frames or rejects:
                yield self._batch(frames, rejects)
            if self._high is not None:
                self.unit.checkpoint = str(self._high)
            self.discard_spool()  # read to its end: nothing to set aside
        finally:
            self.close()

    def _batch(self, frames: list[pl.DataFrame], rejects: list[Reject]) -> Batch:
        data = pl.concat(frames) if frames else frame([], 1, self.columns)
        return Batch(self.unit.stream, self.unit.name, data, rejects)

    def _has(self, record: dict[str, Any], key: str) -> bool:
        """Whether ``record`` has the (flattened) field ``key``, if only as null: a parent
        object that came as null or empty (``"meta": null``) has its fields, as null."""
        if key in record:
            return True
        if not self.cfg.flatten:
            return False
        parts = key.split("_")
        return any(record.get("_".join(parts[:i]), 0) in (None, {}) for i in range(1, len(parts)))

    def _vanish(self, where: str, records: list[dict[str, Any]]) -> None:
        """Fields of the known shape that no record of this (later) page has: drift."""
        if records is self._first:
            return
        present = {k for r in records for k in r}
        gone = [
            k
            for k in self._steady
            if k not in present
            and k not in self.unit.vanished
            and not any(self._has(r, k) for r in records)
        ]
        if not gone:
            return
        names = ", ".join(gone)
        if self.cfg.drift != "evolve":
            if self._spool is not None:  # set aside: the rest of the pull is kept too
                self.drain()
            raise DriftError(
                f"fields vanished after the first page: {names} (no record of {where} has them)",
                missing=gone,
                unexpected=[],
                where=Where(file=self.unit.name),
            )
        for k in gone:
            self.unit.vanished[k] = where
        self.unit.context.log(
            "warning",
            f"fields vanished at {where}: {names}; no record of that page has them, "
            "loaded as null from there (drift: evolve)",
            {"source": self.unit.stream, "fields": gone, "page": where},
        )

    def _track(self, where: str, records: list[dict[str, Any]]) -> None:
        self._vanish(where, records)
        new = {k for r in records for k in r} - set(self.columns)
        for k in sorted(new - self._warned):
            self._warned.add(k)
            if not ignored(k, self.cfg.ignore):
                self.unit.context.log(
                    "warning",
                    f"field {k!r} appeared after the first page and is not loaded",
                    {"source": self.unit.stream, "field": k},
                )
        inc = self.cfg.incremental
        if inc is not None:
            for r in records:
                v = r.get(inc.cursor_field)
                if v is not None and (self._high is None or _key(v) > _key(self._high)):
                    self._high = v


def _key(value: Any) -> tuple[int, Any]:
    """Numbers compare as numbers, everything else as text (ISO dates sort as text)."""
    if isinstance(value, bool):
        return (1, str(value))
    if isinstance(value, int | float):
        return (0, value)
    return (1, str(value))
