"""The one place that turns errors into a message on stderr and an exit code."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from sluice.cli.terminal import console, safe
from sluice.errors import ConfigError, ErrorRecord, ProjectInvalid, SluiceError, Where

if TYPE_CHECKING:  # the engine is imported by the commands that run one
    from sluice.cli.safeconsole import SafeConsole
    from sluice.engine.report import RunReport

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_QUARANTINED = 0, 1, 2, 3


def err_console() -> SafeConsole:
    return console(stderr=True, soft_wrap=True)


def report_error(exc: SluiceError) -> None:
    if isinstance(exc, ProjectInvalid):
        err_console().print(f"[red]error:[/] {len(exc.problems)} problem(s) in the project file")
        for p in exc.problems:
            err_console().print("  " + safe(str(p)))
    else:
        err_console().print("[red]error:[/] " + safe(str(exc)))
    if exc.hint:
        err_console().print("  [dim]hint:[/] " + safe(exc.hint))


def _names(cls: type[Exception]) -> set[str]:
    out = {cls.__name__}
    for sub in cls.__subclasses__():
        out |= _names(sub)
    return out


def config_errors(errors: Iterable[ErrorRecord]) -> list[ErrorRecord]:
    """The errors of a run report that are the user's configuration or command line
    (found only once the run started: a malformed URL, a format sluice cannot tell)."""
    names = _names(ConfigError)
    return [e for e in errors if e["type"] in names]


def report_config_errors(report: RunReport, command: str) -> None:
    """Config errors of a run on stderr, as :func:`report_error` prints raised ones."""
    for e in config_errors(report.errors):
        where = str(Where(**e.get("where", {})))
        err_console().print(
            "[red]error:[/] " + safe((f"{where}: " if where else "") + e["message"])
        )
        if e.get("hint"):
            err_console().print("  [dim]hint:[/] " + safe(e["hint"]))
    err_console().print(f"[dim]run {report.run_id} failed on it; once fixed: {safe(command)}[/]")


def handle_errors(fn: F) -> F:
    """Wrap a command: a SluiceError becomes one message and its exit code, no traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SluiceError as exc:
            report_error(exc)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err_console().print(
                "[yellow]interrupted[/]: nothing was committed for the load in progress"
            )
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]
