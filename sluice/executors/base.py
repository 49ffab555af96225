"""What every executor answers, apart from how it carries runs out (no engine here:
``sluice run`` on Celery queues a run without loading the data plane)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sluice.errors import RunConflict
from sluice.status import RunStatus


@dataclass
class Submitted:
    """What a trigger answers: the run id and whether it started or waits."""

    run_id: str
    pipeline: str
    status: RunStatus  # running | queued
    kind: str = "run"


class Executor(Protocol):
    """What the service and the triggers ask of an executor, local or on Celery."""

    on_submit: Callable[[], None]

    def trigger(self, pipeline: str, by: str = "api") -> Submitted: ...
    def submit(self, pipeline: str, by: str) -> str | None: ...
    def replay(
        self, *, ids: Sequence[int] | None = None, pipeline: str | None = None
    ) -> list[Submitted]: ...
    def running(self, pipeline: str) -> str | None: ...
    def live_report(self, run_id: str) -> dict[str, Any] | None: ...
    def cancel(self, run_id: str) -> RunStatus: ...
    def shutdown(self, timeout: float = 30.0) -> None: ...


def submit_via(trigger: Callable[[str, str], Submitted], pipeline: str, by: str) -> str | None:
    """For the scheduler and the folder watcher: the run id, or None when refused
    because the pipeline is running (``if_running: reject``)."""
    try:
        return trigger(pipeline, by).run_id
    except RunConflict:
        return None
