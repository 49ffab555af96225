"""Open a pipeline's destination, wired to this run: the one place that knows the kinds.

A warehouse URL connects to the database behind it; an http destination gets the run's
delivery ledger and its log as callbacks, so the plugin never touches the state store
(the layering rule). The engine works with what this returns through the
:class:`~sluice.destinations.Destination` interface alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sluice.config import HttpDestinationConfig, PipelineConfig, Project
from sluice.destinations import Destination, connect
from sluice.state.store import StateStore
from sluice.status import DeliveryOutcome, DeliveryStatus


def open_destination(
    project: Project, pipe: PipelineConfig, name: str, store: StateStore, run_id: str
) -> Destination:
    """The destination of pipeline ``name`` (config ``pipe``) for run ``run_id``."""
    target = pipe.destination
    if not isinstance(target, HttpDestinationConfig):
        return connect(project.warehouse_url(pipe))
    # Imported here: it imports httpx, which a run into a database does not need.
    from sluice.destinations.http import HttpDestination

    return HttpDestination(
        target,
        key=str(pipe.delivery_key),
        ledger=StoreLedger(store, name, target.url, run_id),
        log=lambda level, message, data: store.log(run_id, level, message, **data),
    )


@dataclass(frozen=True)
class StoreLedger:
    """The delivery ledger of one pipeline and target, kept in the state store for a run."""

    store: StateStore
    pipeline: str
    target: str
    run_id: str

    def status(self, keys: list[str]) -> dict[str, str]:
        return self.store.delivery_status(self.pipeline, self.target, keys)

    def record(self, outcomes: Mapping[str, DeliveryOutcome]) -> None:
        self.store.record_run_keys(self.run_id, self.pipeline, self.target, outcomes)

    def mark(self, keys: list[str], status: DeliveryStatus) -> None:
        self.store.mark_deliveries(self.pipeline, self.target, keys, status, self.run_id)
