"""The README cannot drift from the code: commands, type table and public surface."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer.main
from sqlalchemy.dialects import postgresql, sqlite

import sluice
from sluice.cli.app import app
from sluice.sqltypes import SA_TYPES, sql_type

README = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")


def _commands(group: Any, prefix: str = "sluice") -> list[str]:
    out = []
    for name, cmd in group.commands.items():
        full = f"{prefix} {name}"
        if hasattr(cmd, "commands"):  # a command group
            out += _commands(cmd, full)
        else:
            out.append(full)
    return out


def test_every_cli_command_is_documented_with_an_example() -> None:
    commands = _commands(typer.main.get_group(app))
    assert len(commands) >= 11
    for command in commands:
        assert f"`{command}" in README, f"{command} is not in the README's command table"
        row = next(line for line in README.splitlines() if line.startswith(f"| `{command}"))
        example = row.rsplit("|", 2)[-2]
        assert command in example, f"{command} has no example in the README"


def test_readme_type_table_matches_the_dialects() -> None:
    import duckdb
    import duckdb_engine
    from sqlalchemy.dialects import mysql

    from sluice.destinations.mysql import MYSQL_TYPES

    def same(cell: str, created: str) -> bool:
        return cell.replace(" ", "").upper().startswith(created.replace(" ", "").upper())

    ddb = duckdb.connect()
    for type_ in SA_TYPES:
        row = next(line for line in README.splitlines() if line.startswith(f"| `{type_}` |"))
        _, _name, lite, pg, my, duck, _ = (c.strip() for c in row.split("|"))
        assert lite.startswith(sql_type(type_, sqlite.dialect())), row
        assert pg.startswith(sql_type(type_, postgresql.dialect())), row
        my_type = MYSQL_TYPES.get(type_, mysql.LONGTEXT())
        assert same(my, my_type.compile(dialect=mysql.dialect())), row
        # DuckDB names some types its own way (TEXT is VARCHAR): ask it.
        ddb.execute(f"CREATE TABLE t_{type_} (c {sql_type(type_, duckdb_engine.Dialect())})")
        (created,) = ddb.execute(
            f"SELECT data_type FROM information_schema.columns WHERE table_name = 't_{type_}'"
        ).fetchone() or ("?",)
        assert same(duck, created), (row, created)


def test_public_surface_is_small_and_sorted() -> None:
    assert sluice.__all__ == sorted(sluice.__all__)
    for name in sluice.__all__:
        assert hasattr(sluice, name), name
    assert re.match(r"^\d+\.\d+\.\d+$", sluice.__version__)


def test_state_store_head_matches_the_migrations() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from sluice.state import store

    cfg = Config()
    cfg.set_main_option("script_location", str(store.MIGRATIONS))
    assert ScriptDirectory.from_config(cfg).get_current_head() == store.HEAD
