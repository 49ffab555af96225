"""The one error handler: a SluiceError becomes ``{"error": ..., "hint": ...}``."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

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


def status_of(exc: SluiceError) -> int:
    return next((code for kind, code in STATUS if isinstance(exc, kind)), 500)


async def sluice_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SluiceError)
    body: dict[str, object] = {"error": str(exc), "hint": exc.hint}
    return JSONResponse(body, status_code=status_of(exc))


def install(app: FastAPI) -> None:
    app.add_exception_handler(SluiceError, sluice_error)
