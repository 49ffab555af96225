"""Every hint names a command that works in its situation.

Two halves: every ``sluice ...`` command written in a message or hint anywhere in the
package names a real command with real options (read from the source, so a new hint
is checked the day it is written); and the hints of the situations no other test
follows are followed here, by running what they say.
"""

from __future__ import annotations

import ast
import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from sluice.cli.app import app
from tests.support.cli import sluice

PACKAGE = Path(__file__).parents[3] / "sluice"
#: the commands there are, and words a hint might wrongly use as one
COMMANDS = "|".join(
    [
        *("run", "runs", "show", "quarantine", "audit", "validate", "init", "schema", "serve"),
        *("worker", "cancel", "prune", "preview", "sim", "record"),
        *("replay", "logs", "log", "status", "list", "retry", "resume", "discard", "load"),
    ]
)
#: a command as written in a message: up to the closing backtick, Rich tag or clause end
NAMED = re.compile(rf"sluice (?:{COMMANDS})\b(?!:)[^`\[;:,()\n]*")


def _messages() -> list[tuple[str, str]]:
    """(file:line, text) of every string in the package that names a sluice command,
    docstrings left out; an f-string's fields read as ``X``."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "sim" in path.relative_to(PACKAGE).parts:
            continue
        docs: set[int] = set()
        strings: list[tuple[ast.AST, str]] = []
        for node in ast.walk(ast.parse(path.read_text())):  # one walk: collection time
            if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef):
                if node.body and isinstance(node.body[0], ast.Expr):
                    docs.add(id(node.body[0].value))
            elif isinstance(node, ast.JoinedStr):
                text = "".join(
                    str(v.value) if isinstance(v, ast.Constant) else "X" for v in node.values
                )
                strings.append((node, text))
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                strings.append((node, node.value))
        for node, text in strings:
            if id(node) in docs:
                continue
            for m in NAMED.finditer(text):
                where = f"{path.relative_to(PACKAGE.parent)}:{getattr(node, 'lineno', 0)}"
                found.append((where, m.group(0)))
    return found


MESSAGES = _messages()


def _resolve(words: list[str]) -> tuple[Any, list[str]]:
    """The (Click) command ``words`` name, and the words left for it. Typer carries
    its own copy of Click: groups are told by their ``commands``, not by class."""
    command: Any = typer.main.get_command(app)
    rest = words[1:]
    while hasattr(command, "commands") and rest and rest[0] in command.commands:
        command, rest = command.commands[rest[0]], rest[1:]
    return command, rest


def test_the_package_names_commands_in_its_messages() -> None:
    # The scan itself works: it finds the hints this module follows below.
    texts = {t for _, t in MESSAGES}
    assert len(MESSAGES) > 40
    assert any(t.startswith("sluice quarantine list --status superseded") for t in texts)
    assert any(t.startswith("sluice init DIR") for t in texts)


@pytest.mark.parametrize(("where", "text"), MESSAGES, ids=[w for w, _ in MESSAGES])
def test_a_command_named_in_a_message_exists_with_its_options(where: str, text: str) -> None:
    words = shlex.split(text.strip().rstrip(".:").replace("X", "x"))
    command, rest = _resolve(words)
    assert not hasattr(command, "commands"), f"{where}: no command {text!r}"
    if words[1] == "quarantine":
        assert command.name != "quarantine", f"{where}: {text!r} names no quarantine command"
    known = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
    for word in rest:
        option = word.split("=", 1)[0]
        if option.startswith("-"):
            assert option in known, f"{where}: {text!r}: {command.name} has no {option}"
    status = re.search(r"--status (\w+)", text)
    if status and status.group(1) != "x":  # a value Click takes (not a usage error)
        path = words[1 : len(words) - len(rest)]
        out = CliRunner().invoke(app, [*path, "--status", status.group(1), "-p", "/nowhere"])
        assert "no project file" in out.output, f"{where}: {text!r}: {out.output}"


# --------------------------------------------------------------------------- followed


def named(text: str) -> list[list[str]]:
    """The commands a hint names, between backticks, as argument lists."""
    return [shlex.split(c)[1:] for c in re.findall(r"`(sluice [^`]+)`", text)]


def test_the_superseded_notice_names_a_listing_that_shows_them(leads: Path) -> None:
    # The tour's drifted file is set aside; once drift: evolve takes it, the same file
    # loaded again supersedes its entry, and the run's log says where to see it.
    first = json.loads(sluice("run", "leads", "-p", str(leads), "--json").stdout)
    (aside,) = first["streams"]["source2"]["quarantined_files"]
    text = (leads / "sluice.yaml").read_text()
    fixed = "path: data/source2/*.csv\n        drift: evolve"
    (leads / "sluice.yaml").write_text(text.replace("path: data/source2/*.csv", fixed))
    again = sluice("run", "leads", "-p", str(leads), "--full-refresh", "--json")
    run_id = json.loads(again.stdout)["run_id"]
    log = json.loads(sluice("show", run_id, "-p", str(leads), "--json").stdout)["log"]
    said = [e["message"] for e in log if "superseded" in e["message"]]
    assert said, log
    (command,) = named(said[0])
    assert command == ["quarantine", "list", "--status", "superseded"]
    out = sluice(*command, "-p", str(leads), "--json")
    assert out.returncode == 0, out.stderr
    listed = json.loads(out.stdout)
    assert listed and all(e["status"] == "superseded" for e in listed)
    assert any(e["unit"] == aside["file"] for e in listed)
    assert {e["superseded_by"] for e in listed} == {run_id}


def test_no_project_names_init_and_init_makes_one_that_validates(tmp_path: Path) -> None:
    out = sluice("validate", "-p", str(tmp_path / "nowhere"))
    assert out.returncode == 2
    assert "`sluice init DIR`" in out.stderr, out.stderr
    made = sluice("init", str(tmp_path / "fresh"))
    assert made.returncode == 0, made.stdout + made.stderr
    checked = sluice("validate", "-p", str(tmp_path / "fresh"))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_an_unknown_key_names_schema_and_schema_lists_the_key(leads: Path) -> None:
    text = (leads / "sluice.yaml").read_text()
    (leads / "sluice.yaml").write_text(text + "\nretension: 30d\n")  # a typo of retention
    out = sluice("validate", "-p", str(leads))
    assert out.returncode == 2 and "`sluice schema`" in out.stderr, out.stderr
    schema = sluice("schema")
    assert schema.returncode == 0
    assert "retention" in json.loads(schema.stdout)["properties"]


def test_an_unknown_run_names_a_listing_that_shows_the_runs(leads: Path) -> None:
    ran = json.loads(sluice("run", "leads", "-p", str(leads), "--json").stdout)["run_id"]
    out = sluice("show", "20991231", "-p", str(leads))
    assert out.returncode == 2, out.stdout + out.stderr
    (command,) = named(out.stderr)
    listed = sluice(*command, "-p", str(leads))
    assert listed.returncode == 0 and ran in listed.stdout
