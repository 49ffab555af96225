"""A small API for the HTTP source tests: every pagination style, and failures on cue.

``GET /items`` serves 23 items in the style named by ``?style=``; in the ``page`` style,
``vanish``, ``sparse`` and ``nulled`` (comma-separated fields) change the records' shape
after the first page; ``slow=N`` makes page N (``page`` and ``offset`` styles) answer
0.3 s late, after the pages behind it (``/items/{id}?slow=N``: the detail of item N);
``/_fail`` sets up the next responses (``POST /_fail {"statuses": [503, 500],
"retry_after": 1}``); ``/_log`` is every call received, with its time, so tests can
count per second.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

N = 23


def item(i: int) -> dict[str, Any]:
    return {
        "id": i,
        "name": f"item {i}",
        "meta": {"color": ["red", "green", "blue"][i % 3], "size": i * 10},
        "updated_at": f"2026-01-{i:02d}T00:00:00Z",
    }


def reshape(
    records: list[dict[str, Any]], vanish: str, sparse: str, nulled: str
) -> list[dict[str, Any]]:
    """Fields ``vanish``-ed leave every record; ``sparse`` ones leave the even ids;
    ``nulled`` ones stay, as null (a nested object that became null)."""
    out = []
    for r in records:
        r = dict(r)
        for k in filter(None, vanish.split(",")):
            r.pop(k, None)
        if r["id"] % 2 == 0:
            for k in filter(None, sparse.split(",")):
                r.pop(k, None)
        for k in filter(None, nulled.split(",")):
            r[k] = None
        out.append(r)
    return out


def create_app() -> FastAPI:
    app = FastAPI()
    state: dict[str, Any] = {"fail": [], "retry_after": None, "log": [], "sleep": 0.0}

    @app.middleware("http")
    async def chaos(request: Request, call_next: Any) -> Response:
        if request.url.path.startswith("/_"):
            return await call_next(request)  # type: ignore[no-any-return]
        state["log"].append({"t": time.monotonic(), "url": str(request.url)})
        if state["sleep"]:
            await asyncio.sleep(state["sleep"])
        if state["fail"]:
            status = state["fail"].pop(0)
            if status == 200:
                return await call_next(request)  # type: ignore[no-any-return]
            if status == "broken":
                return Response('{"items": [', media_type="application/json")
            if status == "sleep":
                await asyncio.sleep(2)
            else:
                headers = {}
                if status == 429 and state["retry_after"] is not None:
                    headers["Retry-After"] = str(state["retry_after"])
                return JSONResponse({"error": "chaos"}, status_code=status, headers=headers)
        return await call_next(request)  # type: ignore[no-any-return]

    @app.post("/_fail")
    async def fail(body: dict[str, Any]) -> dict[str, Any]:
        state["fail"] = list(body.get("statuses", []))
        state["retry_after"] = body.get("retry_after")
        state["sleep"] = body.get("sleep", 0.0)
        return {}

    @app.get("/_log")
    async def log() -> list[dict[str, Any]]:
        return list(state["log"])

    @app.get("/items")
    async def items(
        request: Request,
        style: str = "page",
        page: int = 1,
        offset: int = 0,
        limit: int = 5,
        cursor: int = 0,
        since: str | None = None,
        vanish: str = "",
        sparse: str = "",
        nulled: str = "",
        slow: int = 0,
    ) -> Response:
        ids = list(range(1, N + 1))
        if slow and slow == (page if style == "page" else offset // limit + 1):
            await asyncio.sleep(0.3)
        if since is not None:
            ids = [i for i in ids if item(i)["updated_at"] > since]
        size = 5
        if style == "page":
            chunk = ids[(page - 1) * size : page * size]
            total = -(-len(ids) // size)
            records = [item(i) for i in chunk]
            if page > 1:  # the API changes shape after its first page
                records = reshape(records, vanish, sparse, nulled)
            body = {"page": page, "total_pages": total, "data": records}
            return JSONResponse(body)
        if style == "page_open":  # no total: stop on a short or empty page
            chunk = ids[(page - 1) * size : page * size]
            return JSONResponse({"data": [item(i) for i in chunk]})
        if style == "offset":
            chunk = ids[offset : offset + limit]
            return JSONResponse({"total": len(ids), "data": [item(i) for i in chunk]})
        if style == "cursor":
            chunk = ids[cursor : cursor + size]
            nxt = cursor + size if cursor + size < len(ids) else None
            return JSONResponse({"data": [item(i) for i in chunk], "meta": {"next": nxt}})
        if style == "next_url":
            chunk = ids[cursor : cursor + size]
            more = cursor + size < len(ids)
            nxt = f"/items?style=next_url&cursor={cursor + size}" if more else None
            return JSONResponse({"data": [item(i) for i in chunk], "next": nxt})
        if style == "link":
            chunk = ids[cursor : cursor + size]
            headers = {}
            if cursor + size < len(ids):
                nxt = str(request.url.include_query_params(cursor=cursor + size))
                headers["Link"] = f'<{nxt}>; rel="next"'
            return JSONResponse([item(i) for i in chunk], headers=headers)
        if style == "mixed":  # one record that is not an object
            return JSONResponse({"data": [item(1), "oops", item(2)]})
        return JSONResponse({"error": f"unknown style {style}"}, status_code=400)

    @app.get("/items/{item_id}")
    async def detail(item_id: int, slow: int = 0) -> Response:
        if item_id == slow:  # this detail answers late, after those of later pages
            await asyncio.sleep(0.3)
        if item_id == 13:
            return JSONResponse({"error": "gone"}, status_code=404)
        return JSONResponse({"id": item_id, "detail": f"more about {item_id}"})

    @app.get("/secret")
    async def secret(request: Request) -> Response:
        ok = (
            request.headers.get("authorization") == "Bearer s3cret"
            or request.headers.get("x-api-key") == "k3y"
            or request.query_params.get("api_key") == "k3y"
            or request.headers.get("authorization", "").startswith("Basic dTpw")  # u:p
        )
        if not ok:
            return JSONResponse({"error": "who are you"}, status_code=401)
        return JSONResponse({"data": [item(1)]})

    return app
