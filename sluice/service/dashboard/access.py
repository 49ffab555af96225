"""Who is looking at a dashboard page: the session cookie of :mod:`sluice.service.auth`.

Pages (GET) send a visitor without a valid session to the sign-in page; actions (POST)
use the service's :data:`~sluice.service.auth.Operator` dependency, which also checks
the session's CSRF token.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, HTTPException, Request, status

from sluice.service.auth import SESSION_COOKIE, Auth, Principal, Role


def signed_in(request: Request) -> Principal | None:
    """The visitor's principal from the session cookie (or open dev mode), else None."""
    auth: Auth = request.app.state.auth
    if auth.settings.dev_open:
        return Principal(Role.operator, "open")
    cookie = request.cookies.get(SESSION_COOKIE)
    return auth.session(cookie) if cookie else None


def require_page_viewer(request: Request) -> Principal:
    """A signed-in visitor, or a redirect (303) to the sign-in page and back."""
    principal = signed_in(request)
    if principal is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise HTTPException(
            status.HTTP_303_SEE_OTHER,
            "sign in first",
            headers={
                "Location": f"{request.url_for('dashboard-signin').path}?next={quote(target)}"
            },
        )
    return principal


#: a visitor signed in as viewer or operator (else: redirected to sign in)
PageViewer = Annotated[Principal, Depends(require_page_viewer)]


def page_context(request: Request, principal: Principal | None, **values: Any) -> dict[str, Any]:
    """What every page template needs besides its own data."""
    return {
        "project_name": request.app.state.project.name,
        "role": principal.role.value if principal else None,
        "can_operate": bool(principal and principal.can_operate),
        "csrf_token": (principal.csrf or "") if principal else "",
        "flash": request.query_params.get("flash"),
        **values,
    }


def safe_next(target: str | None, default: str) -> str:
    """Only a path on this site (no scheme, no host): never an open redirect."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target
