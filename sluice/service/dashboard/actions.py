"""The dashboard's forms (POST): sign in and out, trigger, cancel, replay.

Every state change goes through the service's :data:`Operator` dependency: a viewer
gets 403, and a form without its session's CSRF token is refused (403) before the
handler runs. Each answers with a redirect (303) to the page that shows the outcome.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import Field
from starlette.responses import Response

from sluice.errors import RunConflict, UsageError
from sluice.service.auth import (
    Auth,
    Operator,
    Viewer,
    clear_session,
    client_address,
    set_session,
)
from sluice.service.dashboard.access import page_context, safe_next
from sluice.service.dashboard.templating import render
from sluice.service.deps import ExecutorDep, StoreDep
from sluice.service.params import FormName, PathName
from sluice.service.schemas import MAX_ID

router = APIRouter(include_in_schema=False)


def _see(request: Request, name: str, flash: str | None = None, **params: str) -> Response:
    url = request.url_for(name, **params).path
    if flash:
        url += "?" + urlencode({"flash": flash})
    return RedirectResponse(url, status_code=status.HTTP_303_SEE_OTHER)


@router.post("/signin", name="dashboard-signin-post")
def signin(
    request: Request,
    token: Annotated[str, Form(max_length=4096)],
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Trade a token for a signed session cookie (the token itself is not kept)."""
    auth: Auth = request.app.state.auth
    wait = auth.throttle.retry_after(client_address(request))
    if wait:
        error = f"too many failed sign-ins from this address: try again in {wait} s"
        ctx = page_context(request, None, next=safe_next(next, "/"), error=error)
        page = render(request, "signin.html", ctx, status_code=status.HTTP_429_TOO_MANY_REQUESTS)
        page.headers["Retry-After"] = str(wait)
        return page
    signed = auth.sign_in(token.strip())
    if signed is None:
        auth.failed(request)
        ctx = page_context(request, None, next=safe_next(next, "/"), error="unknown token")
        return render(request, "signin.html", ctx, status_code=status.HTTP_401_UNAUTHORIZED)
    cookie, _ = signed
    response = RedirectResponse(safe_next(next, "/"), status_code=status.HTTP_303_SEE_OTHER)
    set_session(response, request, cookie)
    return response


@router.post("/signout", name="dashboard-signout")
def signout(request: Request, principal: Viewer) -> Response:
    """End the session: its cookie, and any copy of it, is refused from now on."""
    auth: Auth = request.app.state.auth
    auth.revoke(principal)
    response = _see(request, "dashboard-signin")
    clear_session(response, request)
    return response


@router.post("/pipelines/{name}/trigger", name="dashboard-trigger")
def trigger(request: Request, name: PathName, _: Operator, executor: ExecutorDep) -> Response:
    try:
        submitted = executor.trigger(name)
    except RunConflict as exc:
        going = executor.running(name)
        if going is None:
            raise
        return _see(request, "dashboard-run", exc.message, run_id=going)
    return _see(request, "dashboard-run", run_id=submitted.run_id)


@router.post("/runs/{run_id}/cancel", name="dashboard-cancel")
def cancel(
    request: Request, run_id: PathName, _: Operator, store: StoreDep, executor: ExecutorDep
) -> Response:
    try:
        executor.cancel(run_id)
        flash = "cancelling: the load in progress rolls back"
    except RunConflict as exc:
        flash = exc.message
    return _see(request, "dashboard-run", flash, run_id=run_id)


@router.post("/quarantine/replay", name="dashboard-replay")
def replay(
    request: Request,
    _: Operator,
    executor: ExecutorDep,
    id: Annotated[list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None, Form()] = None,
    pipeline: FormName = None,
) -> Response:
    """Replay one entry (``id``) or every open entry of a ``pipeline`` in the background."""
    if not id and not pipeline:
        return HTMLResponse("say which entries: id or pipeline", status_code=400)
    try:
        submitted = executor.replay(ids=id or None, pipeline=None if id else pipeline)
    except UsageError as exc:
        return _see(request, "dashboard-quarantine", exc.message)
    if not submitted:
        return _see(request, "dashboard-quarantine", "nothing to replay: no open entries")
    return _see(request, "dashboard-run", run_id=submitted[0].run_id)
