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
