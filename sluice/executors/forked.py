"""The fork server's side: preload, then fork a child per request and pass on its exit.

Started by :class:`sluice.executors.forkserver.ForkServer`; a request (one
``SOCK_SEQPACKET`` message with the child's stdin, stdout and stderr attached) says
what to run (``-m MODULE`` or ``-c CODE``), with which arguments, environment, working
directory and session. The server answers ``pid N`` at once and ``exit CODE`` when the
child ends. The server runs one Python thread, so a fork never copies another Python
thread's lock (see :mod:`sluice.executors.forkserver` on the native ones).
"""

from __future__ import annotations

import codecs
import contextlib
import importlib
import io
import json
import os
import runpy
import select
import signal
import socket
import sys
import threading
import traceback
from collections.abc import Sequence
from typing import Any

MAX_REQUEST = 1 << 20


def serve(path: str, preload: Sequence[str]) -> None:
    _server_locale.update({k: os.environ.get(k) for k in _LOCALE_VARS})
    for name in preload:
        importlib.import_module(name)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(path)
    listener.listen(64)
    # A child's exit wakes the loop through this pipe, so its code is passed on at once.
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wake_w)
    waiting: dict[int, socket.socket] = {}
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while True:
        ready, _, _ = select.select([listener, sys.stdin, wake_r], [], [], 1.0)
        if wake_r in ready:
            os.read(wake_r, 512)
        _reap(waiting)
        if sys.stdin in ready and not os.read(sys.stdin.fileno(), 512):
            return  # the process that started us is gone
        if listener in ready:
            conn, _ = listener.accept()
            child = _fork(conn, listener, waiting, (wake_r, wake_w))
            if child is not None:
                waiting[child] = conn


def _reap(waiting: dict[int, socket.socket]) -> None:
    while waiting:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = waiting.pop(pid, None)
        if conn is not None:
            with contextlib.suppress(OSError):  # the asker may be gone
                conn.send(f"exit {os.waitstatus_to_exitcode(status)}".encode())
            conn.close()


def _fork(
    conn: socket.socket,
    listener: socket.socket,
    waiting: dict[int, socket.socket],
    wake: tuple[int, int],
) -> int | None:
    fds: list[int] = []
    try:
        data, fds, _, _ = socket.recv_fds(conn, MAX_REQUEST, 3)
        request = json.loads(data)
        if len(fds) != 3:
            raise ValueError(f"3 file descriptors expected, got {len(fds)}")
    except (OSError, ValueError) as exc:
        for fd in fds:
            os.close(fd)
        with contextlib.suppress(OSError):
            conn.send(f"error {exc}".encode())
        conn.close()
        return None
    pid = os.fork()
    if pid == 0:
        listener.close()
        for other in waiting.values():
            other.close()
        for fd in wake:
            os.close(fd)
        conn.close()
        try:
            _child(request, fds)  # ends with os._exit
        except BaseException as exc:  # before the command ran (a missing cwd, say)
            with contextlib.suppress(BaseException):
                print(f"the fork server could not start the command: {exc!r}", file=sys.stderr)
        finally:
            os._exit(127)  # never back into the server's loop
    for fd in fds:
        os.close(fd)
    conn.send(f"pid {pid}".encode())
    return pid


def _child(request: dict[str, Any], fds: list[int]) -> None:
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if request["session"]:
        os.setsid()
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    for fd in set(fds) - {0, 1, 2}:
        os.close(fd)
    env: dict[str, str] = request["env"]
    os.environ.clear()
    os.environ.update(env)
    os.chdir(request["cwd"])
    _fresh_stdio(env)
    sys.argv = list(request["argv"])
    # sys.path as `python -m` (the working directory) or `python -c` ('') would have it.
    sys.path[0] = request["cwd"] if request["module"] else ""
    for entry in reversed(env.get("PYTHONPATH", "").split(os.pathsep)):
        if entry and entry not in sys.path:
            sys.path.insert(1, entry)
    code = 0
    try:
        if request["module"]:
            runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
        else:
            exec(compile(request["code"], "<string>", "exec"), {"__name__": "__main__"})
    except SystemExit as exc:
        code = _exit_status(exc.code)
    except KeyboardInterrupt:
        _flush()
        # As the interpreter does: die of the signal, so the parent sees -SIGINT.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    except BaseException as exc:
        # From the command's own frames on, as the interpreter prints it (not ours).
        tb = exc.__traceback__.tb_next if exc.__traceback__ else None
        traceback.print_exception(type(exc), exc, tb)
        code = 1
    with contextlib.suppress(BaseException):
        threading._shutdown()  # type: ignore[attr-defined]  # join non-daemon threads
        import atexit

        atexit._run_exitfuncs()
    _flush()
    os._exit(code)


def _exit_status(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


_LOCALE_VARS = ("PYTHONIOENCODING", "PYTHONUTF8", "LC_ALL", "LC_CTYPE", "LANG")
_server_locale: dict[str, str | None] = {}  # the server's own settings, set when it starts


def _stdio_codec(env: dict[str, str]) -> tuple[str, str]:
    """The encoding and error handler a fresh interpreter gives stdin/stdout under
    ``env``: the server's own when the locale settings are the same (the usual case),
    else worked out the way CPython does (PEP 538 and 540)."""
    if all(env.get(k) == _server_locale.get(k) for k in _LOCALE_VARS) and sys.__stdout__:
        return sys.__stdout__.encoding, sys.__stdout__.errors or "strict"
    encoding, _, errors = env.get("PYTHONIOENCODING", "").partition(":")
    name = env.get("LC_ALL") or env.get("LC_CTYPE") or env.get("LANG") or "C"
    lax = env.get("PYTHONUTF8") == "1" or name in ("C", "POSIX") or name.startswith("C.")
    if not encoding:
        utf8 = lax or "utf-8" in name.lower().replace("utf8", "utf-8")
        encoding = "utf-8" if utf8 else (sys.__stdout__.encoding if sys.__stdout__ else "utf-8")
    return codecs.lookup(encoding).name, errors or ("surrogateescape" if lax else "strict")


def _fresh_stdio(env: dict[str, str]) -> None:
    """Text streams over the new fds 0-2, encoded as the interpreter would for ``env``."""
    encoding, errors = _stdio_codec(env)
    streams = ((0, "stdin", errors), (1, "stdout", errors), (2, "stderr", "backslashreplace"))
    for fd, name, fd_errors in streams:
        # It lives on as sys.stdout (and so on): no context manager can own it.
        binary = open(fd, "rb" if fd == 0 else "wb", closefd=False)  # noqa: SIM115
        stream = io.TextIOWrapper(
            binary,
            encoding=encoding,
            errors=fd_errors,
            line_buffering=fd == 2 or os.isatty(fd),
            write_through=fd == 2,
        )
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
