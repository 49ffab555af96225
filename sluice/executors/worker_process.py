"""What a ``sluice worker`` process keeps between its Celery tasks, and for how long.

A part is small (a file, a page range): opening the state store, the warehouse's
connection pool and parsing ``sluice.yaml`` for each would cost more than many parts
take. So a worker process keeps one state store per URL, one warehouse per URL for the
database servers (:data:`KEPT_DIALECTS`), and its project until ``sluice.yaml`` changes;
a forked pool child drops what it inherited (the pools are its parent's), and a process
closes what it kept when it shuts down (:func:`close_kept`, wired to Celery's signals by
:func:`~sluice.executors.celery_app.make_app`). The worker's main process also keeps the
project's Celery runs alive (:func:`keep_runs_alive`).

The main process of a prefork worker does not even import Polars or PyArrow: each pool
child imports the engine as it starts (:func:`~sluice.executors.celery_app.preload`),
before its first task. Importing them starts their allocators (each a jemalloc), with
the background threads that hand freed memory back to the system; a forked child has
none (jemalloc stops them in a child and does not start them again, and neither library
lets them be restarted), so the memory each batch frees is handed back and faulted in
again by the loading threads themselves. The Celery bench's 120 files in a child forked
after the imports: 720-740k page faults against 240-270k, 1.0-1.6 CPU-s more, most of it
the kernel's. And the main process never runs a Polars query: Polars' compute pool, made on
first use, does not cross a fork (as in :mod:`sluice.executors.forkserver`). It only
loads the project and the state store; the rows are read, validated and loaded in the
children.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

import sqlalchemy as sa

from sluice.config import HttpDestinationConfig, Project, find_project_file, load_project
from sluice.dburl import dialect_name
from sluice.engine.lease import Heartbeat
from sluice.errors import ConfigError
from sluice.state.store import StateStore

if TYPE_CHECKING:
    from sluice.destinations import Destination

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
        from sluice.destinations import connect  # the data plane: in the children only

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
