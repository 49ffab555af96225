"""One pull of a REST JSON API on an asyncio loop: pages, fan-out details, rejects.

Each item goes to ``put`` as it comes (a blocking call, run off the loop): ``("records",
(where, records))`` for flattened records of one page, ``("bad", [(payload, reason)])``
for what is not a record (not an object, a missing detail). Fan-out pages run side by
side, so one slow detail does not hold up the next page's details, and are handed over
in page order, so a pull's records keep the API's order; a failed detail pull (anything
but the record's own 4xx) fails the pull.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sluice.errors import FetchError
from sluice.httpclient import HttpClient
from sluice.jsonnumbers import twice_named
from sluice.sources.http.pages import walk
from sluice.sources.http.records import flatten, pick

if TYPE_CHECKING:
    from sluice.sources.http.source import HttpUnit


class Pull:
    """The pull of ``unit`` (its config, cursor and log), each item handed to ``put``."""

    def __init__(self, unit: HttpUnit, put: Callable[[Any], None]) -> None:
        self.unit, self.cfg, self.put = unit, unit.cfg, put

    async def _emit(self, item: Any) -> None:
        await asyncio.to_thread(self.put, item)

    async def run(self) -> None:
        """Pull every page (and its details), handing each item over as it comes."""
        cfg = self.cfg
        client = HttpClient(
            cfg,
            where=self.unit.name,
            on_event=self.unit.context.log,
            again=f"sluice run {self.unit.context.pipeline}",
        )
        self.unit.stats = client.stats  # the unit reports them once read
        params: dict[str, Any] = dict(cfg.params)
        if cfg.incremental is not None:
            since = self.unit.context.cursor or cfg.incremental.initial
            if since is not None:
                params[cfg.incremental.param] = since
        sent = 0
        fanning: set[asyncio.Task[None]] = set()
        before: asyncio.Task[None] | None = None  # the page handed over just before
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
                    before = asyncio.create_task(self._fan_page(client, where, records, before))
                    fanning.add(before)
                if cfg.max_records is not None and sent >= cfg.max_records:
                    break
            while fanning:
                await reap(block=True)
        finally:
            for t in fanning:
                t.cancel()
            await asyncio.gather(*fanning, return_exceptions=True)
            await client.close()

    async def _fan_page(
        self,
        client: HttpClient,
        where: str,
        records: list[Any],
        after: asyncio.Task[None] | None,
    ) -> None:
        """Fetch the details of one page, then hand them over once the page before has."""
        items = [item async for item in self._records(client, where, records)]
        if after is not None:
            await asyncio.wait([after])  # its error, if any, is raised by the pull's reap
            if after.cancelled() or after.exception() is not None:
                return
        for item in items:
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
        objects, bad = [], []
        for r in records:
            why = "a record is not a JSON object" if not isinstance(r, dict) else twice_named(r)
            if why is None:
                objects.append(r)
            else:
                bad.append((r, f"{where}: {why}"))
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


class _Quoted(dict[str, str]):
    """Record fields for a URL template, each percent-encoded (an id can't add a path)."""

    def __init__(self, record: dict[str, Any]) -> None:
        super().__init__({k: quote(str(v), safe="") for k, v in record.items()})
