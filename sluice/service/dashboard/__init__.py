"""The dashboard of ``sluice serve``: server-rendered pages (Jinja2) with htmx.

No Node build and no CDN: ``static/`` holds the vendored ``htmx.min.js`` (see
``static/NOTICE``) and one hand-written stylesheet, served by the pages router.
Mounted at ``/`` by :func:`sluice.service.create_app`: ``app.include_router(router)``.

    /                          pipelines: last run, next run, trends, Trigger
    /pipelines/{name}          charts of rows and duration per run, the runs
    /pipelines/{name}/data     the latest rows of the pipeline's table
    /runs/{id}                 stages, counts, errors, data quality, live log, Cancel
    /runs/{id}/report.html     the run report as one standalone HTML file
    /quarantine                entries with reasons and rows, Replay
    /signin                    a token for a session cookie
"""

from __future__ import annotations

from fastapi import APIRouter

from sluice.service.dashboard import actions, pages

router = APIRouter(include_in_schema=False)
router.include_router(pages.router)
router.include_router(actions.router)

__all__ = ["router"]
