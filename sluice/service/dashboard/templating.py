"""The dashboard's Jinja2 environment: templates, filters and chart helpers."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

from sluice.service.dashboard import charts

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
#: the docs site the dashboard links (mkdocs.yml's site_url); SLUICE_DOCS_URL for another copy
DOCS_SITE = "https://sluice.dev/docs/"


def docs_site() -> str:
    """The docs site's address: ``SLUICE_DOCS_URL``, read when a page is made, or the
    public site."""
    return os.environ.get("SLUICE_DOCS_URL", "").strip() or DOCS_SITE


def when(value: datetime | str | None) -> str:
    """A moment as ``2026-11-27 08:01:02 UTC`` (or the text as given)."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")  # the state store keeps UTC


def clock(value: datetime | None) -> str:
    return value.strftime("%H:%M:%S") if value is not None else ""


def secs(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 60:
        return f"{value:.2f} s"
    minutes, seconds = divmod(int(value), 60)
    return f"{minutes} min {seconds:02d} s"


def _templates() -> Jinja2Templates:
    t = Jinja2Templates(directory=str(TEMPLATES))
    t.env.filters.update(when=when, clock=clock, secs=secs)
    t.env.globals.update(
        spark=charts.sparkline,
        bar_chart=charts.bar_chart,
        timeline=charts.timeline,
        docs_site=docs_site,
    )
    return t


templates = _templates()


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def stylesheet() -> str:
    """The dashboard's CSS, for a report that must stand alone."""
    return (STATIC / "dashboard.css").read_text(encoding="utf-8")
