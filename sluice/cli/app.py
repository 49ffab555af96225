"""The ``sluice`` command: one Typer app, one file per command group."""

from __future__ import annotations

import typer

from sluice.cli import project, quarantine, runs

app = typer.Typer(
    name="sluice",
    help="Declarative ETL: files into SQLite or PostgreSQL, with every row accounted for.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command()(project.init)
app.command()(project.validate)
app.command()(project.schema)
app.command()(runs.run)
app.command()(runs.runs)
app.command()(runs.show)
app.command()(runs.preview)
app.add_typer(quarantine.app, name="quarantine")


def main() -> None:
    app()
