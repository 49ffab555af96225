"""What a ``sluice worker`` process keeps between its Celery tasks, and for how long.

A part is small (a file, a page range): opening the state store, the warehouse's
connection pool and parsing ``sluice.yaml`` for each would cost more than many parts
take. So a worker process keeps one state store per URL, one warehouse per URL for the
database servers (:data:`KEPT_DIALECTS`), and its project until ``sluice.yaml`` changes;
a forked pool child drops what it inherited (the pools are its parent's), and a process
closes what it kept when it shuts down (:func:`close_kept`, wired to Celery's signals by
:func:`~sluice.executors.celery_app.make_app`). The worker's main process also keeps the
project's Celery runs alive (:func:`keep_runs_alive`).

The main process must never run a Polars query before its pool forks: Polars' compute
pool, made on first use, does not cross a fork, and a child's first query would hang
(as in :mod:`sluice.executors.forkserver`). It only loads the project and the state
store; the rows are read, validated and loaded in the children.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

import sqlalchemy as sa

from sluice.config import HttpDestinationConfig, Project, find_project_file, load_project
from sluice.dburl import dialect_name
from sluice.destinations import Destination, connect
from sluice.engine.lease import Heartbeat
from sluice.errors import ConfigError
from sluice.state.store import StateStore

log = logging.getLogger("sluice.celery")

PROJECT_ENV = "SLUICE_PROJECT"  # set by `sluice worker -p`: the project its tasks run

_stores: dict[str, StateStore] = {}
_warehouses: dict[str, Destination] = {}
#: warehouses a worker process keeps open for all its parts: database servers (a
#: DuckDB file is locked by whoever holds it open; an http destination is one run's)
KEPT_DIALECTS = ("postgresql", "mysql")


def worker_store(project: Project) -> StateStore:
    """This worker process's state store: opened (and checked) once, not per task."""
    url = project.state_url()
    if url not in _stores:
        _stores[url] = StateStore(url)
    return _stores[url]


def kept_warehouse(project: Project, pipeline: str) -> Callable[[], Destination] | None:
    """The pipeline's warehouse as this worker process keeps it, one per URL, so its
    parts reuse its connections (None: each run opens its own)."""
    pipe = project.pipeline(pipeline)
    if isinstance(pipe.destination, HttpDestinationConfig):
        return None
    url = project.warehouse_url(pipe)
    try:
        if dialect_name(url) not in KEPT_DIALECTS:
            return None
    except Exception:  # a malformed URL: the run says so, as it would anyway
        return None

    def kept() -> Destination:
        if url not in _warehouses:
            _warehouses[url] = connect(url)
        return _warehouses[url]

    return kept


def _forget_connections() -> None:
    """In a forked child: the parent's pools are not this process's to use or close."""
    for held in [*(s.engine for s in _stores.values()), *_warehouses.values()]:
        engine = getattr(held, "engine", None)
        if isinstance(engine, sa.Engine):
            engine.dispose(close=False)
    _stores.clear()
    _warehouses.clear()


os.register_at_fork(after_in_child=_forget_connections)


def close_kept(**_: object) -> None:
    """Close the warehouses and state stores this process kept for its tasks."""
    closers = [d.close for d in _warehouses.values()] + [s.close for s in _stores.values()]
    for close in closers:
        try:
            close()
        except Exception as exc:  # exiting anyway: say it, do not stop
            log.warning("closing a connection pool at exit: %s", exc)
    _warehouses.clear()
    _stores.clear()


def keep_runs_alive(project: Project) -> Heartbeat:
    """In a ``sluice worker``'s main process: while it lives, the project's Celery runs
    hold their lease (their parts will be carried out, however long they queue). With
    no worker and no one waiting, a run's lease expires and it is settled."""
    store = StateStore(project.state_url())
    pipelines = list(project.pipelines)

    def beat() -> None:
        try:
            store.beat_hosted("celery", pipelines)
        finally:
            store.engine.dispose()  # no connection held when the pool forks a child

    return Heartbeat(store, also=beat).start()


_projects: dict[str, tuple[tuple[int, int, int], Project]] = {}


def worker_project() -> Project:
    """The worker's project, read again only when its ``sluice.yaml`` changed (its
    modification time, size or inode: a file replaced): a task after an edit runs the
    edited file. Parsing it is ~50 ms, too much to do for every part."""
    where = os.environ.get(PROJECT_ENV)
    if not where:
        raise ConfigError(
            f"this worker does not know its project: {PROJECT_ENV} is not set",
            hint="start workers with `sluice worker -p PROJECT`",
        )
    try:
        file = find_project_file(where)
        seen = file.stat()
    except OSError:
        return load_project(where)  # says what is wrong with the path
    stamp = (seen.st_mtime_ns, seen.st_size, seen.st_ino)
    cached = _projects.get(where)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    project = load_project(file)
    _projects[where] = (stamp, project)
    return project
