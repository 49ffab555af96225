"""Response bodies of the API (they are its OpenAPI schema)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from sluice.engine.report import ReportHead, RunReport, final_report, head_of
from sluice.state.models import Event, QuarantineEntry, Run
from sluice.status import FINISHED, EntryKind, QuarantineStatus, RunStatus

MAX_ID = 2**62  # ids fit a signed 64-bit integer column


class ErrorBody(BaseModel):
    error: str
    hint: str | None = None


class Health(BaseModel):
    ok: bool
    version: str
    state_store: str = Field(description="ok or unreachable")
    scheduler: str = Field(description="running or not running")


class RunSummary(BaseModel):
    run_id: str
    pipeline: str
    status: RunStatus
    kind: str | None = None
    started_at: datetime
    finished_at: datetime | None = None
    read: int | None = None
    loaded: int | None = None
    quarantined: int | None = None
    filtered: int | None = None
    seconds: float | None = None

    @classmethod
    def of(cls, run: Run) -> RunSummary:
        head = head_of(run) or ReportHead()  # no report yet: nothing to say
        t = head.totals
        return cls(
            run_id=run.id,
            pipeline=run.pipeline,
            status=RunStatus(run.status),
            kind=head.kind,
            started_at=run.started_at,
            finished_at=run.finished_at,
            read=t.read if t else None,
            loaded=t.loaded if t else None,
            quarantined=t.quarantined if t else None,
            filtered=t.filtered if t else None,
            seconds=head.seconds,
        )


class RunPage(BaseModel):
    runs: list[RunSummary]
    limit: int
    offset: int


class SourceSummary(BaseModel):
    name: str
    type: str


class PipelineSummary(BaseModel):
    name: str
    description: str
    sources: list[SourceSummary]
    table: str
    tables: list[str]
    destination: str = Field(description="sql or http")
    mode: str
    schedule: str | None
    if_running: str
    running: str | None = Field(description="the run id going in this service, if any")
    last_run: RunSummary | None
    next_run: datetime | None


class RunDetail(RunReport):
    """A run: its report (the document of ``sluice run --json``; of a run still going,
    its report so far) with its status now and when it finished."""

    finished_at: str | None = Field(default=None, description="ISO 8601; None while it goes")

    @classmethod
    def of(cls, run: Run, live: Callable[[str], Mapping[str, Any] | None]) -> RunDetail:
        """A run that has ended: its :func:`~sluice.engine.report.final_report`. One still
        going: its report so far (``live``: what the executor carrying it out has) with
        its status now."""
        finished_at = run.finished_at.isoformat() if run.finished_at else None
        if run.status in FINISHED:
            return cls.model_validate({**dict(final_report(run)), "finished_at": finished_at})
        report = run.report or live(run.id) or {}
        return cls.model_validate(
            {
                **report,
                "run_id": run.id,
                "pipeline": run.pipeline,
                "status": run.status,
                "finished_at": finished_at,
            }
        )


class Triggered(BaseModel):
    run_id: str
    pipeline: str
    status: RunStatus = Field(description="running, or queued behind the run going")
    kind: str = "run"


class Replayed(BaseModel):
    runs: list[Triggered]


class Cancelling(BaseModel):
    run_id: str
    status: RunStatus = Field(description="cancelling, or the status it ended with")


class LogEvent(BaseModel):
    id: int
    at: datetime
    level: str
    message: str
    data: dict[str, Any] | None = None

    @classmethod
    def of(cls, e: Event) -> LogEvent:
        return cls(id=e.id, at=e.at, level=e.level, message=e.message, data=e.data)


class LogPage(BaseModel):
    run_id: str
    status: RunStatus
    events: list[LogEvent]
    next_after: int | None = Field(description="pass as ?after= for the next page")


class Dataset(BaseModel):
    pipeline: str
    table: str
    relation: str = Field(description="what was read: the table, or its _latest view")
    columns: list[str]
    rows: list[dict[str, Any]]
    limit: int
    offset: int


class QuarantineItem(BaseModel):
    id: int
    run_id: str
    pipeline: str
    source: str
    kind: EntryKind
    unit: str
    line: int | None
    reasons: list[Any]
    payload: dict[str, Any] | None
    file_id: int | None
    status: QuarantineStatus
    replay_run_id: str | None
    #: status ``superseded``: the run whose load made the entry obsolete
    superseded_by: str | None = None
    created_at: datetime

    @classmethod
    def of(cls, e: QuarantineEntry) -> QuarantineItem:
        fields = {name: getattr(e, name) for name in cls.model_fields}
        return cls(**fields)


class ReplayRequest(BaseModel):
    ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None = Field(
        default=None, max_length=10_000, description="entry ids; default: every open one"
    )
    pipeline: str | None = Field(
        default=None,
        max_length=255,
        pattern=r"^[^\x00]*$",  # no NUL: PostgreSQL text cannot hold one
        description="only this pipeline's entries",
    )


class SessionInfo(BaseModel):
    role: str
    csrf_token: str | None
