"""The ``sluice`` command: one Typer app, one file per command group."""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from typing import Annotated

import typer

from sluice.cli import (
    allocators,
    cancel,
    http,
    project,
    prune,
    pydantic_plugins,
    quarantine,
    runs,
    serve,
    sim,
    startup,
    worker,
)
from sluice.cli.helptext import Command, Group
from sluice.cli.options import LogFormatOpt, LogLevelOpt, set_up_logging
from sluice.extras import DISTRIBUTIONS, distribution_version

__all__ = ["DISTRIBUTIONS", "app", "installed_version", "main"]

app = typer.Typer(
    name="sluice",
    help="Declarative ETL: files and APIs into SQLite, PostgreSQL, MySQL/MariaDB or DuckDB, "
    "with every row accounted for: loaded, quarantined with its reasons, or filtered by a "
    "named rule.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,  # sluice --install-completion (bash, zsh, fish, PowerShell)
    cls=Group,
)


def installed_version() -> str:
    """The installed distribution's version (the package's own when none is installed)."""
    from sluice import __version__

    return distribution_version() or __version__


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"sluice {installed_version()}")
        raise typer.Exit()


@app.callback()
def _options(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    log_level: LogLevelOpt = None,
    log_format: LogFormatOpt = None,
) -> None:
    # Options for every command; `--version` answers in its callback, before any command
    # module loads what it needs (it imports neither the engine nor Pydantic).
    set_up_logging(log_level, log_format)
    if ctx.invoked_subcommand not in startup.DEFERRED:
        startup.working()


app.command(cls=Command)(project.init)
app.command(cls=Command)(project.validate)
app.command(cls=Command)(project.schema)
app.command(cls=Command)(runs.run)
app.command(cls=Command)(runs.runs)
app.command(cls=Command)(runs.show)
app.command(cls=Command)(cancel.cancel)
app.command(cls=Command)(runs.preview)
app.command(cls=Command)(http.record)
app.command(cls=Command)(http.audit)
app.command(cls=Command)(prune.prune)
app.command(cls=Command)(sim.sim)
app.command(cls=Command)(serve.serve)
app.command(cls=Command)(worker.worker)
app.add_typer(quarantine.app, name="quarantine")


def main() -> None:
    allocators.tune()  # before anything imports Polars or PyArrow
    pydantic_plugins.skip()  # before the first Pydantic model is built
    # Off while the command's modules load (see sluice.cli.startup); what is loaded by
    # then lives for the whole process: freezing it keeps the GC from re-walking it.
    gc.disable()
    gc.freeze()
    code = 0
    try:
        app()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    # Every command has closed its connections and written its output by now; skipping
    # interpreter teardown (freeing Polars, Arrow and SQLAlchemy) saves ~0.4 s per call.
    for stream in (sys.stdout, sys.stderr):
        # A closed pipe (`sluice runs | head`): nothing left to say.
        with contextlib.suppress(OSError):
            stream.flush()
    os._exit(code)
