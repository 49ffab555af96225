"""A loopback HTTP server that keeps every request it gets: a webhook for alert tests.

    with Capture() as hook:                 # on a free port of 127.0.0.1
        hook.answer(503, "busy", times=2)   # the first two calls fail, then 200 "ok"
        alerter_posts_to(hook.url + "/services/T0/B0/X")
    (message,) = hook.received               # JSON bodies of the calls answered 2xx
    assert hook.attempts == 3

One implementation for what tests of alerts, the service and HTTP sources each wrote
as their own small app: it answers any method and path.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sluice.extras import require

if TYPE_CHECKING:  # uvicorn (the serve extra) is imported by a Capture made
    from sluice.sim.server import SimServer

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass(frozen=True)
class Request:
    """One request as the server got it, and what it answered."""

    method: str
    path: str
    query: str
    headers: dict[str, str]  # names lower-cased; a repeated header keeps its last value
    body: bytes
    status: int

    def json(self) -> Any:
        return json.loads(self.body)


class Capture:
    """Answers every request ``200 ok`` (or what :meth:`answer` says) and keeps it."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._answers: list[tuple[int, str]] = []  # the next answers, in order
        self._default = (200, "ok")
        self._lock = threading.Lock()

        # A plain function: uvicorn takes a bound method for an old-style (ASGI 2) app.
        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            await self._serve(scope, receive, send)

        require("uvicorn", "serve", "sluice.testing.Capture")
        from sluice.sim.server import SimServer

        self.server: SimServer = SimServer(app)

    @property
    def url(self) -> str:
        """The base URL, like ``http://127.0.0.1:41234`` (no trailing slash)."""
        return self.server.url

    @property
    def attempts(self) -> int:
        """Requests received, answered with success or not."""
        with self._lock:
            return len(self.requests)

    @property
    def received(self) -> list[Any]:
        """The JSON bodies of the requests answered with a 2xx status, in order."""
        with self._lock:
            return [r.json() for r in self.requests if 200 <= r.status < 300]

    @property
    def paths(self) -> list[str]:
        """The paths of the requests answered with a 2xx status, in order."""
        with self._lock:
            return [r.path for r in self.requests if 200 <= r.status < 300]

    def answer(self, status: int, body: str = "", *, times: int | None = None) -> None:
        """Answer the next ``times`` requests (every later one if None) with this."""
        with self._lock:
            if times is None:
                self._answers.clear()
                self._default = (status, body)
            else:
                self._answers.extend([(status, body)] * times)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        with self._lock:
            status, text = self._answers.pop(0) if self._answers else self._default
            self.requests.append(
                Request(
                    method=scope["method"],
                    path=scope["path"],
                    query=scope["query_string"].decode("latin-1"),
                    headers={k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]},
                    body=body,
                    status=status,
                )
            )
        payload = text.encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    def start(self) -> Capture:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> Capture:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
