"""A CSV file's footer, its totals row and notes: found at the end of the file, and
only there.

Exports of spreadsheets, ledgers and published reports end with a row that sums the
data (`Total,,1113.50`) and notes (`Source: Finance department,,,`). Each was read,
validated and loaded as one more row: the sum of the amount column doubled, silently,
and the note loaded as a supplier.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import polars as pl
import pytest

from sluice.batch import LINE
from sluice.config import FileSourceConfig
from sluice.sources import create_source
from sluice.sources.csv_footer import LOOKED_AT, label

# A council's spending over 500 pounds, as its spreadsheet saves it: CRLF, a quoted
# supplier with a comma, a blank row, then the totals, then a note on one field.
SPENDING = (
    b"Supplier,Department,Amount,Paid On\r\n"
    b"Acme Ltd,Parks,120.50,2024-01-05\r\n"  # 2
    b'"Smith, J",Roads,993.00,2024-01-06\r\n'  # 3
    b"Total Gas & Power,Libraries,1000.00,2024-01-07\r\n"  # 4: a supplier, not a label
    b",,,\r\n"  # 5
    b"Total,,2113.50,\r\n"  # 6
)


def batches_of(path: Path, **options: object) -> list[tuple[pl.DataFrame, dict[int, str]]]:
    cfg = FileSourceConfig.model_validate({"path": path.name, **options})
    (unit,) = create_source("spend", cfg, path.parent).units()
    return [(b.data, b.footer) for b in unit.open().batches()]


def test_the_totals_row_at_the_end_is_marked_with_its_reason(tmp_path: Path) -> None:
    (tmp_path / "spend.csv").write_bytes(SPENDING)
    ((data, footer),) = batches_of(tmp_path / "spend.csv")
    assert footer == {
        6: "a totals row at the end of the file ('Total' in 'Supplier'), not data: "
        "`sluice quarantine discard ID` drops it; csv.footer: filter on source 'spend' "
        "filters it on `sluice quarantine replay` (and later files' totals rows and notes, "
        "counted as filtered); if it is data, set csv.footer: load on source 'spend', then "
        "`sluice quarantine replay`"
    }
    # every row is read as Python's csv reads it: the mark only says which is the totals
    python = list(csv.reader(io.StringIO(SPENDING.decode(), newline="")))
    assert data.get_column("Supplier").to_list() == [r[0] or None for r in python[1:]]
    assert data.get_column(LINE).to_list() == [2, 3, 4, 5, 6]


@pytest.mark.parametrize(
    "footer",
    [
        b"TOTAL,,2113.50,\n",
        b"Grand Total:,,2113.50,\n",
        b",Totals,2113.50,\n",  # labelled in its first non-empty field
        b"Sub-total,,1113.50,\nTotal,,2113.50,\n",  # both
        b"Total,,2113.50,\n,,,\n\n",  # blank rows and an empty line after it
        b"Total,,2113.50,\nSource: the council's ledger\n",  # a note the parser rejects
        b"  total  ,,2113.50,\n",
    ],
)
def test_totals_rows_as_exports_write_them(tmp_path: Path, footer: bytes) -> None:
    body = b"Supplier,Department,Amount,Paid On\nAcme Ltd,Parks,120.50,2024-01-05\n"
    (tmp_path / "spend.csv").write_bytes(body + footer)
    marked = {line for _, found in batches_of(tmp_path / "spend.csv") for line in found}
    labelled = {
        n
        for n, line in enumerate(footer.decode().splitlines(), start=3)
        if "otal" in line.lower() or line.startswith("Source")
    }
    assert marked == labelled


@pytest.mark.parametrize(
    "rows",
    [
        # a category "Total" in a statistics table, above the last row
        b"Age group,Persons\nTotal,579\n0-4,123\n5-9,456\n",
        # a supplier whose name starts with the word
        b"Supplier,Amount\nAcme,1\nTotal Gas & Power,2\n",
        # the label in a later field, with data before it
        b"Supplier,Amount,Note\nAcme,1,total\n",
        b"Supplier,Amount\nSumma Ltd,1\n",
        # a supplier's row with one field filled, however it is named
        b"Supplier,Amount\nAcme,1\nSourcing Ltd,\n",
        b"Supplier,Amount\nAcme,1\nNotes Ltd,5\n",
        # a note above the last data row
        b"Supplier,Amount\nSource: ledger,\nAcme,1\n",
    ],
)
def test_rows_that_are_data_are_not_marked(tmp_path: Path, rows: bytes) -> None:
    (tmp_path / "spend.csv").write_bytes(rows)
    assert all(footer == {} for _, footer in batches_of(tmp_path / "spend.csv"))


def test_only_the_files_last_batch_is_looked_at(tmp_path: Path) -> None:
    # Many batches: a "Total" row in the first is a category, the last row is the totals.
    lines = [b"kind,amount"] + [b"Total,1"] + [b"x,%d" % i for i in range(20_000)]
    (tmp_path / "big.csv").write_bytes(b"\n".join([*lines, b"Total,20001", b""]))
    read = batches_of(tmp_path / "big.csv", batch_bytes=16_384)
    assert len(read) > 5
    assert [list(found) for _, found in read if found] == [[20_003]]


@pytest.mark.parametrize(
    ("footer", "notes"),
    [
        # as a spreadsheet pads them to the header's width: no ragged row to reject
        (b"Total,,2113.50,\n,,,\nSource: Finance department,,,\n", {3, 5}),
        (
            "Notes:,,,\n* provisional,,,\n\u00a9 Crown copyright 2024,,,\n".encode(),
            {3, 4, 5},
        ),
        (b",,,\nSource: ONS,,,\n", {4}),
        (b"Figures may not sum due to rounding,,,\n", {3}),
    ],
)
def test_notes_under_the_data_are_the_footer_too(
    tmp_path: Path, footer: bytes, notes: set[int]
) -> None:
    body = b"Supplier,Department,Amount,Paid On\nAcme Ltd,Parks,120.50,2024-01-05\n"
    (tmp_path / "spend.csv").write_bytes(body + footer)
    ((_, marked),) = batches_of(tmp_path / "spend.csv")
    assert set(marked) == notes
    assert all(
        r.startswith(("a note at the end", "a totals row at the end")) for r in marked.values()
    )


def test_a_source_that_loads_its_footer_marks_none(tmp_path: Path) -> None:
    (tmp_path / "spend.csv").write_bytes(SPENDING)
    read = batches_of(tmp_path / "spend.csv", csv={"footer": "load"})
    assert [found for _, found in read] == [{}]


def test_labels_are_compared_as_people_write_them() -> None:
    assert {label(v) for v in ["Total:", " GRAND  TOTAL ", "Sub_Total", "sub-total"]} == {
        "total",
        "grand total",
        "sub total",
    }


def test_a_sheet_ending_in_more_empty_rows_than_are_looked_at_marks_none(
    tmp_path: Path,
) -> None:
    empty = b",\n" * (LOOKED_AT + 1)
    (tmp_path / "sheet.csv").write_bytes(b"kind,amount\nx,1\nTotal,1\n" + empty)
    assert all(footer == {} for _, footer in batches_of(tmp_path / "sheet.csv"))


def test_a_note_on_a_line_of_its_own_is_a_rejected_row_named_as_a_note(tmp_path: Path) -> None:
    # Not padded to the header's width: the parser rejects it; its reason says what it is.
    body = b"Supplier,Amount\nAcme,1\nTotal,1\n"
    notes = b'Source: Finance department\n"Notes: provisional, 2024"\nAcme,2,x\n'
    (tmp_path / "spend.csv").write_bytes(body + notes)
    cfg = FileSourceConfig.model_validate({"path": "spend.csv"})
    (unit,) = create_source("spend", cfg, tmp_path).units()
    batches = list(unit.open().batches())
    rejects = {r.line: r.reason for b in batches for r in b.rejects}
    marked = {line for b in batches for line in b.footer}
    assert marked == {3, 4, 5}
    assert rejects[4].startswith("a note at the end of the file ('Source: Finance department')")
    assert rejects[5].startswith("a note at the end of the file ('Notes: provisional, 2024')")
    assert "`sluice quarantine discard ID` drops it" in rejects[4]
    assert "replay" not in rejects[4]  # a line kept as text is not read again on replay
    assert rejects[6] == "row has 3 fields, the header has 2"  # no note: a broken row


# A spreadsheet's Subtotal command (at each change in Department, sum Amount), saved as
# CSV: each group's subtotal under its rows, the label in the group's column, the other
# columns empty; the grand total at the end.
GROUPED = (
    b"Paid On,Department,Supplier,Amount\r\n"
    b"2024-01-05,Parks,Acme Ltd,120.50\r\n"  # 2
    b'2024-01-06,Parks,"Smith, J",993.00\r\n'  # 3
    b",Parks Total,,1113.50\r\n"  # 4
    b"2024-01-07,Roads,Total Gas & Power,1000.00\r\n"  # 5
    b",Roads Total,,1000.00\r\n"  # 6
    b",Grand Total,,2113.50\r\n"  # 7
)


def test_a_grouped_reports_subtotal_rows_are_marked_wherever_they_are(tmp_path: Path) -> None:
    (tmp_path / "spend.csv").write_bytes(GROUPED)
    ((data, footer),) = batches_of(tmp_path / "spend.csv")
    assert footer[4] == (
        "a subtotal row of the group above it ('Parks Total' in 'Department'), not data: "
        "`sluice quarantine discard ID` drops it; csv.footer: filter on source 'spend' "
        "filters it on `sluice quarantine replay` (and later files' totals rows and notes, "
        "counted as filtered); if it is data, set csv.footer: load on source 'spend', then "
        "`sluice quarantine replay`"
    )
    assert footer[6].startswith("a subtotal row of the group above it ('Roads Total'")
    assert footer[7].startswith("a totals row at the end of the file ('Grand Total'")
    assert set(footer) == {4, 6, 7}
    # read as Python's csv reads them: the marks only say which rows total the others
    python = list(csv.reader(io.StringIO(GROUPED.decode(), newline="")))
    assert data.get_column("Department").to_list() == [r[1] for r in python[1:]]


@pytest.mark.parametrize(
    ("rows", "marked"),
    [
        # a pivot table in compact form: the group named on its first row only
        (
            b"Region,Store,Sales\nNorth,A,1\n,B,2\nNorth Total,,3\nSouth,C,4\nSouth Total,,4\n",
            {4, 6},
        ),
        # nested: stores within regions, each level totalled in its own column
        (
            b"Region,Store,Sales\nNorth,A,1\nNorth,A,2\n,A Total,3\nNorth,B,4\n,B Total,4\n"
            b"North Total,,7\n",
            {4, 6, 7},
        ),
        # a ledger's subtotal, labelled as its first field
        (b"Account,Amount,Memo\n4000,10,rent\n4000,5,\nSubtotal,15,\n4100,1,fee\n", {4}),
        # LibreOffice's lower case, a "Subtotal" word, spaces around the label
        (
            b"Team,Points,Note\nRed,3,\nRed,4,\n  Red total  ,7,\nBlue,1,\nBlue Subtotal,1,\n",
            {4, 6},
        ),
        # sparse rows (many empty fields): the ends of their values are tested in Polars
        (b"Kind,Amount,Note\n" + b"Gas,1,\n" * 200 + b"Gas Total,200,\nOil,2,\n", {202}),
        # Excel's Subtotal command by another function than Sum: its word, and its
        # grand row at the end
        (
            b"Team,Points,Note\nRed,3,\nRed,4,\nRed Count,2,\nBlue,1,\nBlue Count,1,\n"
            b"Grand Count,3,\n",
            {4, 6, 7},
        ),
        (
            b"Team,Points,Note\nRed,3,\nRed,4,\nRed Average,3.5,\nBlue,1,\nBlue Max,1,\n"
            b"Blue Min,1,\nGreen,2,\nGreen StdDev,0,\n",
            {4, 6, 7, 9},
        ),
        (b"Kind,Amount,Note\n" + b"Gas,1,\n" * 200 + b"Gas Average,1,\nOil,2,\n", {202}),
    ],
)
def test_subtotal_rows_as_reports_write_them(tmp_path: Path, rows: bytes, marked: set[int]) -> None:
    (tmp_path / "report.csv").write_bytes(rows)
    found = {line: why for _, f in batches_of(tmp_path / "report.csv") for line, why in f.items()}
    assert set(found) == marked
    assert all(why.startswith(("a subtotal row", "a totals row")) for why in found.values())


@pytest.mark.parametrize(
    "rows",
    [
        # a "Total" category in a statistics table, no group above it of that name
        b"Area,Age group,Persons\nLeeds,0-4,123\nLeeds,Total,579\nYork,0-4,12\n",
        # the group's name and the word, but every field filled: a row of data
        b"Fund,Holding,Amount\nTotal,Bonds,1\nTotal,Bonds Total,2\n",
        # a value ending in the word under another value
        b"Supplier,Amount,Note\nAcme,1,\nPivotal,2,\nApex Total,,3\n",
        # the word under a group of that name in another column
        b"Kind,Name,Amount\nGas,Oil,1\nOil Total,,1\n",
        # a function's word after a value that is no group above it
        b"Team,Points,Note\nRed,3,\nBlue Count,1,\n",
        # a second function's word under a row that is no subtotal of that group
        b"Team,Points,Note\nRed,3,\nBlue,1,\nBlue Max,1,x\nBlue Min,1,\n",
    ],
)
def test_rows_that_only_look_like_subtotals_are_data(tmp_path: Path, rows: bytes) -> None:
    (tmp_path / "report.csv").write_bytes(rows + b"x,y,1\n")
    assert all(found == {} for _, found in batches_of(tmp_path / "report.csv"))


def test_a_subtotal_at_the_top_of_a_batch_closes_the_group_of_the_batch_before(
    tmp_path: Path,
) -> None:
    # Groups of 3,000 rows over batches of about 2,000; each group's first row alone
    # names it (compact form), so each subtotal's group is named in an earlier batch.
    lines = [b"Group,Item,Amount"]
    for g in range(8):
        lines += [b"G%d,i0,1" % g] + [b",i%d,1" % i for i in range(1, 3000)]
        lines.append(b"G%d Total,,3000" % g)
    (tmp_path / "big.csv").write_bytes(b"\n".join([*lines, b""]))
    read = batches_of(tmp_path / "big.csv", batch_bytes=16_384)
    assert all(data.height < 3000 for data, _ in read)
    found = {line for _, f in read for line in f}
    assert found == {2 + 3001 * g + 3000 for g in range(8)}


def test_a_source_that_loads_its_footer_loads_its_subtotals(tmp_path: Path) -> None:
    (tmp_path / "spend.csv").write_bytes(GROUPED)
    read = batches_of(tmp_path / "spend.csv", csv={"footer": "load"})
    assert [found for _, found in read] == [{}]


def test_an_empty_string_is_an_empty_field_where_it_is_not_null(tmp_path: Path) -> None:
    (tmp_path / "spend.csv").write_bytes(GROUPED)
    ((data, footer),) = batches_of(tmp_path / "spend.csv", csv={"null_values": ["NA"]})
    assert data.get_column("Supplier").to_list()[2] == ""
    assert set(footer) == {4, 6, 7}
