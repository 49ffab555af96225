"""The request guard: what every request passes before the app (or the micro-cache) sees it.

In every mode (``--dev-open``, sessions, bearer tokens) a browser must not be a way in
for another web site:

- **Host.** Only names that are this server are answered: ``localhost``, ``127.0.0.1``,
  ``[::1]`` (any port), the address it listens on, and ``SLUICE_ALLOWED_HOSTS``. Anything
  else is 400: a DNS-rebinding page (``evil.example`` resolved to 127.0.0.1) arrives
  with its own name in ``Host``.
- **Origin.** A state-changing request (not GET/HEAD/OPTIONS; signing in too) whose
  ``Origin`` (or, without one, ``Sec-Fetch-Site``) names another origin is 403, before
  authentication: a cross-site form cannot trigger a run under ``--dev-open`` nor sign
  the operator's browser in with another token. Requests with neither header (curl,
  scripts with bearer tokens) are not a browser's cross-site requests and pass.
- **Body caps.** A body is capped by path (sign-in a few KiB, the API 1 MiB, dashboard
  forms 64 KiB) before anything reads it: a ``Content-Length`` over the cap is 413 at
  once; a chunked body is counted as it streams in and cut off at the cap (413).
- **Headers.** Every answer gets a Content-Security-Policy (no inline script, no
  framing), ``X-Frame-Options``, ``nosniff``, a Referrer-Policy and, unless the route
  set its own (static assets), ``Cache-Control: no-store``. A route that needs another
  policy (the API docs pages) sets its own ``Content-Security-Policy``.

Refusals have the service's error body, ``{"error": ..., "hint": ...}``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from starlette.exceptions import HTTPException

from sluice.service.auth import SAFE_METHODS
from sluice.service.settings import ServiceSettings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: names that are always this machine
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
#: where a token is traded for a session: the smallest cap (a token is < 4 KiB)
SIGN_IN_PATHS = frozenset({"/api/session", "/signin"})
SIGN_IN_CAP = 8 * 1024
API_CAP = 1024 * 1024
#: the dashboard's other forms carry a CSRF token and a few ids
FORM_CAP = 64 * 1024
#: what a browser sends in Sec-Fetch-Site for a request this server's own page made
SAME_ORIGIN_FETCH = frozenset({"same-origin", "none"})

CSP = (
    "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
)


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes its cap. An HTTPException so
    FastAPI's body parsing lets it through (it turns other errors into 400s); the guard
    then answers 413 itself, whatever the app made of it."""

    def __init__(self) -> None:
        super().__init__(413, "request body too large")


class Guard:
    """ASGI middleware: Host and Origin checks, body caps and security headers."""

    def __init__(self, app: ASGIApp, *, settings: ServiceSettings) -> None:
        self.app = app
        entries = {h.strip().lower().rstrip(".") for h in settings.allowed_hosts} - {""}
        self.any_host = "*" in entries
        #: origins the operator said are this server (``name`` or ``name:port``): their
        #: pages may post here even when a proxy passes another Host on
        self.origins = frozenset(entries - {"*"})
        self.hosts = (
            LOOPBACK_HOSTS | {_bare(settings.host)} | {_bare(_strip_port(h)) for h in self.origins}
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        host = headers.get("host", "")
        if not self._known_host(host):
            await _refuse(
                send,
                400,
                f"unknown Host header {host!r}: this server answers only to its own names",
                "to reach it under this name (a proxy, a DNS name), add it to "
                "SLUICE_ALLOWED_HOSTS (comma-separated) and restart sluice serve",
            )
            return
        if scope["method"] not in SAFE_METHODS and not self._same_origin(headers, host):
            await _refuse(
                send,
                403,
                "cross-site request refused: a state change must come from this server's "
                f"own pages (Origin {headers.get('origin', '')!r}, "
                f"Sec-Fetch-Site {headers.get('sec-fetch-site', '')!r})",
                "use the dashboard on this server, or call the API without a browser "
                "(curl, a script with a bearer token); under another name, add it to "
                "SLUICE_ALLOWED_HOSTS",
            )
            return
        cap = body_cap(scope["path"])
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > cap):
            await _too_large(send, cap)
            return
        await self._call_capped(scope, receive, send, cap)

    async def _call_capped(self, scope: Scope, receive: Receive, send: Send, cap: int) -> None:
        """The app, with the body counted as it is read and headers added to the answer."""
        seen = 0
        over = False
        started = False

        async def capped() -> Message:
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:
                    over = True
                    raise BodyTooLarge
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if over:  # the app's own answer to BodyTooLarge: ours replaces it
                return
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = _with_security_headers(message.get("headers", []))
            await send(message)

        try:
            await self.app(scope, capped, guarded)
        except Exception:
            if started:
                raise
            if not over:
                # Answered here rather than by Starlette's outer error middleware, so a
                # 500 has the headers and the error body too; raised on for the log.
                await _refuse(
                    send, 500, "internal server error", "the server's log has the details"
                )
                raise
        if over and not started:
            await _too_large(send, cap)

    def _known_host(self, host: str) -> bool:
        if self.any_host or not host:  # no Host at all: not a browser (HTTP/1.0)
            return True
        return _bare(_strip_port(host)) in self.hosts

    def _same_origin(self, headers: dict[str, str], host: str) -> bool:
        origin = headers.get("origin")
        if origin is None:
            fetch_site = headers.get("sec-fetch-site")
            return fetch_site is None or fetch_site in SAME_ORIGIN_FETCH
        parsed = _origin(origin)
        if parsed is None:
            return False  # "null": a sandboxed frame, a file:// page, a data: URL
        netloc, default = parsed
        # Browsers leave the scheme's default port out of both headers; the scheme itself
        # is not compared: behind a TLS proxy this server sees http for an https page.
        return netloc in (host.lower().removesuffix(f":{default}"), *self.origins)


@functools.lru_cache(maxsize=256)  # a server sees few origins; parsing one costs more
def _origin(origin: str) -> tuple[str, int] | None:
    """``(host[:port], the scheme's default port)`` of an http(s) Origin, else None;
    the port only when it is not the default."""
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    default = 443 if parts.scheme == "https" else 80
    name = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return (name if port in (None, default) else f"{name}:{port}"), default


def body_cap(path: str) -> int:
    """The largest body a request to ``path`` may have."""
    if path in SIGN_IN_PATHS:
        return SIGN_IN_CAP
    if path == "/api" or path.startswith("/api/"):
        return API_CAP
    return FORM_CAP


#: the request headers the guard reads; the others are not even decoded
_READ = frozenset({b"host", b"origin", b"sec-fetch-site", b"content-length"})


def _headers(scope: Scope) -> dict[str, str]:
    """The headers the guard reads, by lower-case name (the first of repeated ones)."""
    found: dict[str, str] = {}
    for name, value in scope["headers"]:
        if name in _READ and name not in found:
            found[name.decode()] = value.decode("latin-1")
    return found


def _strip_port(host: str) -> str:
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    name, _, port = host.rpartition(":")
    return name if name and port.isdigit() else host


def _bare(host: str) -> str:
    """A host name as compared: lower case, no IPv6 brackets, no trailing dot."""
    return host.strip().lower().strip("[]").rstrip(".")


def _with_security_headers(headers: Any) -> list[tuple[bytes, bytes]]:
    out = list(headers)
    present = {name.lower() for name, _ in out}
    out.extend((name, value) for name, value in SECURITY_HEADERS if name not in present)
    return out


async def _too_large(send: Send, cap: int) -> None:
    await _refuse(
        send,
        413,
        f"request body too large: at most {cap} bytes here",
        "send less; sign-in takes a token, the API small JSON documents",
    )


async def _refuse(send: Send, status: int, error: str, hint: str) -> None:
    body = json.dumps({"error": error, "hint": hint}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": _with_security_headers(headers),
        }
    )
    await send({"type": "http.response.body", "body": body})
