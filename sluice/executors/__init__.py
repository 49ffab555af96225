"""Executors: who carries out a run, and where. The one door is :func:`for_project`.

- ``local`` (:mod:`sluice.executors.local`): ``sluice serve``'s runs, each in a worker
  process it spawns (``python -m sluice.executors.run_process``); replays in threads.
- ``celery`` (:mod:`sluice.executors.celery`): runs planned into parts
  (:mod:`sluice.executors.parts`) and queued for ``sluice worker`` processes anywhere
  (:mod:`sluice.executors.celery_app`).
- ``inline`` (:mod:`sluice.executors.inline`): the run in this process, in the caller's
  thread: ``sluice run`` under ``local`` (it draws progress and takes Ctrl-C there).

``sluice run`` and the service both ask this door for their executor. Which one a
project uses is decided here only (:func:`kind_for`); ``inline`` is asked for by name
(a service cannot carry its runs out in the thread of a request).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, overload

from sluice.config import Project
from sluice.errors import UsageError
from sluice.executors.base import Executor, Submitted
from sluice.executors.hooks import RunHooks
from sluice.extras import require
from sluice.lazy import lazy_exports
from sluice.state.store import StateStore

# Each executor is imported when asked for: Celery only when runs go to its workers, and
# the engine (the data plane: Polars, PyArrow, the drivers) only by the executors that
# carry runs out here, not by `sluice run` queuing one on Celery (~0.3 s of imports).
if TYPE_CHECKING:
    from sluice.executors.celery import CeleryExecutor
    from sluice.executors.inline import InlineExecutor

__all__ = ["KINDS", "Executor", "Kind", "RunHooks", "Submitted", "for_project", "kind_for"]

# The executors' classes, imported on first use (see above).
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "InlineExecutor": "sluice.executors.inline",
        "LocalExecutor": "sluice.executors.local",
        "CeleryExecutor": "sluice.executors.celery",
    },
    globals(),
)


Kind = Literal["local", "celery"]
KINDS: tuple[Kind, ...] = ("local", "celery")


def kind_for(project: Project, kind: str | None = None) -> Kind:
    """``kind`` (``--executor``), or else the project's ``executor:``."""
    chosen = str(kind or project.executor)
    if chosen == "local":
        return "local"
    if chosen == "celery":
        return "celery"
    raise UsageError(
        f"no executor {chosen!r}",
        hint="use `local` (this machine) or `celery` (queued for `sluice worker`s)",
    )


@overload
def for_project(
    project: Project,
    kind: Literal["celery"],
    *,
    store: StateStore,
    hooks: RunHooks | None = None,
) -> CeleryExecutor: ...
# `inline` is asked for by name in code only (`--executor` and `executor:` take local or
# celery), so a kind read from the user never gets it: the overlap below is not reached.
@overload
def for_project(  # type: ignore[overload-overlap]
    project: Project,
    kind: Literal["inline"],
    *,
    store: StateStore,
    hooks: RunHooks | None = None,
) -> InlineExecutor: ...
@overload
def for_project(
    project: Project,
    kind: str | None = None,
    *,
    store: StateStore,
    hooks: RunHooks | None = None,
) -> Executor: ...
def for_project(
    project: Project,
    kind: str | None = None,
    *,
    store: StateStore,
    hooks: RunHooks | None = None,
) -> Executor | CeleryExecutor | InlineExecutor:
    """The executor of ``kind`` (default: the project's ``executor:``) over ``store``.

    ``hooks`` (alerts, metrics, the service's cache) are told of every run the executor
    starts when it ends; on Celery, where the run ends in another process, that takes a
    watcher thread of this process, started here only when there are hooks to tell.
    """
    if kind == "inline":
        from sluice.executors.inline import InlineExecutor

        return InlineExecutor(project, store, hooks)
    if kind_for(project, kind) == "celery":
        # Imported here: Celery (the celery extra) is needed only when runs go to its workers.
        require("celery", "celery", "the celery executor")
        from sluice.executors.celery import CeleryExecutor

        celery = CeleryExecutor(project, store, hooks)
        return celery.start_watching() if hooks is not None else celery
    from sluice.executors.local import LocalExecutor

    return LocalExecutor(project, store, hooks)
