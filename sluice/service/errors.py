"""The error handlers: a SluiceError becomes ``{"error": ..., "hint": ...}``, and on a
dashboard page asked for by a browser, a page saying the same.
"""

from __future__ import annotations

from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from sluice.errors import (
    ConfigError,
    LoadError,
    NotFound,
    RunConflict,
    SluiceError,
    SourceError,
    StateError,
)

#: most specific first
STATUS: list[tuple[type[SluiceError], int]] = [
    (NotFound, 404),
    (RunConflict, 409),
    (ConfigError, 400),
    (StateError, 503),
    (LoadError, 502),
    (SourceError, 502),
]
#: not dashboard pages: the API and what machines read
MACHINE_PATHS = ("/api", "/metrics", "/docs", "/openapi", "/redoc")


def status_of(exc: SluiceError) -> int:
    return next((code for kind, code in STATUS if isinstance(exc, kind)), 500)


def wants_page(request: Request) -> bool:
    """A browser asking for a dashboard page (not htmx asking for a fragment)."""
    return (
        not request.url.path.startswith(MACHINE_PATHS)
        and "text/html" in request.headers.get("accept", "")
        and "hx-request" not in request.headers
    )


def error_page(request: Request, status: int, message: str, hint: str | None) -> Response:
    # Imported here: the templates are the dashboard's, loaded only if a page fails.
    from sluice.service.dashboard.templating import render

    try:
        title = f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        title = str(status)
    context = {
        "project_name": request.app.state.project.name,
        "title": title,
        "message": message,
        "hint": hint,
    }
    return render(request, "error.html", context, status_code=status)


async def sluice_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SluiceError)
    if wants_page(request):
        return error_page(request, status_of(exc), str(exc), exc.hint)
    body: dict[str, object] = {"error": str(exc), "hint": exc.hint}
    return JSONResponse(body, status_code=status_of(exc))


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    # Redirects (to sign in) pass as they are; so do 401s, which carry WWW-Authenticate.
    if wants_page(request) and exc.status_code >= 400 and exc.status_code not in (401, 405):
        message = exc.detail if isinstance(exc.detail, str) else "the page cannot be shown"
        if exc.status_code == 404 and message == "Not Found":
            message = f"there is no page at {request.url.path}"
        return error_page(request, exc.status_code, message, None)
    return await http_exception_handler(request, exc)


def install(app: FastAPI) -> None:
    app.add_exception_handler(SluiceError, sluice_error)
    app.add_exception_handler(HTTPException, http_error)
