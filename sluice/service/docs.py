"""The API's docs pages, ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), with their scripts
and styles served from the package (``dashboard/static``, versions in its NOTICE): no
CDN, so they work offline and load no code that is not pinned here.

Like ``/openapi.json`` they need no token: they show only the API's shape. Each page
sets its own Content-Security-Policy, a little wider than the guard's: Swagger UI's
page starts it with an inline script (allowed by its hash, nothing else inline) and its
stylesheet uses ``data:`` images; ReDoc injects its styles at run time and searches in
a worker made from a ``blob:``.
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from starlette.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)
_BASE = "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"


@router.get("/docs", name="docs-swagger")
def swagger(request: Request) -> HTMLResponse:
    page = get_swagger_ui_html(
        openapi_url=str(request.app.openapi_url),
        title=f"{request.app.title} - API docs",
        swagger_js_url=_asset(request, "swagger-ui-bundle.js"),
        swagger_css_url=_asset(request, "swagger-ui.css"),
        swagger_favicon_url=_asset(request, "swagger-favicon-32x32.png"),
        # No badge from validator.swagger.io: nothing leaves this server.
        swagger_ui_parameters={"validatorUrl": None},
    )
    hashes = " ".join(_sha256(s) for s in _INLINE_SCRIPT.findall(page.body))
    csp = f"default-src 'self'; script-src 'self' {hashes}; img-src 'self' data:; {_BASE}"
    page.headers["Content-Security-Policy"] = csp
    return page


@router.get("/redoc", name="docs-redoc")
def redoc(request: Request) -> HTMLResponse:
    page = get_redoc_html(
        openapi_url=str(request.app.openapi_url),
        title=f"{request.app.title} - API docs",
        redoc_js_url=_asset(request, "redoc.standalone.js"),
        redoc_favicon_url=_asset(request, "swagger-favicon-32x32.png"),
        with_google_fonts=False,
    )
    csp = (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        f"worker-src 'self' blob:; {_BASE}"
    )
    page.headers["Content-Security-Policy"] = csp
    return page


def _asset(request: Request, name: str) -> str:
    return str(request.url_for("dashboard-static", path=name).path)


def _sha256(script: bytes) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"
