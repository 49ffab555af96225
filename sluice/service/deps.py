"""Typed dependency aliases: what a route handler may ask for."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from sluice.config import Project
from sluice.engine.inspect.datasets import Warehouses
from sluice.executors.local import Executor
from sluice.state.store import StateStore


async def _project(request: Request) -> Project:
    project: Project = request.app.state.project
    return project


async def _store(request: Request) -> StateStore:
    store: StateStore = request.app.state.store
    return store


async def _executor(request: Request) -> Executor:
    executor: Executor = request.app.state.executor
    return executor


async def _warehouses(request: Request) -> Warehouses:
    warehouses: Warehouses = request.app.state.warehouses
    return warehouses


async def _scheduler(request: Request) -> Any:
    return getattr(request.app.state, "scheduler", None)


ProjectDep = Annotated[Project, Depends(_project)]
StoreDep = Annotated[StateStore, Depends(_store)]
ExecutorDep = Annotated[Executor, Depends(_executor)]
WarehousesDep = Annotated[Warehouses, Depends(_warehouses)]
#: the scheduler object another part of the service sets on ``app.state``; None: not running
SchedulerDep = Annotated[Any, Depends(_scheduler)]
