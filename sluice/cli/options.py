"""Options several commands share."""

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
