"""A process that has imported sluice once and forks the Python processes sluice starts.

``python -m sluice...`` spends about 1.3 s of CPU importing Polars, SQLAlchemy, Pydantic
and httpx before it does anything. ``sluice serve`` starts a run process per run, so it
keeps one preloaded process (:mod:`sluice.executors.forked`, started by
:class:`ForkServer`) and forks each run process from it: a real process with its own
pid, environment, working directory, standard streams, signals and exit code, ready in
milliseconds.
The test kit starts the CLI the same way.

Only imports happen before a fork: the server starts no Python thread, opens no
connection and never runs Polars (whose compute pool, made on first use, must not cross
a fork), so a child starts clean. The native threads that importing Polars and PyArrow
starts (jemalloc's background threads, Polars' spill cleaner) hold no lock a child
needs: jemalloc takes its locks around a fork (``pthread_atfork``). A child has no such
background threads (jemalloc does not start them again), so its freed memory is handed
back and faulted in again by the threads that use it: about 20,000 more page faults
for a 1M-row file, 450,000 more for 120 files of 50,000 rows (the reason a Celery
worker's pool children import the engine themselves: see
:mod:`sluice.executors.worker_process`). Here they are preloaded all the same: a run
of ``sluice serve`` is often small (an API pull, a few files), and importing Polars,
PyArrow and NumPy itself (about 0.2 s) would cost it more than the faults do; a run of
many files pays about 1.2 CPU-s more per 100 files of 50,000 rows.
Anything read from the environment is read after the fork, from the environment the
request carries: the modules preloaded must not read it at import time (the CLI's
consoles do, so the CLI itself is imported in the child).

:class:`ForkPopen` is a :class:`subprocess.Popen` whose child comes from the server:
``communicate``, timeouts, text mode and signals work as they do for any process.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# What a run process or the CLI imports before it does anything: the slow part of a start.
PRELOAD = (
    "sluice.executors.run_process",
    "sluice.engine.run",
    "sluice.engine.replay",
    "sluice.destinations",
    "sluice.sources",
    "typer",
    "rich.console",
)
_SERVE = "import sys; from sluice.executors.forked import serve; serve(sys.argv[1], sys.argv[2:])"


class ForkServer:
    """The preloaded process, started on first use; one per process that asks for it."""

    def __init__(self, preload: Sequence[str] = PRELOAD) -> None:
        self.preload = tuple(preload)
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self.socket_path = ""

    def address(self) -> str:
        """The server's socket, starting (or restarting) the server if it is not up."""
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._start()
            return self.socket_path

    def _start(self) -> None:
        # The socket runs whatever it is asked to: it lives in a directory only this user
        # may enter (mkdtemp makes it 0700), so no other user can send it a request.
        self._dir = tempfile.TemporaryDirectory(prefix="sluice-fork-")
        self.socket_path = str(Path(self._dir.name) / "s")
        # Its stdin is a pipe from us: when we exit, the server reads EOF and exits too.
        self._proc = subprocess.Popen(
            # -c, not -m: `-m` on a module its package already imported warns.
            [sys.executable, "-c", _SERVE, self.socket_path, *self.preload],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self._proc.stdout is not None
        if self._proc.stdout.readline().strip() != b"ready":
            code = self._proc.wait()
            self._proc = None
            self._dir.cleanup()
            raise OSError(f"the fork server did not start (exit code {code}; see stderr)")

    def close(self) -> None:
        with self._lock:
            if self._proc is not None:
                assert self._proc.stdin is not None
                self._proc.stdin.close()
                self._proc.wait(10)
                self._proc = None
            if self._dir is not None:
                self._dir.cleanup()
                self._dir = None


_servers: dict[tuple[str, ...], ForkServer] = {}
_servers_lock = threading.Lock()


def server_for(preload: Sequence[str] = PRELOAD) -> ForkServer:
    """This process's fork server with ``preload`` imported (made once, started on
    first use): :data:`PRELOAD` for the service's run processes."""
    with _servers_lock:
        key = tuple(preload)
        if key not in _servers:
            _servers[key] = ForkServer(key)
        return _servers[key]


def default_server() -> ForkServer:
    """This process's fork server for run processes."""
    return server_for(PRELOAD)


def python_command(
    command: Sequence[str | os.PathLike[str]],
) -> tuple[str | None, str | None, list[str]] | None:
    """``(module, code, argv)`` for ``python -m MODULE ...`` or ``python -c CODE ...``;
    None for any other command (which a fork cannot start). Paths may be given as
    :class:`os.PathLike`, as :mod:`subprocess` allows."""
    if isinstance(command, (str, bytes)):
        return None  # a shell string, or a lone program
    args = [os.fsdecode(a) for a in command]
    if len(args) < 3 or args[0] != sys.executable or args[1] not in ("-m", "-c"):
        return None
    if args[1] == "-m":
        return args[2], None, [args[2], *args[3:]]
    return None, args[2], ["-c", *args[3:]]


class ForkPopen(subprocess.Popen[Any]):
    """``subprocess.Popen`` for ``[sys.executable, "-m" | "-c", ...]``, forked from a
    preloaded :class:`ForkServer` instead of started from scratch."""

    def __init__(
        self, args: Sequence[str | os.PathLike[str]], *, server: ForkServer | None = None, **kw: Any
    ):
        if python_command(args) is None:
            raise ValueError(f"not a python -m/-c command: {args!r}")
        self._server = server or default_server()
        self._new_session = bool(kw.get("start_new_session"))
        self._conn: socket.socket | None = None
        super().__init__(list(args), **kw)

    def _execute_child(
        self,
        args: Sequence[str],
        executable: Any,
        preexec_fn: Any,
        close_fds: bool,
        pass_fds: Sequence[int],
        cwd: Any,
        env: Any,
        startupinfo: Any,
        creationflags: int,
        shell: bool,
        p2cread: int,
        p2cwrite: int,
        c2pread: int,
        c2pwrite: int,
        errread: int,
        errwrite: int,
        *rest: Any,
    ) -> None:
        parsed = python_command(args)
        assert parsed is not None  # checked in __init__
        module, code, argv = parsed
        where = os.fspath(cwd) if cwd is not None else os.getcwd()
        request = {
            "module": module,
            "code": code,
            "argv": argv,
            "env": dict(os.environ if env is None else env),
            "cwd": where,
            "session": self._new_session,
        }
        # The child's streams: what Popen set up, else ours (inherited, as a fork would).
        fds = [p2cread if p2cread != -1 else 0]
        fds.append(c2pwrite if c2pwrite != -1 else 1)
        fds.append(errwrite if errwrite != -1 else 2)
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            if not os.path.isdir(where):  # as subprocess says it: in the caller, naming cwd
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), cwd)
            conn.connect(self._server.address())
            socket.send_fds(conn, [json.dumps(request).encode()], fds)
            reply = conn.recv(64)
        except OSError:
            conn.close()
            raise
        finally:
            # The child has its copies; ours of its ends go, as Popen does after a fork.
            self._close_pipe_fds(  # type: ignore[attr-defined]
                p2cread, p2cwrite, c2pread, c2pwrite, errread, errwrite
            )
        if not reply.startswith(b"pid "):
            conn.close()
            raise OSError(f"the fork server refused: {reply.decode(errors='replace')}")
        self.pid = int(reply.split()[1])
        self._conn = conn
        self._child_created = True

    def _exit_code(self, timeout: float | None) -> int | None:
        """The child's exit code once the server saw it exit (waiting up to ``timeout``)."""
        assert self._conn is not None
        self._conn.settimeout(timeout)
        try:
            said = self._conn.recv(64)
        except (TimeoutError, BlockingIOError):
            return None
        self._conn.close()
        if not said.startswith(b"exit "):  # the server died: the child's code is lost
            return 255
        return int(said.split()[1])

    def _internal_poll(self, _deadstate: Any = None, **kw: Any) -> int | None:
        if self.returncode is None and self._conn is not None:
            with self._waitpid_lock:  # type: ignore[attr-defined]
                if self.returncode is None:
                    code = self._exit_code(0)
                    if code is not None:
                        self.returncode = code
        return self.returncode

    def _wait(self, timeout: float | None) -> int:
        if self.returncode is not None:
            return self.returncode
        with self._waitpid_lock:  # type: ignore[attr-defined]
            if self.returncode is None:
                code = self._exit_code(timeout)
                if code is None:
                    assert timeout is not None
                    raise subprocess.TimeoutExpired(self.args, timeout)
                self.returncode = code
        return self.returncode


def run(
    args: Sequence[str | os.PathLike[str]],
    *,
    input: Any = None,
    timeout: float | None = None,
    check: bool = False,
    capture_output: bool = False,
    **kw: Any,
) -> subprocess.CompletedProcess[Any]:
    """``subprocess.run`` with a forked child (``python -m``/``-c`` commands only)."""
    if capture_output:
        kw["stdout"] = kw["stderr"] = subprocess.PIPE
    if input is not None:
        kw["stdin"] = subprocess.PIPE
    with ForkPopen(args, **kw) as proc:
        try:
            out, err = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
    done = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    if check:
        done.check_returncode()
    return done
