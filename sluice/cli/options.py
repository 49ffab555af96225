"""Options several commands share."""

from enum import StrEnum
from typing import Annotated

import typer

ProjectOpt = Annotated[
    str,
    typer.Option(
        "--project",
        "-p",
        envvar="SLUICE_PROJECT",
        help="project folder (or its sluice.yaml); default: the current folder",
    ),
]


class Executor(StrEnum):
    local = "local"
    celery = "celery"


ExecutorOpt = Annotated[
    Executor | None,
    typer.Option(
        "--executor",
        help="local (this process) or celery (queued for `sluice worker`s); "
        "default: `executor:` in sluice.yaml",
    ),
]


class LogLevel(StrEnum):
    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


class LogFormat(StrEnum):
    text = "text"
    json = "json"


LogLevelOpt = Annotated[
    LogLevel | None,
    typer.Option(
        "--log-level",
        envvar="SLUICE_LOG_LEVEL",
        help="log to stderr at this level and up, the run log included "
        "(default: warning, and not the run log)",
    ),
]
LogFormatOpt = Annotated[
    LogFormat | None,
    typer.Option(
        "--log-format",
        envvar="SLUICE_LOG_FORMAT",
        help="text, or json: JSON Lines (run_id, pipeline, stream, event...)",
    ),
]


def set_up_logging(level: LogLevel | None, fmt: LogFormat | None) -> None:
    """The logger ``sluice`` to stderr; unless asked for, as Python prints a warning no
    handler takes (the message alone) and without the run log, as before either option."""
    from sluice import logs

    if level is None and fmt is None:
        logs.to_stderr("warning", "plain", run_log=False)
    else:
        logs.to_stderr((level or LogLevel.warning).value, (fmt or LogFormat.text).value)


class ProgressMode(StrEnum):
    """What ``sluice run`` shows while it goes (see :mod:`sluice.cli.progress`)."""

    auto = "auto"
    live = "live"
    lines = "lines"
    json = "json"
    none = "none"
