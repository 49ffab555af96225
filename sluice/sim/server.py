"""Serve an app with uvicorn on a loopback port, in a background thread or the foreground.

    with SimServer(animals.create_app()) as server:
        httpx.get(server.url + "/animals/v1/animals?page=1")

The socket is bound when the server is made (port 0 picks a free port), so ``port`` and
``url`` are known before it starts and no other process can take the port in between.
A server starts once: after ``stop()`` make a new one.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

from sluice.errors import ConfigError


class SimServer:
    """One uvicorn server for ``app`` on ``host:port``.

    ``start()`` serves from a daemon thread and returns once the server accepts calls;
    ``stop()`` shuts it down (calls still running get ``grace`` seconds to finish);
    ``serve_forever()`` serves in the calling thread until Ctrl-C or SIGTERM.
    """

    def __init__(
        self,
        app: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        log_level: str = "warning",
        access_log: bool = False,
        grace: int = 1,
    ) -> None:
        self.host = host
        # proto given explicitly: asyncio sets TCP_NODELAY on accepted connections only when
        # proto is IPPROTO_TCP, and without it every keep-alive call waits ~40 ms (Nagle).
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((host, port))
        except OSError as exc:
            self.sock.close()
            raise ConfigError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                hint="pick another port, or 0 for a free one",
            ) from None
        self.port: int = self.sock.getsockname()[1]
        config = uvicorn.Config(
            app,
            log_level=log_level,
            access_log=access_log,
            lifespan="off",
            timeout_graceful_shutdown=grace,
        )
        self.server = uvicorn.Server(config)
        self.thread: threading.Thread | None = None
        self.used = False
        self.error: BaseException | None = None

    @property
    def url(self) -> str:
        """The base URL, like ``http://127.0.0.1:8001`` (no trailing slash)."""
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self.server.started and not self.server.should_exit

    def _run(self) -> None:
        try:
            self.server.run(sockets=[self.sock])
        except BaseException as exc:  # surfaced by start(), not lost in the thread
            self.error = exc

    def _use(self) -> None:
        if self.used:
            raise RuntimeError("this SimServer was already started; make a new one")
        self.used = True

    def start(self, timeout: float = 10.0) -> SimServer:
        """Serve from a background thread; return once calls are accepted."""
        self._use()
        self.thread = threading.Thread(target=self._run, name=f"sim:{self.port}", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"simulator on {self.url} did not start: {self.error!r}")
            time.sleep(0.005)
        return self

    def stop(self, timeout: float = 10.0, *, wait: bool = True) -> None:
        """Shut the server down (a no-op if not running).

        ``wait=False`` only asks: shutting down takes ~0.2 s, so many servers stop faster
        when each is asked first and waited for (``stop()`` again) afterwards.
        """
        self.server.should_exit = True
        if not wait:
            return
        if self.thread is not None:
            self.thread.join(timeout)
        self.sock.close()

    def serve_forever(self) -> None:
        """Serve in this thread until Ctrl-C (KeyboardInterrupt is raised after shutdown)."""
        self._use()
        try:
            self.server.run(sockets=[self.sock])
        finally:
            self.sock.close()

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


__all__ = ["SimServer"]
