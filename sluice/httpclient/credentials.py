"""Where a source's credentials go, and how a URL is shown with its secrets masked."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpx

from sluice.config import HttpAuth
from sluice.redact import redact_url


def shown_url(url: str | httpx.URL, secret: Iterable[str] = ()) -> str:
    """``url`` as a message may show it: a password in it, the values of secret query
    parameters (named like keys and tokens, and the names in ``secret``) as ``***``."""
    return redact_url(url, secret)


def origin(url: str | httpx.URL) -> tuple[str, str, int | None]:
    """(scheme, host, port) of ``url``, the port spelled out when it is the default one:
    what decides whether credentials may go there."""
    u = httpx.URL(str(url))
    port = u.port or {"http": 80, "https": 443}.get(u.scheme)
    return u.scheme.lower(), u.host.lower(), port


def secret_values(a: HttpAuth | None) -> list[str]:
    """The secrets a source's ``auth`` holds: masked wherever a message would quote them."""
    if a is None:
        return []
    return [v for v in (a.token, a.value, a.password) if v]


def auth_settings(
    a: HttpAuth | None,
) -> tuple[dict[str, str], dict[str, Any], httpx.Auth | None]:
    """(headers, query parameters, httpx auth) that carry the configured credentials."""
    if a is None:
        return {}, {}, None
    if a.type == "bearer":
        return {"Authorization": f"Bearer {a.token}"}, {}, None
    if a.type == "api_key" and a.location == "header":
        return {a.name: a.value or ""}, {}, None
    if a.type == "api_key":
        return {}, {a.name: a.value}, None
    return {}, {}, httpx.BasicAuth(a.username or "", a.password or "")
