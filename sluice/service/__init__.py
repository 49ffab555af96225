"""``sluice serve``: the REST API over a project (a dashboard, scheduler, metrics and
alerts plug into the same app).

    from sluice.service import create_app
    app = create_app(load_project("examples/leads"), load_settings())

Runs triggered here are carried out by the executor :func:`sluice.executors.for_project`
gives: run processes of this server (``local``), or under ``executor: celery`` queued
for ``sluice worker``s; route handlers only call executor, engine and state functions.
The service's own runtime (scheduler, folder watcher, retention, alerts, metrics) lives
in :mod:`sluice.service.runtime`.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from sluice import executors
from sluice.config import Project
from sluice.engine.inspect.datasets import Warehouses
from sluice.executors import Executor, RunHooks
from sluice.service import dashboard, docs, errors
from sluice.service.auth import Auth
from sluice.service.cache import ReadCache
from sluice.service.guard import Guard
from sluice.service.microcache import MicroCache
from sluice.service.relative import RelativePaths
from sluice.service.routers import datasets, health, pipelines, quarantine, runs, session
from sluice.service.routers import metrics as metrics_router
from sluice.service.runtime.alerts import Alerter
from sluice.service.runtime.metrics import Metrics
from sluice.service.runtime.retention import Retention
from sluice.service.runtime.scheduler import Scheduler
from sluice.service.runtime.watcher import FolderWatcher
from sluice.service.settings import ServiceSettings, load_settings
from sluice.state.store import StateStore

__all__ = ["ServiceSettings", "create_app", "load_settings"]


def create_app(
    project: Project, settings: ServiceSettings | None = None, executor: str | None = None
) -> FastAPI:
    """The service for ``project``; ``settings`` default to the environment's.

    ``executor``: ``local`` (runs in run processes of this server) or ``celery``
    (runs queued for ``sluice worker``s); default: the project's ``executor:``.
    """
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The scheduler and the folder watcher run only while the server does.
        runs: Executor = app.state.executor
        app.state.scheduler = Scheduler(project, store, runs.submit).start()
        app.state.watcher = FolderWatcher(project, runs.submit).start()
        if project.retention:  # prune old runs and closed quarantine entries daily
            app.state.retention = Retention(project, store).start()
        # What start-up made lives as long as the server: keep it out of the collector's
        # full passes, which otherwise pause every request now and then.
        gc.collect()
        gc.freeze()
        yield
        close(app)

    app = FastAPI(
        title=f"sluice: {project.name}",
        summary="Pipelines, runs, logs, datasets and quarantine of a sluice project.",
        docs_url=None,  # /docs and /redoc: sluice.service.docs, with vendored assets
        redoc_url=None,
        lifespan=lifespan,
    )
    store = StateStore(project.state_url())
    app.state.project = project
    app.state.settings = settings
    app.state.auth = Auth(settings, store)  # signed-out sessions: in the state store
    app.state.store = store
    metrics = Metrics()
    cache = ReadCache()
    hooks = RunHooks([cache.clear, Alerter(project, store=store).after_run, metrics.observe])
    app.state.cache = cache
    app.state.metrics = metrics
    app.state.executor = executors.for_project(project, executor, store=store, hooks=hooks)
    app.state.executor.on_submit = cache.clear
    app.state.scheduler = None  # started with the server (lifespan)
    app.state.watcher = None
    app.state.retention = None
    app.state.warehouses = Warehouses()  # connections reused by dataset reads
    errors.install(app)
    # Repeated reads of the runs list and dataset pages are answered before routing.
    app.add_middleware(MicroCache, cache=cache, auth=app.state.auth)
    # Answers name files relative to the project: viewers need not learn the server's layout.
    app.add_middleware(RelativePaths, root=project.root)
    # Added last, so outermost: Host and Origin checks, body caps and security headers
    # hold for every answer, the micro-cache's too.
    app.add_middleware(Guard, settings=settings)
    api = APIRouter(prefix="/api")
    for module in (health, pipelines, runs, datasets, quarantine, session):
        api.include_router(module.router)
    app.include_router(api)
    app.include_router(metrics_router.router)  # /metrics, for Prometheus
    app.include_router(docs.router)  # /docs, /redoc
    app.include_router(dashboard.router)  # the dashboard's pages, at /
    return app


def close(app: FastAPI) -> None:
    """Stop triggering, cancel the runs going, wait for them, close the state store."""
    for part in (app.state.scheduler, app.state.watcher, app.state.retention):
        if part is not None:
            part.stop()
    app.state.executor.shutdown()
    app.state.warehouses.close()
    app.state.store.close()
