"""Server paths in the service's answers are shown relative to the project folder.

A run report names its destination (``sqlite:////srv/etl/leads/leads.db``), a drifted
file's quarantine entry its dead-letter copy, an error the file it could not read: on
the machine these absolute paths help the operator (the CLI and the state store keep
them), but in the API and the dashboard they tell every viewer how the server is laid
out. This ASGI middleware rewrites the project folder in the text answers (JSON, HTML,
server-sent events, plain text) as it goes out: ``/srv/etl/leads/data/a.csv`` becomes
``data/a.csv``, the folder itself ``.``. Paths outside the project are left as they are.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: the answers rewritten (static assets and binary downloads are not)
TEXT_TYPES = (b"application/json", b"text/html", b"text/event-stream", b"text/plain")


class RelativePaths:
    def __init__(self, app: ASGIApp, *, root: Path) -> None:
        self.app = app
        # the folder, then a "/" (dropped) or the end of the path (shown as ".")
        self.pattern = re.compile(re.escape(str(root).encode()) + rb"(?:/|(?![\w.\-]))")

    def relative(self, body: bytes) -> bytes:
        return self.pattern.sub(lambda m: b"" if m.group(0).endswith(b"/") else b".", body)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "HEAD":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        rewrite = False

        async def relay(message: Message) -> None:
            nonlocal start, rewrite
            if message["type"] == "http.response.start":
                kind = dict(message.get("headers", [])).get(b"content-type", b"")
                rewrite = kind.startswith(TEXT_TYPES)
                if not rewrite:
                    await send(message)
                else:
                    start = message  # sent with the first body: its length changes
                return
            if message["type"] != "http.response.body" or not rewrite:
                await send(message)
                return
            body = self.relative(message.get("body", b""))
            if start is not None:
                headers = [(k, v) for k, v in start.get("headers", []) if k != b"content-length"]
                if not message.get("more_body", False):  # the whole answer: its new length
                    headers.append((b"content-length", str(len(body)).encode()))
                await send({**start, "headers": headers})
                start = None
            await send({**message, "body": body})

        await self.app(scope, receive, relay)
