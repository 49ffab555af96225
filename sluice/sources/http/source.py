"""The ``http`` source: one pull of a REST JSON API is one unit, loaded atomically.

The pull runs on an asyncio loop in a background thread and hands pages to the engine
through a bounded queue, so memory stays at a few pages however large the API is.
The first page gives the columns (flattened field names); records whose body is not
what the source declares (not an object, a missing detail) become rejects with their
raw payload: quarantined, counted, never dropped.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import polars as pl

from sluice.batch import Batch, Reject
from sluice.config import HttpSourceConfig
from sluice.errors import FetchError
from sluice.handoff import Closed, Handoff
from sluice.httpclient import HttpClient, HttpStats
from sluice.schema import ignored
from sluice.sources.base import SourceContext, register
from sluice.sources.http.pages import walk
from sluice.sources.http.records import flatten, frame, pick

BATCH_RECORDS = 5000
_DONE = object()


class HttpUnit:
    size = 0

    def __init__(self, stream: str, cfg: HttpSourceConfig, context: SourceContext) -> None:
        self.stream, self.cfg, self.context = stream, cfg, context
        self.name = cfg.base_url + (cfg.endpoint or "/")
        if cfg.page_range is not None:
            first, end = cfg.page_range
            self.name += f" (pages {first + 1}-{end})"
        self.stats = HttpStats()
        self.checkpoint: str | None = None  # the new incremental cursor, once read
        self._token = uuid.uuid4().hex
        self._first_records: list[Any] = []

    def fingerprint(self) -> str:
        # An API answers differently every time: each pull is a new unit for the ledger
        # (incremental state lives in the cursor, not in content hashes).
        return hashlib.sha256(f"{self.name}:{self._token}".encode()).hexdigest()

    def open(self) -> HttpReader:
        return HttpReader(self)

    def copy_to(self, dest: Path) -> None:
        """The dead letter keeps the first page's records (the drift is visible there)."""
        dest.write_text(json.dumps(self._first_records, indent=1, default=str))


class HttpReader:
    may_be_empty = True  # an API with nothing new is a successful, empty pull

    def __init__(self, unit: HttpUnit) -> None:
        self.unit = unit
        self.cfg = unit.cfg
        self._handoff: Handoff[Any] = Handoff(8)
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
        records = self._buffer[-1][1] if self._buffer and self._buffer[-1][0] == "records" else []
        unit._first_records = records[:100]
        self.columns: list[str] = []
        for r in records:
            for k in r:
                if k not in self.columns:
                    self.columns.append(k)
        self._warned: set[str] = set()

    # ------------------------------------------------------------------ producer side

    def _run(self) -> None:
        try:
            try:
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
        client = HttpClient(cfg, where=self.unit.name, on_event=self.unit.context.log)
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
            yield "records", good

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
                return None, (body, f"{path}: the detail is not a JSON object")
            merged = {**record, **detail} if fan.merge else detail
            return flatten(merged, nested=self.cfg.flatten), None

        results = await asyncio.gather(*(one(r) for r in records))
        good = [g for g, _ in results if g is not None]
        bad = [b for _, b in results if b is not None]
        return good, bad

    # ------------------------------------------------------------------ consumer side

    def _next(self) -> tuple[str, Any] | None:
        item = self._handoff.get()
        if item is _DONE:
            return None
        if isinstance(item, BaseException):
            self.close()
            raise item
        kind, payload = item
        return str(kind), payload

    def close(self) -> None:
        self._handoff.close()

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
                    self._track(payload)
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
        finally:
            self.close()

    def _batch(self, frames: list[pl.DataFrame], rejects: list[Reject]) -> Batch:
        data = pl.concat(frames) if frames else frame([], 1, self.columns)
        return Batch(self.unit.stream, self.unit.name, data, rejects)

    def _track(self, records: list[dict[str, Any]]) -> None:
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
