"""What the CLI prints from input cannot drive the operator's terminal: control
characters and bidi overrides in file names, column names, reasons and errors are
shown escaped (``\\x1b``, ``\\u202e``), and Rich markup in them prints literally."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from sluice.testing import processes

EVIL = "evil\x1b[2J\x1b]8;;x\x07.csv"  # clear the screen, start a forged link
MARKUP = "[bold red]x[link=x]y.csv"  # tags a name can hold (no /)
BIDI = "invoice\u202evsc.exe.csv"
CRBS = "back\bspace\rover.csv"
COLUMN = "extra\x1b[31m\u2066"

PROJECT = """
pipelines:
  p:
    sources:
      s:
        type: file
        path: drop/*.csv
    table:
      name: events
      columns:
        id: {type: integer, required: true}
        kind: string
"""

#: escape sequences and controls that must never reach the terminal raw
RAW = ["\x1b", "\x07", "\x08", "\r", "\u202e", "\u2066", "\x9b"]


def sluice(*args: str) -> tuple[int, str, str]:
    """The real CLI in a subprocess; stdout and stderr decoded strictly as UTF-8."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    out = processes.run(
        [sys.executable, "-m", "sluice", *args],
        capture_output=True,
        timeout=120,
        env={**base, "COLUMNS": "400", "NO_COLOR": "1"},
    )
    return out.returncode, out.stdout.decode("utf-8"), out.stderr.decode("utf-8")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "drop").mkdir(parents=True)
    (root / "sluice.yaml").write_text(PROJECT)
    drop = root / "drop"
    (drop / "good.csv").write_text("id,kind\n1,a\n")
    # each does not fit the table: set aside, its name and reason in the summary
    (drop / EVIL).write_text(f"id,kind,{COLUMN}\n2,b,c\n")
    (drop / MARKUP).write_text("id,kind,[bold]c[/bold]\n3,b,c\n")
    (drop / CRBS).write_text("id,kind,more\n4,b,c\n")
    outside = tmp_path / "outside.csv"
    outside.write_text("id,kind\n5,secret\n")
    os.symlink(outside, drop / BIDI)  # refused: a warning naming it
    return root


def assert_safe(text: str) -> None:
    for ch in RAW:
        assert ch not in text, f"{ch!r} reached the terminal"


def test_run_output_escapes_names_columns_and_reasons(root: Path) -> None:
    code, out, err = sluice("run", "p", "-p", str(root))
    assert code == 3, out + err
    assert_safe(out)
    assert_safe(err)
    assert "evil\\x1b[2J\\x1b]8;;x\\x07.csv" in out
    assert "extra\\x1b[31m\\u2066" in out  # the unexpected column, in the drift reason
    assert "[bold red]x[link=x]y.csv" in out  # markup printed literally
    assert "[bold]c[/bold]" in out
    assert "back\\x08space\\x0dover.csv" in out  # Rich would drop \b and \r silently
    assert "invoice\\u202evsc.exe.csv is a symbolic link" in out

    # the same through the other commands that print input
    runs = json.loads(sluice("runs", "-p", str(root), "--json")[1])
    code, shown, err = sluice("show", runs[0]["run_id"], "-p", str(root))
    assert_safe(shown + err)
    assert "evil\\x1b[2J" in shown and "invoice\\u202evsc" in shown
    code, listed, err = sluice("quarantine", "list", "-p", str(root))
    assert_safe(listed + err)
    assert "evil\\x1b[2J" in listed and "[bold red]x[link=x]y.csv" in listed
    entries = json.loads(sluice("quarantine", "list", "-p", str(root), "--json")[1])
    evil = next(e for e in entries if e["unit"].startswith("drop/evil"))
    code, one, err = sluice("quarantine", "show", str(evil["id"]), "-p", str(root))
    assert_safe(one + err)
    assert "evil\\x1b[2J" in one


def test_error_messages_escape_what_they_quote(root: Path) -> None:
    missing = str(root / f"gone{EVIL}")
    code, out, err = sluice("run", "p", "-p", str(root), "--file", missing)
    assert code == 2
    assert_safe(out + err)
    assert "gone" in err and "evil\\x1b[2J\\x1b]8;;x\\x07.csv: no such file" in err


def test_the_operator_may_name_a_linked_file_with_file(root: Path, tmp_path: Path) -> None:
    """`--file PATH` is the operator's choice on the machine: a link is followed there
    (a link found in a source's folder is refused)."""
    link = root / "elsewhere.csv"
    os.symlink(tmp_path / "outside.csv", link)
    code, out, err = sluice("run", "p", "-p", str(root), "--file", str(link), "--json")
    assert code == 0, out + err
    report = json.loads(out)
    assert report["totals"]["loaded"] == 1
    assert report["streams"]["s"]["files"][0]["file"] == str(tmp_path / "outside.csv")
