"""The ``http`` source: one pull of a REST JSON API is one unit, loaded atomically.

The pull runs on an asyncio loop in a background thread and hands pages to the engine
through a bounded queue, so memory stays at a few pages however large the API is.
The first page gives the columns (flattened field names); records whose body is not
what the source declares (not an object, a missing detail) become rejects with their
raw payload: quarantined, counted, never dropped.

An API that changes shape mid-pull is drift too. A field *vanished* when every record
of the first page had it (even as null) and no record of a later page has it. Sparse
JSON is not drift: a field only some records carry is not part of the known shape, a
later page where only some records lack a field still has it, and a field whose parent
object came as null (``"meta": null`` for ``meta_color``) is null, not gone. Under
``evolve`` a vanished field loads as null from there on, with a warning; otherwise the
pull stops with a :class:`DriftError` (the engine sets it aside, or fails the run).
A field that *appears* after the first page is logged and not loaded.

A pull set aside (``drift: quarantine``) is kept whole: every item read is spooled to a
temporary file, the rest of the pull is read when it is set aside, and
:meth:`HttpUnit.keep_records` writes it as JSON Lines (one record, or one rejected
payload, a line) into the dead letter. A replay reads that copy (:func:`kept_pull`)
through the same reader, pages and all, and never calls the API.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import polars as pl

from sluice.batch import Batch, Reject
from sluice.config import HttpSourceConfig
from sluice.errors import DriftError, FetchError, Where
from sluice.handoff import Closed, Handoff
from sluice.httpclient import HttpClient, HttpStats, secret_values
from sluice.redact import redact_text
from sluice.schema import ignored
from sluice.sources.base import SourceContext, register
from sluice.sources.http import kept
from sluice.sources.http.pages import walk
from sluice.sources.http.records import flatten, frame, pick

BATCH_RECORDS = 5000
_DONE = object()


class HttpUnit:
    size = 0

    def __init__(
        self,
        stream: str,
        cfg: HttpSourceConfig,
        context: SourceContext,
        kept: Path | None = None,
    ) -> None:
        self.stream, self.cfg, self.context = stream, cfg, context
        #: a replay: the dead-letter copy of an earlier pull, read instead of the API
        self.kept = kept
        self._reader: HttpReader | None = None
        # the unit's name is shown everywhere (report, log, quarantine): secrets masked
        query_key = [cfg.auth.name] if cfg.auth and cfg.auth.location == "query" else []
        self.name = redact_text(
            cfg.base_url + (cfg.endpoint or "/"), query_key, secret_values(cfg.auth)
        )
        if cfg.page_range is not None:
            first, end = cfg.page_range
            self.name += f" (pages {first + 1}-{end})"
        self.stats = HttpStats()
        self.checkpoint: str | None = None  # the new incremental cursor, once read
        #: fields the API stopped sending after its first page -> the page it stopped at
        self.vanished: dict[str, str] = {}
        self._token = uuid.uuid4().hex

    def fingerprint(self) -> str:
        # An API answers differently every time: each pull is a new unit for the ledger
        # (incremental state lives in the cursor, not in content hashes).
        return hashlib.sha256(f"{self.name}:{self._token}".encode()).hexdigest()

    def open(self) -> HttpReader:
        self._reader = HttpReader(self)
        return self._reader

    def copy_to(self, dest: Path) -> None:
        self.keep_records(dest)

    def keep_records(
        self,
        dest: Path,
        hide: kept.Records | None = None,
        hide_raw: Callable[[Any], Any] | None = None,
    ) -> bool:
        """Write the pull as JSON Lines at ``dest`` (what was not read yet is read now;
        see :mod:`sluice.sources.http.kept`); ``hide`` and ``hide_raw``: the engine's
        PII policies. Whether the copy holds the whole pull (False: it stopped early)."""
        reader = self._reader
        if reader is None:
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text("")
            return False
        whole = reader.drain()
        kept.write(dest, reader.spooled(), hide, hide_raw)
        reader.discard_spool()
        return whole


def kept_pull(
    stream: str, cfg: HttpSourceConfig, context: SourceContext, copy: Path, name: str
) -> HttpUnit:
    """The unit of an earlier pull, read from its dead-letter copy (a replay)."""
    unit = HttpUnit(stream, cfg, context, kept=copy)
    unit.name = name
    return unit


class HttpReader:
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
                    asyncio.run(self._pull())
                self._handoff.put(_DONE)
            except Closed:
                raise
            except BaseException as exc:  # handed to the consumer, which reports it
                self._handoff.put(exc)
        except Closed:  # the consumer stopped reading: nothing more to do
            return

    async def _emit(self, item: Any) -> None:
        await asyncio.to_thread(self._handoff.put, item)

    async def _pull(self) -> None:
        cfg = self.cfg
        client = HttpClient(
            cfg,
            where=self.unit.name,
            on_event=self.unit.context.log,
            again=f"sluice run {self.unit.context.pipeline}",
        )
        self.unit.stats = client.stats
        params: dict[str, Any] = dict(cfg.params)
        if cfg.incremental is not None:
            since = self.unit.context.cursor or cfg.incremental.initial
            if since is not None:
                params[cfg.incremental.param] = since
        sent = 0
        fanning: set[asyncio.Task[None]] = set()
        # Fan-out pages run side by side: one slow detail must not hold up the next page.
        most_pages = max(2, cfg.max_concurrency)

        async def reap(block: bool) -> None:
            if not fanning:
                return
            done, _ = await asyncio.wait(
                fanning, timeout=None if block else 0, return_when=asyncio.FIRST_COMPLETED
            )
            for t in done:
                fanning.discard(t)
                t.result()  # a failed detail pull fails the pull

        try:
            async for where, body in self._pages(client, params):
                records = pick(body, cfg.records)
                if not isinstance(records, list):
                    found = type(records).__name__ if records is not None else "nothing"
                    at = repr(cfg.records) if cfg.records else "the body"
                    reason = f"{where}: expected a list of records at {at}, found {found}"
                    await self._emit(("bad", [(body, reason)]))
                    continue
                if cfg.max_records is not None:
                    records = records[: max(0, cfg.max_records - sent)]
                sent += len(records)
                if cfg.fan_out is None:
                    async for item in self._records(client, where, records):
                        await self._emit(item)
                else:
                    await reap(block=False)
                    while len(fanning) >= most_pages:
                        await reap(block=True)
                    fanning.add(asyncio.create_task(self._fan_page(client, where, records)))
                if cfg.max_records is not None and sent >= cfg.max_records:
                    break
            while fanning:
                await reap(block=True)
        finally:
            for t in fanning:
                t.cancel()
            await asyncio.gather(*fanning, return_exceptions=True)
            await client.close()

    async def _fan_page(self, client: HttpClient, where: str, records: list[Any]) -> None:
        async for item in self._records(client, where, records):
            await self._emit(item)

    async def _pages(
        self, client: HttpClient, params: dict[str, Any]
    ) -> AsyncIterator[tuple[str, Any]]:
        def count(body: Any) -> int:
            records = pick(body, self.cfg.records)
            return len(records) if isinstance(records, list) else 0

        async for page in walk(client, self.cfg, params, count):
            yield page

    async def _records(
        self, client: HttpClient, where: str, records: list[Any]
    ) -> AsyncIterator[tuple[str, Any]]:
        objects = [r for r in records if isinstance(r, dict)]
        bad = [
            (r, f"{where}: a record is not a JSON object")
            for r in records
            if not isinstance(r, dict)
        ]
        if self.cfg.fan_out is None:
            good = [flatten(r, nested=self.cfg.flatten) for r in objects]
        else:
            good, more_bad = await self._details(client, objects)
            bad += more_bad
        if bad:
            yield "bad", bad
        if good:
            yield "records", (where, good)

    async def _details(
        self, client: HttpClient, records: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[tuple[Any, str]]]:
        fan = self.cfg.fan_out
        assert fan is not None

        async def one(
            record: dict[str, Any],
        ) -> tuple[dict[str, Any] | None, tuple[Any, str] | None]:
            try:
                path = fan.endpoint.format_map(_Quoted(record))
            except KeyError as exc:
                return None, (
                    record,
                    f"fan_out: the record has no field {exc} for {fan.endpoint!r}",
                )
            try:
                body, _ = await client.get_json(path)
            except FetchError as exc:
                if exc.status is not None and 400 <= exc.status < 500 and exc.status != 429:
                    return None, (record, exc.message)  # this record's detail: not the API
                raise
            detail = pick(body, fan.records)
            if not isinstance(detail, dict):
                return None, (body, f"{client.redact(path)}: the detail is not a JSON object")
            merged = {**record, **detail} if fan.merge else detail
            return flatten(merged, nested=self.cfg.flatten), None

        results = await asyncio.gather(*(one(r) for r in records))
        good = [g for g, _ in results if g is not None]
        bad = [b for _, b in results if b is not None]
        return good, bad

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


class _Quoted(dict[str, str]):
    """Record fields for a URL template, each percent-encoded (an id can't add a path)."""

    def __init__(self, record: dict[str, Any]) -> None:
        super().__init__({k: quote(str(v), safe="") for k, v in record.items()})


class HttpSource:
    def __init__(self, stream: str, config: HttpSourceConfig, context: SourceContext) -> None:
        self.stream, self.config, self.context = stream, config, context

    def units(self) -> Iterator[HttpUnit]:
        yield HttpUnit(self.stream, self.config, self.context)


@register("http")
def _http(stream: str, config: Any, root: Path, context: SourceContext) -> HttpSource:
    return HttpSource(stream, config, context)
