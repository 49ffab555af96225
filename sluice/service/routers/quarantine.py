"""Quarantine: rows and files set aside, and their replay in the background."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from sluice.errors import NotFound
from sluice.service.auth import Operator, Viewer
from sluice.service.deps import ExecutorDep, StoreDep
from sluice.service.params import QueryName
from sluice.service.schemas import (
    MAX_ID,
    ErrorBody,
    QuarantineItem,
    Replayed,
    ReplayRequest,
    Triggered,
)
from sluice.status import QuarantineView

router = APIRouter(prefix="/quarantine", tags=["quarantine"])


@router.get("")
def list_quarantine(
    _: Viewer,
    store: StoreDep,
    pipeline: QueryName = None,
    status: QuarantineView = QuarantineView.OPEN,
    run_id: QueryName = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[QuarantineItem]:
    """Entries with every reason, oldest first."""
    found = store.quarantined(pipeline, status.status, run_id=run_id, limit=limit)
    return [QuarantineItem.of(e) for e in found]


@router.get("/{entry_id}", responses={404: {"model": ErrorBody}})
def get_entry(
    entry_id: Annotated[int, Path(ge=1, le=MAX_ID)], _: Viewer, store: StoreDep
) -> QuarantineItem:
    found = store.quarantined(status=None, ids=[entry_id])
    if not found:
        raise NotFound(f"no quarantine entry {entry_id}", hint="GET /api/quarantine?status=all")
    return QuarantineItem.of(found[0])


@router.post(
    "/replay",
    status_code=status.HTTP_202_ACCEPTED,
    responses={400: {"model": ErrorBody}},
)
def replay(body: ReplayRequest, _: Operator, executor: ExecutorDep) -> Replayed:
    """Replay open entries (``ids``, or a ``pipeline``'s, or all) in the background.

    One run per pipeline; each waits for a run of its pipeline going here.
    """
    submitted = executor.replay(ids=body.ids, pipeline=body.pipeline)
    return Replayed(
        runs=[
            Triggered(run_id=s.run_id, pipeline=s.pipeline, status=s.status, kind=s.kind)
            for s in submitted
        ]
    )
