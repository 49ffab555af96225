"""Sign in with a token (a form post) to get a session cookie; sign out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, Response, status

from sluice.service.auth import Auth, Viewer, clear_session, set_session
from sluice.service.schemas import ErrorBody, SessionInfo

router = APIRouter(prefix="/session", tags=["session"])


@router.post("", responses={401: {"model": ErrorBody}, 429: {"model": ErrorBody}})
def sign_in(
    request: Request, response: Response, token: Annotated[str, Form(max_length=4096)]
) -> SessionInfo:
    """Turn a token into a signed session cookie; the answer's ``csrf_token`` must come
    with every state-changing request made with the cookie (``X-CSRF-Token`` or the
    form field ``csrf_token``)."""
    auth: Auth = request.app.state.auth
    auth.check_throttle(request)
    signed = auth.sign_in(token)
    if signed is None:
        auth.failed(request)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown token")
    value, principal = signed
    set_session(response, request, value)
    return SessionInfo(role=principal.role.value, csrf_token=principal.csrf)


@router.get("")
def whoami(principal: Viewer) -> SessionInfo:
    """Who the caller is, and (for a session) its CSRF token, for a page's forms."""
    return SessionInfo(role=principal.role.value, csrf_token=principal.csrf)


@router.delete("", status_code=status.HTTP_204_NO_CONTENT)
def sign_out(principal: Viewer, request: Request, response: Response) -> None:
    """End the session: its cookie, and any copy of it, is refused from now on."""
    auth: Auth = request.app.state.auth
    auth.revoke(principal)
    clear_session(response, request)
