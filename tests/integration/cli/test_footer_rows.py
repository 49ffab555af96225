"""A spreadsheet's footer (its totals row, a note), quarantined with a reason, then
closed by each of the commands the reason names. Both were loaded as data: the
table's sum doubled, and the note was a supplier."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from contextlib import closing
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.support.cli import sluice

PROJECT = """\
warehouse: sqlite:///w.db
pipelines:
  spend:
    sources:
      ledger:
        type: file
        path: data/*.csv
    table:
      name: payments
      columns:
        supplier: {type: string, required: true}
        amount: decimal
        paid_on: date
"""
# What a council publishes monthly: payments, a blank row, the totals, a note (padded
# to the header's width, as a spreadsheet saves every row).
JANUARY = (
    b"Supplier,Amount,Paid On\r\n"
    b"Acme Ltd,120.50,2024-01-05\r\n"
    b'"Smith, J",993.00,2024-01-06\r\n'
    b"Total Gas & Power,1000.00,2024-01-07\r\n"
    b",,\r\n"
    b"Total,2113.50,\r\n"
    b"Source: Finance department,,\r\n"
)
# ... and a month whose note is a line of its own (the parser cannot split it)
FEBRUARY = (
    b"Supplier,Amount,Paid On\nAcme Ltd,10.00,2024-02-05\nTotal,10.00,\n"
    b"Source: Finance department\n"
)


def setup(root: Path) -> None:
    (root / "data").mkdir()
    (root / "data" / "2024-01.csv").write_bytes(JANUARY)
    (root / "sluice.yaml").write_text(PROJECT)


def entries(root: Path) -> list[dict[str, Any]]:
    out = sluice("quarantine", "list", "-p", str(root), "--json", "--status", "all")
    assert out.returncode == 0, out.stderr
    listed: list[dict[str, Any]] = json.loads(out.stdout)
    return listed


def rows(root: Path) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(root / "w.db")) as conn:
        return conn.execute("SELECT supplier, amount FROM payments ORDER BY supplier").fetchall()


def with_footer(root: Path, policy: str) -> None:
    yaml = (root / "sluice.yaml").read_text()
    # the setting as the reason names it, on the source it names
    setting = f"        csv: {{footer: {policy}}}\n"
    (root / "sluice.yaml").write_text(yaml.replace("*.csv\n", "*.csv\n" + setting))


def run(root: Path, expect: int) -> dict[str, Any]:
    out = sluice("run", "spend", "-p", str(root), "--json")
    assert out.returncode == expect, out.stdout + out.stderr
    report: dict[str, Any] = json.loads(out.stdout)
    return report


def test_the_footer_is_quarantined_and_the_data_loads_as_python_reads_it(
    tmp_path: Path,
) -> None:
    setup(tmp_path)
    report = run(tmp_path, 3)
    totals, note = entries(tmp_path)
    assert (totals["line"], totals["payload"]["Supplier"], totals["status"]) == (6, "Total", "open")
    assert totals["reasons"][0].startswith(
        "a totals row at the end of the file ('Total' in 'Supplier'), not data:"
    )
    assert note["line"] == 7
    assert note["reasons"][0].startswith(
        "a note at the end of the file ('Source: Finance department'), not data:"
    )
    python = list(csv.reader(io.StringIO(JANUARY.decode(), newline="")))
    data = [(r[0], float(r[1])) for r in python[1:4]]
    assert sorted(data) == [(s, float(a)) for s, a in rows(tmp_path)]
    assert sum(Decimal(str(a)) for _, a in rows(tmp_path)) == Decimal("2113.5")
    counts = report["streams"]["ledger"]
    assert (counts["read"], counts["loaded"], counts["quarantined"]) == (6, 3, 2)
    assert counts["filtered_by"] == {"blank_row": 1}


def test_discard_as_the_reason_says(tmp_path: Path) -> None:
    setup(tmp_path)
    run(tmp_path, 3)
    for entry in entries(tmp_path):
        command = entry["reasons"][0].split("not data: `")[1].split("`")[0]
        assert command == "sluice quarantine discard ID"
        args = command.replace("ID", str(entry["id"])).split()[1:]
        out = sluice(*args, "-p", str(tmp_path))
        assert out.returncode == 0, out.stdout + out.stderr
    assert [e["status"] for e in entries(tmp_path)] == ["discarded"] * 2
    assert len(rows(tmp_path)) == 3


def test_filtered_on_replay_and_in_later_files_once_the_source_says_so(tmp_path: Path) -> None:
    setup(tmp_path)
    run(tmp_path, 3)
    with_footer(tmp_path, "filter")
    replayed = sluice("quarantine", "replay", "-p", str(tmp_path), "--json")
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    counts = json.loads(replayed.stdout)[0]["streams"]["ledger"]
    assert (counts["read"], counts["loaded"], counts["filtered_by"]) == (2, 0, {"footer": 2})
    assert [e["status"] for e in entries(tmp_path)] == ["replayed"] * 2
    (tmp_path / "data" / "2024-02.csv").write_bytes(FEBRUARY)
    report = run(tmp_path, 0)
    counts = report["streams"]["ledger"]
    assert (counts["read"], counts["loaded"], counts["quarantined"]) == (3, 1, 0)
    assert counts["filtered_by"] == {"footer": 2}
    assert "Total" not in [s for s, _ in rows(tmp_path)]


def test_loaded_on_replay_when_the_source_says_it_is_data(tmp_path: Path) -> None:
    setup(tmp_path)
    run(tmp_path, 3)
    # a replay with the default policy leaves it where it is, reason and all
    again = sluice("quarantine", "replay", "-p", str(tmp_path), "--json")
    assert again.returncode == 3, again.stdout + again.stderr
    entry, note = entries(tmp_path)
    assert entry["status"] == note["status"] == "open"
    assert entry["reasons"][0].startswith("a totals row")
    load = entry["reasons"][0].split("if it is data, set ")[1].split(" on source")[0]
    with_footer(tmp_path, load.split(": ")[1])
    replayed = sluice("quarantine", "replay", "-p", str(tmp_path), "--json")
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert {("Total", 2113.5), ("Source: Finance department", None)} <= set(rows(tmp_path))
    assert [e["status"] for e in entries(tmp_path)] == ["replayed"] * 2


def test_a_note_on_a_line_of_its_own_is_discarded_as_its_reason_says(tmp_path: Path) -> None:
    setup(tmp_path)
    (tmp_path / "data" / "2024-01.csv").write_bytes(FEBRUARY)
    run(tmp_path, 3)
    totals, note = entries(tmp_path)
    assert note["payload"] == {"_raw": "Source: Finance department"}
    assert note["reasons"][0].startswith("a note at the end of the file")
    for entry in (totals, note):
        command = entry["reasons"][0].split("not data: `")[1].split("`")[0]
        args = command.replace("ID", str(entry["id"])).split()[1:]
        assert sluice(*args, "-p", str(tmp_path)).returncode == 0
    assert [e["status"] for e in entries(tmp_path)] == ["discarded"] * 2
    assert rows(tmp_path) == [("Acme Ltd", 10.0)]


# The same payments as a report grouped by supplier (a spreadsheet's Subtotal command):
# each supplier's subtotal under its rows, then the grand total.
GROUPED = (
    b"Supplier,Amount,Paid On\r\n"
    b"Acme Ltd,120.50,2024-01-05\r\n"
    b"Acme Ltd,79.50,2024-01-20\r\n"
    b"Acme Ltd Total,200.00,\r\n"
    b'"Smith, J",993.00,2024-01-06\r\n'
    b'"Smith, J Total",993.00,\r\n'
    b"Grand Total,1193.00,\r\n"
)


def test_a_grouped_reports_subtotals_are_quarantined_then_filtered_on_replay(
    tmp_path: Path,
) -> None:
    setup(tmp_path)
    (tmp_path / "data" / "2024-01.csv").write_bytes(GROUPED)
    report = run(tmp_path, 3)
    acme, smith, grand = entries(tmp_path)
    assert (acme["line"], smith["line"], grand["line"]) == (4, 6, 7)
    assert acme["reasons"][0].startswith(
        "a subtotal row of the group above it ('Acme Ltd Total' in 'Supplier'), not data:"
    )
    assert grand["reasons"][0].startswith("a totals row at the end of the file")
    # the table holds the payments alone: its sum is the report's grand total
    assert sum(Decimal(str(a)) for _, a in rows(tmp_path)) == Decimal("1193")
    counts = report["streams"]["ledger"]
    assert (counts["read"], counts["loaded"], counts["quarantined"]) == (6, 3, 3)
    # the setting the reason names, then the command it names
    setting = acme["reasons"][0].split("; ")[1].split(" filters it")[0]
    assert setting == "csv.footer: filter on source 'ledger'"
    with_footer(tmp_path, "filter")
    replayed = sluice("quarantine", "replay", "-p", str(tmp_path), "--json")
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    counts = json.loads(replayed.stdout)[0]["streams"]["ledger"]
    assert (counts["read"], counts["loaded"], counts["filtered_by"]) == (3, 0, {"footer": 3})
    assert len(rows(tmp_path)) == 3


def test_subtotals_by_another_function_are_quarantined_as_the_sums_are(tmp_path: Path) -> None:
    # Excel's Subtotal command by Count, then by Max without replacing the first: each
    # supplier's count and largest payment under its rows, then the grand ones. Each
    # loaded as a payment of 2 or 120.50, without a word.
    setup(tmp_path)
    report_rows = (
        b"Supplier,Amount,Paid On\r\n"
        b"Acme Ltd,120.50,2024-01-05\r\n"
        b"Acme Ltd,79.50,2024-01-20\r\n"
        b"Acme Ltd Max,120.50,\r\n"
        b"Acme Ltd Count,2,\r\n"
        b'"Smith, J",993.00,2024-01-06\r\n'
        b'"Smith, J Max",993.00,\r\n'
        b'"Smith, J Count",1,\r\n'
        b"Grand Max,993.00,\r\n"
        b"Grand Count,3,\r\n"
    )
    (tmp_path / "data" / "2024-01.csv").write_bytes(report_rows)
    run(tmp_path, 3)
    assert [e["line"] for e in entries(tmp_path)] == [4, 5, 7, 8, 9, 10]
    assert sum(Decimal(str(a)) for _, a in rows(tmp_path)) == Decimal("1193")
