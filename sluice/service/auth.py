"""Who may do what: viewer tokens read, operator tokens also change state.

The API takes ``Authorization: Bearer <token>``. A browser signs in once
(``POST /api/session`` with the token as a form field) and gets a signed session
cookie; a state-changing request made with that cookie must also carry the session's
CSRF token (header ``X-CSRF-Token`` or form field ``csrf_token``), which a
server-rendered page puts in its forms. Tokens are compared in constant time.

Each session has an id (``sid``, in the signed cookie). Signing out puts it on a
deny-list in the state store (:mod:`sluice.state.sessions`) until the cookie would
have expired: a copy of the cookie is refused from then on, by every server sharing
the store. Failed sign-ins and unknown bearer tokens are counted per client address
(:mod:`sluice.service.throttle`): too many and the client waits (429).

Route handlers ask for a role with the typed aliases :data:`Viewer` and
:data:`Operator`; no token is 401, too small a role is 403.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from itsdangerous import BadSignature, URLSafeTimedSerializer

from sluice.service.settings import ServiceSettings
from sluice.service.throttle import Throttle
from sluice.state.models import utcnow
from sluice.state.sessions import RevokedSessions
from sluice.state.store import StateStore

SESSION_COOKIE = "sluice_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Role(StrEnum):
    viewer = "viewer"
    operator = "operator"


@dataclass(frozen=True)
class Principal:
    """Who is calling: their role, how they proved it, and their session's CSRF token."""

    role: Role
    via: str  # bearer | session | open
    csrf: str | None = None
    #: the session's id (``via == "session"``): what signing out revokes
    sid: str | None = None

    @property
    def can_operate(self) -> bool:
        return self.role == Role.operator


class Auth:
    """Token checks, session cookies and CSRF tokens for one app.

    ``store``: where signed-out sessions are kept (shared by every server on it);
    without one, this process's memory.
    """

    def __init__(self, settings: ServiceSettings, store: StateStore | None = None) -> None:
        self.settings = settings
        self.throttle = Throttle()
        self._revoked = RevokedSessions(store) if store is not None else None
        self._revoked_here: set[str] = set()  # asked no store again, nor without one
        self._signer = URLSafeTimedSerializer(settings.secret_key, salt="sluice-session")
        self._tokens: list[tuple[bytes, Role]] = [
            *((t.encode(), Role.operator) for t in settings.operator_tokens),
            *((t.encode(), Role.viewer) for t in settings.viewer_tokens),
        ]

    def role_of(self, token: str) -> Role | None:
        """The role of ``token``; every known token is compared, in constant time."""
        given = token.encode()
        found: Role | None = None
        for known, role in self._tokens:
            if hmac.compare_digest(given, known) and found is None:
                found = role
        return found

    # ------------------------------------------------------------------ sessions

    def sign_in(self, token: str) -> tuple[str, Principal] | None:
        """A session cookie value for ``token``, or None when the token is unknown."""
        role = self.role_of(token)
        if role is None:
            return None
        csrf, sid = secrets.token_urlsafe(24), secrets.token_urlsafe(18)
        value = self._signer.dumps(
            {"role": role.value, "csrf": csrf, "fp": _fingerprint(token), "sid": sid}
        )
        return value, Principal(role, "session", csrf, sid)

    def session(self, cookie: str) -> Principal | None:
        """The principal of a signed, unexpired cookie whose token is still configured."""
        try:
            data: Any = self._signer.loads(cookie, max_age=self.settings.session_max_age)
        except BadSignature:
            return None
        if not isinstance(data, dict):
            return None
        role, csrf, fp, sid = data.get("role"), data.get("csrf"), data.get("fp"), data.get("sid")
        still = any(
            hmac.compare_digest(_fingerprint(t.decode()), str(fp)) and r.value == role
            for t, r in self._tokens
        )
        if not still or not isinstance(csrf, str) or not isinstance(role, str):
            return None
        if not isinstance(sid, str) or self.revoked(sid):  # no sid: made before revocation
            return None
        return Principal(Role(role), "session", csrf, sid)

    def revoke(self, principal: Principal) -> None:
        """End ``principal``'s session for good: its cookie (and any copy) is refused
        until it would have expired anyway."""
        if principal.sid is None:
            return
        self._revoked_here.add(principal.sid)
        if self._revoked is not None:
            until = utcnow() + timedelta(seconds=self.settings.session_max_age)
            self._revoked.revoke(principal.sid, until)

    def revoked(self, sid: str) -> bool:
        if sid in self._revoked_here:
            return True
        return self._revoked is not None and self._revoked.revoked(sid)

    # ------------------------------------------------------------------ throttling

    def check_throttle(self, request: Request) -> None:
        """429 when the client failed too often lately (before any token is looked at)."""
        wait = self.throttle.retry_after(client_address(request))
        if wait:
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                f"too many failed sign-ins from this address: try again in {wait} s",
                headers={"Retry-After": str(wait)},
            )

    def failed(self, request: Request) -> None:
        self.throttle.failed(client_address(request))

    async def check_csrf(self, request: Request, principal: Principal) -> None:
        """A cookie-authenticated state change must echo its session's CSRF token."""
        if principal.via != "session" or request.method in SAFE_METHODS:
            return
        sent = request.headers.get(CSRF_HEADER)
        if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            form = await request.form()
            field = form.get(CSRF_FIELD)
            sent = field if isinstance(field, str) else None
        if not sent or not principal.csrf or not hmac.compare_digest(sent, principal.csrf):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong CSRF token")


def set_session(response: Response, request: Request, cookie: str) -> None:
    """Put the session cookie on ``response`` (the API's sign-in and the dashboard's)."""
    auth: Auth = request.app.state.auth
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=auth.settings.session_max_age,
        httponly=True,
        samesite="lax",
        secure=auth.settings.cookies_secure,
        path="/",
    )


def clear_session(response: Response, request: Request) -> None:
    auth: Auth = request.app.state.auth
    response.delete_cookie(
        SESSION_COOKIE, path="/", secure=auth.settings.cookies_secure, httponly=True
    )


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


_bearer = HTTPBearer(auto_error=False, description="an operator or viewer token")


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"}
    )


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, from a bearer token or a session cookie; 401 when neither is valid."""
    auth: Auth = request.app.state.auth
    if auth.settings.dev_open:
        return Principal(Role.operator, "open")
    if credentials is not None:
        auth.check_throttle(request)
        role = auth.role_of(credentials.credentials)
        if role is None:
            auth.failed(request)
            raise _unauthorized("unknown token")
        return Principal(role, "bearer")
    if "authorization" in request.headers:
        raise _unauthorized("use `Authorization: Bearer <token>`")
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        principal = auth.session(cookie)
        if principal is None:
            raise _unauthorized("session expired or invalid: sign in again")
        await auth.check_csrf(request, principal)
        return principal
    raise _unauthorized("a token is needed: `Authorization: Bearer <token>`")


async def require_operator(
    principal: Annotated[Principal, Depends(current_principal)],
) -> Principal:
    if not principal.can_operate:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this needs an operator token")
    return principal


#: any signed-in caller (viewer or operator)
Viewer = Annotated[Principal, Depends(current_principal)]
#: a caller who may change state
Operator = Annotated[Principal, Depends(require_operator)]
