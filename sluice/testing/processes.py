"""Python processes for tests, started in milliseconds instead of a second and more.

:func:`run` and :class:`Popen` take what :func:`subprocess.run` and
:class:`subprocess.Popen` take. A ``[sys.executable, "-m", MODULE, ...]`` or
``[sys.executable, "-c", CODE, ...]`` command is forked from a fork server that has
imported sluice, Celery and their libraries once
(:mod:`sluice.executors.forkserver`): still a process of its own, with its own pid,
environment, working directory, pipes, signals and exit code, so a test can kill it at
a named point or race two of them. Any other command starts as usual.

    done = processes.run([sys.executable, "-m", "sluice", "run", "leads", "-p", root],
                         capture_output=True, text=True)
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from typing import Any

from sluice.executors.forkserver import PRELOAD, ForkPopen, ForkServer, python_command, server_for
from sluice.executors.forkserver import run as _forked_run

# What the tests start, besides runs: the CLI's libraries and Celery workers.
TEST_PRELOAD = (*PRELOAD, "celery", "kombu.transport.redis", "sluice.executors.celery_tasks")


def server() -> ForkServer:
    """This process's fork server for tests (started on first use, gone when we exit)."""
    return server_for(TEST_PRELOAD)


def Popen(args: Sequence[str | os.PathLike[str]], **kw: Any) -> subprocess.Popen[Any]:
    """:class:`subprocess.Popen`, forked when ``args`` is a ``python -m``/``-c`` command."""
    if python_command(args) is None:
        return subprocess.Popen(args, **kw)
    return ForkPopen(args, server=server(), **kw)


def run(args: Sequence[str | os.PathLike[str]], **kw: Any) -> subprocess.CompletedProcess[Any]:
    """:func:`subprocess.run`, forked when ``args`` is a ``python -m``/``-c`` command."""
    if python_command(args) is None:
        return subprocess.run(args, **kw)
    return _forked_run(args, server=server(), **kw)
