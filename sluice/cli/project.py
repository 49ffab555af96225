"""``sluice init``, ``validate`` and ``schema``: create and check project files."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import Annotated

import typer

from sluice.cli.errors import handle_errors
from sluice.cli.options import ProjectOpt
from sluice.cli.terminal import console, printable, safe
from sluice.errors import UsageError

TEMPLATE = Path(__file__).parent / "templates" / "sluice.yaml"
SAMPLE = Path(__file__).parent / "templates" / "contacts.csv"


@handle_errors
def init(
    directory: Annotated[Path, typer.Argument(help="folder for the new project")] = Path("."),
    force: Annotated[
        bool, typer.Option("--force", help="overwrite an existing sluice.yaml")
    ] = False,
) -> None:
    """Create a project: a commented sluice.yaml, its JSON Schema for editors
    (sluice.schema.json) and a sample CSV to load.

    sluice init my-project && cd my-project && sluice run contacts
    """
    from sluice.config import PROJECT_FILE, SCHEMA_FILE

    target = directory / PROJECT_FILE
    if target.exists() and not force:
        raise UsageError(f"{target} already exists", hint="pass --force to overwrite it")
    (directory / "data").mkdir(parents=True, exist_ok=True)
    target.write_text(TEMPLATE.read_text(encoding="utf-8"), encoding="utf-8")
    # The template's first line points editors at this file (yaml-language-server).
    schema_file = directory / SCHEMA_FILE
    _write_schema(schema_file)
    sample = directory / "data" / "contacts.csv"
    if not sample.exists():
        sample.write_text(SAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    console().print(f"created {target}, {schema_file} and {sample}")
    here = directory.resolve() == Path.cwd().resolve()
    steps = "sluice validate && sluice run contacts"
    # A command to paste: no `cd .`, and a folder with spaces quoted.
    where = "" if here else f"cd {shlex.quote(str(directory))} && "
    console().print(f"next: [b]{safe(where + steps)}[/]", soft_wrap=True)


@handle_errors
def validate(project: ProjectOpt = ".") -> None:
    """Check a project file: every problem with its file, line and key.

    sluice validate --project examples/leads
    """
    from sluice.config import load_project
    from sluice.engine.inspect.check import check_project

    proj = load_project(project)
    check_project(proj)
    names = ", ".join(proj.pipelines) or "none"
    # One line, through Typer: Rich (~15 ms of this command's start-up, often run in
    # CI and pre-commit hooks) is imported only when something goes wrong.
    color = False if os.environ.get("NO_COLOR") else None  # None: only on a terminal
    typer.secho("ok", fg="green", nl=False, color=color)
    typer.echo(
        printable(f": {proj.file} ({len(proj.pipelines)} pipeline(s): {names})", lines=False)
    )


@handle_errors
def schema(
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="write it to this file (e.g. sluice.schema.json) instead of printing it",
        ),
    ] = None,
) -> None:
    """Print the JSON Schema of sluice.yaml (draft 2020-12, for editors and CI checks).

    sluice schema --output sluice.schema.json
    """
    if output is None:
        from sluice.config import json_schema

        print(_schema_text(json_schema()), end="")
        return
    _write_schema(output)
    console().print(f"wrote {safe(output)}")


def _schema_text(schema: dict[str, object]) -> str:
    return json.dumps(schema, indent=2) + "\n"


def _write_schema(path: Path) -> None:
    """The installed version's schema, as ``path`` (its folder made if need be)."""
    from sluice.config import json_schema

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_schema_text(json_schema()), encoding="utf-8")
    except OSError as exc:
        raise UsageError(
            f"cannot write {path}: {exc.strerror or exc}", hint="choose another --output path"
        ) from None
