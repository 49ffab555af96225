"""Runs: list, report, log (a page or a live stream), cancel."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, status
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from sluice.errors import NotFound
from sluice.service.auth import Operator, Viewer
from sluice.service.deps import ExecutorDep, StoreDep
from sluice.service.params import MAX_INT, After, PathName, QueryName
from sluice.service.schemas import (
    Cancelling,
    ErrorBody,
    LogEvent,
    LogPage,
    RunDetail,
    RunPage,
    RunSummary,
)
from sluice.state.models import Run
from sluice.state.store import StateStore
from sluice.status import LIVE, RunStatus

router = APIRouter(prefix="/runs", tags=["runs"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody}}
POLL_SECONDS = 0.25
HEARTBEAT_SECONDS = 15.0


def _run(store: StateStore, run_id: str) -> Run:
    run = store.run(run_id)
    if run is None:
        raise NotFound(f"no run {run_id!r}", hint="GET /api/runs lists the recent ones")
    return run


@router.get("", response_model=RunPage)
async def list_runs(
    _: Viewer,
    store: StoreDep,
    pipeline: QueryName = None,
    status: QueryName = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Response:
    """Runs, newest first."""

    # The query waits in a thread; the encoding runs here, on the loop: Python work in
    # a thread holds the GIL against the loop, and under fifty connections every
    # answer would wait behind it. Repeats are answered by the micro-cache in front.
    runs = await run_in_threadpool(store.runs, pipeline, limit, status=status, offset=offset)
    doc = RunPage(runs=[RunSummary.of(r) for r in runs], limit=limit, offset=offset)
    return Response(doc.model_dump_json(), media_type="application/json")


@router.get("/{run_id}", responses=NOT_FOUND)
def get_run(run_id: PathName, _: Viewer, store: StoreDep, executor: ExecutorDep) -> RunDetail:
    """The run's report (the document of ``sluice run --json``) and its status now."""
    return RunDetail.of(_run(store, run_id), executor.live_report)


@router.get("/{run_id}/log", responses=NOT_FOUND)
def get_log(
    run_id: PathName,
    _: Viewer,
    store: StoreDep,
    after: After = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> LogPage:
    """A page of the run's log, oldest first."""
    run = _run(store, run_id)
    events = store.events(run.id, after=after, limit=limit)
    return LogPage(
        run_id=run.id,
        status=RunStatus(run.status),
        events=[LogEvent.of(e) for e in events],
        next_after=events[-1].id if events else after,
    )


@router.get(
    "/{run_id}/log/stream",
    responses={**NOT_FOUND, 200: {"content": {"text/event-stream": {}}}},
    response_class=StreamingResponse,
)
def stream_log(
    run_id: PathName,
    _: Viewer,
    store: StoreDep,
    after: After = None,
    last_event_id: Annotated[int | None, Header(ge=0, le=MAX_INT, include_in_schema=False)] = None,
) -> StreamingResponse:
    """Server-Sent Events: the run's log as it is written, until the run finishes.

    Each event is ``event: log`` with one log event as JSON (its ``id`` is the SSE id,
    so a reconnecting client resumes); the last is ``event: end`` with the status.
    """
    run = _run(store, run_id)
    start = last_event_id if last_event_id is not None else after
    return StreamingResponse(
        _follow(store, run.id, start),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _follow(store: StateStore, run_id: str, after: int | None) -> AsyncIterator[str]:
    idle = 0.0
    while True:
        events = await run_in_threadpool(store.events, run_id, after=after, limit=500)
        for e in events:
            data = LogEvent.of(e).model_dump_json()
            yield f"id: {e.id}\nevent: log\ndata: {data}\n\n"
            after = e.id
        if events:
            idle = 0.0
            continue
        run = await run_in_threadpool(store.run, run_id)
        if run is None or run.status not in LIVE:
            # the run finished: its last events were written before its status
            rest = await run_in_threadpool(store.events, run_id, after=after)
            for e in rest:
                yield f"id: {e.id}\nevent: log\ndata: {LogEvent.of(e).model_dump_json()}\n\n"
            # null: the run is no longer in the state store (it ended and was pruned)
            ended: RunStatus | None = RunStatus(run.status) if run is not None else None
            final = json.dumps({"run_id": run_id, "status": ended})
            yield f"event: end\ndata: {final}\n\n"
            return
        await asyncio.sleep(POLL_SECONDS)
        idle += POLL_SECONDS
        if idle >= HEARTBEAT_SECONDS:
            idle = 0.0
            yield ": keep-alive\n\n"


@router.post(
    "/{run_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    responses={**NOT_FOUND, 409: {"model": ErrorBody, "description": "not running here"}},
)
def cancel_run(run_id: PathName, _: Operator, store: StoreDep, executor: ExecutorDep) -> Cancelling:
    """Ask a run to stop: its load rolls back and it ends ``cancelled``."""
    run = _run(store, run_id)
    return Cancelling(run_id=run.id, status=executor.cancel(run.id))
