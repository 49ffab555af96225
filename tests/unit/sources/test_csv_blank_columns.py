"""Columns a spreadsheet saved empty: blank header cells over an empty first row.

Excel, LibreOffice and Google Sheets write the cells of columns that were formatted but
never filled (`Dept,Amount,,,` over `Parks,120.50,,,`). Such a file was set aside as
drifted ("found but not mapped: 'column_4'") under the default policy, and under
`drift: evolve` gave the table a `column_4`.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sluice.batch import LINE, Reject
from sluice.config import FileSourceConfig
from sluice.sources import create_source

# An export of a council's spending sheet: CRLF, two unused columns between and after
# the data, one of them with a note someone typed into it later on.
SHEET = (
    b"Supplier,Amount,,Date,,\r\n"
    b"Acme Ltd,120.50,,2024-01-05,,\r\n"  # 2
    b'"Smith, J",99.00,,2024-01-06,,\r\n'  # 3
    b"Parks Co,12.00,see invoice,2024-01-07,,\r\n"  # 4: a value under a blank header
    b"Roads Ltd,7.25,,2024-01-08,, \r\n"  # 5: a space is no value
    b"Bins plc,1.00,,2024-01-09,,x\r\n"  # 6: a value past the last column
)


def read_file(path: Path, **options: object) -> tuple[list[str], pl.DataFrame, list[Reject]]:
    cfg = FileSourceConfig.model_validate({"path": path.name, **options})
    (unit,) = create_source("s", cfg, path.parent).units()
    reader = unit.open()
    batches = list(reader.batches())
    data = pl.concat([b.data for b in batches])
    return reader.columns, data, [r for b in batches for r in b.rejects]


def test_blank_columns_over_an_empty_first_row_are_no_columns(tmp_path: Path) -> None:
    (tmp_path / "sheet.csv").write_bytes(SHEET)
    columns, data, rejects = read_file(tmp_path / "sheet.csv")
    assert columns == ["Supplier", "Amount", "Date"]
    assert [(r.line, r.reason) for r in rejects] == [
        (
            4,
            "row has a value under a blank header ('see invoice' in column 3), where the "
            "file's first row is empty: it has no column to load into (to load it, map "
            "it: sources.s.columns: {COLUMN: column_3})",
        ),
        (
            6,
            "row has a value past the last column ('x'), where the file's lines end with "
            "an empty field (a trailing delimiter)",
        ),
    ]
    # what loads is what Python's csv reads under the named headers
    python = list(csv.reader(io.StringIO(SHEET.decode(), newline="")))
    named = [i for i, h in enumerate(python[0]) if h]
    kept = [[r[i] for i in named] for n, r in enumerate(python[1:], start=2) if n not in (4, 6)]
    assert [list(r) for r in data.select(columns).rows()] == kept
    assert data.get_column(LINE).to_list() == [2, 3, 5]


def test_an_unnamed_column_with_a_first_value_is_a_column(tmp_path: Path) -> None:
    # pandas' to_csv writes its index under a blank header: that is data, and the file
    # is drift to map, as before (one entry, not a quarantined row per line).
    (tmp_path / "frame.csv").write_bytes(b",name,city,\n0,Ada,London,\n1,Grace,,\n")
    columns, data, rejects = read_file(tmp_path / "frame.csv")
    assert columns == ["column_1", "name", "city"]
    assert data.get_column("column_1").to_list() == ["0", "1"]
    assert rejects == []


def test_a_blank_header_the_config_names_is_a_column(tmp_path: Path) -> None:
    (tmp_path / "sheet.csv").write_bytes(SHEET)
    named = ["Supplier", "Amount", "column_3", "Date"]
    for options, expected in (
        ({"columns": {"note": "column_3"}}, named),
        ({"synonyms": {"note": ["column 3"]}}, named),
        ({"ignore": ["column_*"]}, [*named, "column_5"]),  # the glob names both
    ):
        columns, data, rejects = read_file(tmp_path / "sheet.csv", **options)
        assert columns == expected, options
        assert data.get_column("column_3").to_list()[2] == "see invoice"
        assert [r.line for r in rejects] == [6]  # past the trail: no config names it


TABLE = """
pipelines:
  spend:
    sources:
      council:
        type: file
        path: data/*.csv
        drift: {drift}
{extra}
    table:
      name: spend
      columns:
        supplier: {{type: string, required: true}}
        amount: decimal
        date: date
{more}
"""


def test_a_run_loads_the_sheet_and_quarantines_the_stray_notes(make_project, run_project) -> None:
    for drift in ("quarantine", "evolve", "fail"):
        root = make_project(
            TABLE.format(drift=drift, extra="", more=""), {"data/2024-01.csv": SHEET}
        )
        out = run_project(root, "spend")
        assert out.status == "succeeded_with_quarantine", drift
        c = out.counts("council")
        assert (c.read, c.loaded, c.quarantined, c.filtered) == (5, 3, 2, 0), drift
        assert list(out.rows()[0]) == ["supplier", "amount", "date"], drift
        assert out.quarantine("file") == []
        assert sorted(e.line for e in out.quarantine("row")) == [4, 6]
        (root / ".sluice").rename(root / f".sluice-{drift}")  # a fresh state store
        for db in root.glob("*.db"):
            db.unlink()


def test_the_mapping_the_reason_names_loads_the_notes(
    tmp_path: Path, make_project, run_project
) -> None:
    # The reason's advice, followed in a project whose table has a column for the notes.
    root = make_project(TABLE.format(drift="quarantine", extra="", more=""), {"data/a.csv": SHEET})
    reason = next(e.reasons[0] for e in run_project(root, "spend").quarantine("row") if e.line == 4)
    mapping = reason.split("map it: ")[1].rstrip(")").replace("COLUMN", "note")
    assert mapping == "sources.council.columns: {note: column_3}"
    fixed = tmp_path / "fixed"
    (fixed / "data").mkdir(parents=True)
    (fixed / "data" / "a.csv").write_bytes(SHEET)
    extra = "        columns: {note: column_3}"
    more = "        note: string"
    (fixed / "sluice.yaml").write_text(TABLE.format(drift="quarantine", extra=extra, more=more))
    out = run_project(fixed, "spend")
    c = out.counts("council")
    assert (c.read, c.loaded, c.quarantined) == (5, 4, 1)
    notes = {r["supplier"]: r["note"] for r in out.rows() if r["note"]}
    assert notes == {"Parks Co": "see invoice"}


_cell = st.text(alphabet='ab ,"\n1', max_size=4)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    blank=st.lists(st.booleans(), min_size=2, max_size=6).filter(lambda b: not all(b)),
    rows=st.lists(st.lists(_cell, min_size=6, max_size=6), min_size=1, max_size=8),
)
def test_sheets_read_as_pythons_csv_reads_them(tmp_path: Path, blank: list[bool], rows) -> None:
    # Any sheet of named and blank-header columns: the rows with nothing under a blank
    # header load as Python's csv reads their named cells; the others are set aside.
    header = ["" if b else f"h{i}" for i, b in enumerate(blank)]
    body = [
        [("" if b else v) if n == 0 else v for v, b in zip(r[: len(blank)], blank, strict=True)]
        for n, r in enumerate(rows)
    ]
    body[0] = [
        v if v.strip() or b else "x" for v, b in zip(body[0], blank, strict=True)
    ]  # a first row
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows([header, *body])
    (tmp_path / "s.csv").write_text(out.getvalue(), newline="")
    columns, data, rejects = read_file(tmp_path / "s.csv")
    python = list(csv.reader(io.StringIO(out.getvalue(), newline="")))[1:]
    named = [i for i, b in enumerate(blank) if not b]
    held = [any(r[i].strip() for i, b in enumerate(blank) if b) for r in python]
    assert columns == [header[i] for i in named]
    assert len(rejects) == sum(held)
    kept = [[r[i] or None for i in named] for r, h in zip(python, held, strict=True) if not h]
    got = [list(r) for r in data.select(columns).rows()] if data.height else []
    assert got == kept
