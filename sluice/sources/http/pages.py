"""Pagination: every style walks the pages of one list endpoint, yielding their bodies.

``page`` and ``offset`` pages are fetched concurrently once the total is known (or in
windows as wide as the client's current concurrency when it is not), and yielded in page
order whichever answers first: a pull's records keep the API's order, so a record's line,
where drift was first seen and which duplicate a dedupe keeps do not change from run to
run. ``cursor``, ``next_url`` and ``link_header`` are sequential by nature.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urljoin

import httpx

from sluice.config import HttpSourceConfig
from sluice.errors import SourceError, Where
from sluice.httpclient import HttpClient, blocking
from sluice.sources.http.records import pick

Page = tuple[str, Any]  # (what was asked for, the JSON body)
Count = Callable[[Any], int]  # records in a body


async def walk(
    client: HttpClient, cfg: HttpSourceConfig, params: dict[str, Any], count: Count
) -> AsyncIterator[Page]:
    style = cfg.paginate.style
    url = cfg.endpoint or "/"
    if style == "none":
        body, _ = await client.get_json(url, params)
        yield url, body
    elif style in ("page", "offset"):
        async for page in _numbered(client, cfg, url, params, count):
            yield page
    else:
        async for page in _linked(client, cfg, url, params, count):
            yield page


def _total_pages(cfg: HttpSourceConfig, body: Any) -> int | None:
    p = cfg.paginate
    if p.style == "page" and p.total_pages:
        value = pick(body, p.total_pages)
    elif p.style == "offset" and p.total and p.page_size:
        total = pick(body, p.total)
        value = -(-int(total) // p.page_size) if isinstance(total, int | str) else None
    else:
        return None
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _query(cfg: HttpSourceConfig, params: dict[str, Any], i: int) -> dict[str, Any]:
    """The query of the 0-based page ``i`` of a numbered pagination."""
    p = cfg.paginate
    if p.style == "page":
        return {**params, p.page_param: p.start_page + i}
    return {**params, p.offset_param: i * (p.page_size or 0), p.limit_param: p.page_size}


def count_pages(cfg: HttpSourceConfig) -> int | None:
    """How many pages a pull of ``cfg`` has, asked of its first page; None when the API
    does not say (or the pagination is not numbered). Used to split a pull into parts."""
    if cfg.paginate.style not in ("page", "offset"):
        return None

    async def probe() -> int | None:
        client = HttpClient(cfg, where=cfg.base_url + cfg.endpoint)
        try:
            body, _ = await client.get_json(cfg.endpoint or "/", _query(cfg, dict(cfg.params), 0))
        finally:
            await client.close()
        total = _total_pages(cfg, body)
        limit = cfg.paginate.max_pages
        return total if total is None or limit is None else min(total, limit)

    return blocking.run(probe())


async def _numbered(
    client: HttpClient, cfg: HttpSourceConfig, url: str, params: dict[str, Any], count: Count
) -> AsyncIterator[Page]:
    p = cfg.paginate

    def query(i: int) -> dict[str, Any]:  # i: 0-based page index
        return _query(cfg, params, i)

    def label(i: int) -> str:
        q = query(i)
        key = p.page_param if p.style == "page" else p.offset_param
        return f"{url}?{key}={q[key]}"

    async def fetch(i: int) -> tuple[int, Any]:
        body, _ = await client.get_json(url, query(i))
        return i, body

    def last(body: Any) -> bool:
        n = count(body)
        return n == 0 or (p.page_size is not None and n < p.page_size)

    async def side_by_side(pages: range) -> AsyncIterator[Page]:
        """Pages known to exist, fetched side by side, yielded in page order. At most a
        window of pages is asked for ahead of the one awaited, so a slow page holds a
        bounded number of answered ones in memory, not the rest of the pull."""
        window = 2 * max(1, cfg.max_concurrency)
        ahead = iter(pages)
        tasks: deque[asyncio.Future[tuple[int, Any]]] = deque()

        def top_up() -> None:
            while len(tasks) < window and (i := next(ahead, None)) is not None:
                tasks.append(asyncio.ensure_future(fetch(i)))

        top_up()
        try:
            while tasks:
                i, body = await tasks.popleft()
                top_up()
                yield label(i), body
        finally:
            for t in tasks:
                t.cancel()

    if cfg.page_range is not None:  # one part of a run: these pages
        async for page in side_by_side(range(*cfg.page_range)):
            yield page
        return
    limit = p.max_pages
    _, first = await fetch(0)
    yield label(0), first
    total = _total_pages(cfg, first)
    if total is not None:
        end = total if limit is None else min(total, limit)
        async for page in side_by_side(range(1, end)):
            yield page
        return
    if last(first):
        return
    i = 1
    while limit is None or i < limit:
        width = max(1, int(client.limit.limit))
        if limit is not None:
            width = min(width, limit - i)
        tasks = [asyncio.ensure_future(fetch(j)) for j in range(i, i + width)]
        try:
            results = [await t for t in tasks]
        finally:
            for t in tasks:
                t.cancel()
        stop = False
        for j, body in results:
            if stop and count(body) == 0:
                continue
            yield label(j), body
            stop = stop or last(body)
        if stop:
            return
        i += width


async def _linked(
    client: HttpClient, cfg: HttpSourceConfig, url: str, params: dict[str, Any], count: Count
) -> AsyncIterator[Page]:
    p = cfg.paginate
    query: dict[str, Any] | None = dict(params)
    seen: set[str] = set()
    pages = 0
    while True:
        body, response = await client.get_json(url, query)
        pages += 1
        yield client.shown(response.request.url), body  # a page's name: its secrets masked
        if count(body) == 0 or (p.max_pages is not None and pages >= p.max_pages):
            return
        if p.style == "cursor":
            cursor = pick(body, p.cursor_path or "")
            if cursor in (None, ""):
                return
            query = {**params, p.cursor_param: cursor}
        else:
            nxt = (
                _next_link(response)
                if p.style == "link_header"
                else pick(body, p.next_url_path or "")
            )
            if not nxt:
                return
            url, query = urljoin(str(response.request.url), str(nxt)), None
        marker = f"{url}?{query}"
        if marker in seen:
            raise SourceError(
                f"pagination loops: {client.redact(marker)} was already fetched",
                where=Where(file=cfg.base_url + cfg.endpoint),
                hint="check the paginate settings: the API returns the same next page again",
            )
        seen.add(marker)


def _next_link(response: httpx.Response) -> str | None:
    nxt = response.links.get("next")
    return nxt.get("url") if nxt else None
