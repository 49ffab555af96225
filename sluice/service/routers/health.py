"""``GET /api/health``: is the state store reachable, is the scheduler alive.

Like every endpoint it needs a token (a viewer's will do): nothing is served to
unauthenticated callers unless the service runs in the loopback-only dev mode.
"""

from __future__ import annotations

from fastapi import APIRouter

from sluice.extras import distribution_version
from sluice.service.auth import Viewer
from sluice.service.deps import SchedulerDep, StoreDep
from sluice.service.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/health")
def health(store: StoreDep, scheduler: SchedulerDep, _: Viewer) -> Health:
    reachable = store.ping()
    alive = scheduler is not None and bool(getattr(scheduler, "alive", True))
    return Health(
        ok=reachable,
        version=distribution_version() or "unknown",
        state_store="ok" if reachable else "unreachable",
        scheduler="running" if alive else "not running",
    )
