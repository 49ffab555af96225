"""One place to call when a run finishes: ``hooks.after_run(report)``.

    hooks = RunHooks([Alerter(project).after_run, metrics.observe])
    hooks.after_run(report)      # a RunReport, or the dict the state store keeps

Observers are called in order, in the calling thread. One that raises is logged and
the others still run: a broken observer never fails a run or the service.
``Alerter.after_run`` may wait on webhook retries (seconds), so call this from the
executor's thread, not from a request handler.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sluice.engine.report import RunReport

log = logging.getLogger("sluice.hooks")

Report = RunReport | Mapping[str, Any]
Observer = Callable[[Report], object]


class RunHooks:
    def __init__(self, observers: Iterable[Observer] = ()) -> None:
        self.observers: list[Observer] = list(observers)

    def add(self, observer: Observer) -> Observer:
        """Register ``observer`` (usable as a decorator); return it."""
        self.observers.append(observer)
        return observer

    def after_run(self, report: Report) -> None:
        for observer in self.observers:
            try:
                observer(report)
            except Exception:
                name = getattr(observer, "__qualname__", repr(observer))
                log.exception("after-run observer %s failed", name)


__all__ = ["Observer", "Report", "RunHooks"]
