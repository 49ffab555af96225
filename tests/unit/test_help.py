"""`--help` of every command: flags without a type, what sluice loads today, completion."""

from __future__ import annotations

from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from sluice.cli.app import app


def _paths(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [prefix]
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):  # a command group
            out += _paths(cmd, (*prefix, name))
        else:
            out.append((*prefix, name))
    return out


PATHS = _paths(typer.main.get_group(app))


def _help(*path: str, columns: int = 100) -> str:
    env = {"COLUMNS": str(columns), "NO_COLOR": "1"}
    done = CliRunner().invoke(app, [*path, "--help"], env=env)
    assert done.exit_code == 0, done.output
    return done.output


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "sluice")
def test_flags_show_no_type(path: tuple[str, ...]) -> None:
    shown = _help(*path)
    assert "<bool>" not in shown and "BOOLEAN" not in shown, shown
    # A flag is on when given: no `--x/--no-x` pair for an option that defaults to off.
    assert "/--no-" not in shown, shown


def test_the_app_says_what_sluice_loads_and_offers_completion() -> None:
    shown = " ".join(_help().split())
    for database in ("SQLite", "PostgreSQL", "MySQL/MariaDB", "DuckDB"):
        assert database in shown
    assert "files and APIs" in shown
    assert "--install-completion" in shown
    assert "--show-completion" in shown


def test_a_summary_is_wrapped_by_the_terminal_not_by_the_docstring() -> None:
    # prune's docstring breaks its first sentence after "closed quarantine"
    wide = _help(columns=200)
    assert any("closed quarantine entries (replayed" in line for line in wide.splitlines())
