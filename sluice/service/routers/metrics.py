"""``GET /metrics``: Prometheus' text format (runs, rows, durations, HTTP retries).

Behind a viewer token like everything else: Prometheus sends it with
``authorization: {credentials: ...}`` in its scrape config.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from sluice.service.auth import Viewer
from sluice.service.runtime.metrics import Metrics

router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_class=Response)
def metrics(request: Request, _: Viewer) -> Response:
    registry: Metrics = request.app.state.metrics
    body, content_type = registry.render()
    return Response(content=body, media_type=content_type)
