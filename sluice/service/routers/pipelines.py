"""Pipelines: their config in short, last run, next scheduled run; trigger a run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, status

from sluice.config import HttpDestinationConfig, Project
from sluice.engine.inspect.datasets import dataset_tables
from sluice.errors import NotFound
from sluice.executors.local import Executor
from sluice.service.auth import Operator, Viewer
from sluice.service.deps import ExecutorDep, ProjectDep, SchedulerDep, StoreDep
from sluice.service.schemas import ErrorBody, PipelineSummary, RunSummary, SourceSummary, Triggered
from sluice.state.store import StateStore

router = APIRouter(prefix="/pipelines", tags=["pipelines"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody}}


def _check(project: Project, name: str) -> None:
    if name not in project.pipelines:
        known = ", ".join(sorted(project.pipelines)) or "none"
        raise NotFound(f"no pipeline named {name!r}", hint=f"pipelines: {known}")


def _summary(
    project: Project, name: str, store: StateStore, executor: Executor, scheduler: Any
) -> PipelineSummary:
    pipe = project.pipeline(name)
    last = store.runs(name, 1)
    next_run: datetime | None = None
    if pipe.schedule and scheduler is not None and hasattr(scheduler, "next_run"):
        next_run = scheduler.next_run(name)
    return PipelineSummary(
        name=name,
        description=pipe.description,
        sources=[SourceSummary(name=s, type=c.type) for s, c in pipe.sources.items()],
        table=pipe.table.name,
        tables=dataset_tables(project, name),
        destination="http" if isinstance(pipe.destination, HttpDestinationConfig) else "sql",
        mode=pipe.destination.mode,
        schedule=pipe.schedule,
        if_running=pipe.if_running,
        running=executor.running(name),
        last_run=RunSummary.of(last[0]) if last else None,
        next_run=next_run,
    )


@router.get("")
def list_pipelines(
    _: Viewer,
    project: ProjectDep,
    store: StoreDep,
    executor: ExecutorDep,
    scheduler: SchedulerDep,
) -> list[PipelineSummary]:
    return [_summary(project, n, store, executor, scheduler) for n in project.pipelines]


@router.get("/{name}", responses=NOT_FOUND)
def get_pipeline(
    name: str,
    _: Viewer,
    project: ProjectDep,
    store: StoreDep,
    executor: ExecutorDep,
    scheduler: SchedulerDep,
) -> PipelineSummary:
    _check(project, name)
    return _summary(project, name, store, executor, scheduler)


@router.post(
    "/{name}/runs",
    status_code=status.HTTP_202_ACCEPTED,
    responses={**NOT_FOUND, 409: {"model": ErrorBody, "description": "already running"}},
)
def trigger_run(name: str, _: Operator, project: ProjectDep, executor: ExecutorDep) -> Triggered:
    """Start a run in the background; poll ``GET /api/runs/{run_id}`` for its report."""
    _check(project, name)
    s = executor.trigger(name)
    return Triggered(run_id=s.run_id, pipeline=s.pipeline, status=s.status, kind=s.kind)
