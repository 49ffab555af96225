"""CSV downloads for a spreadsheet: text a spreadsheet would take for a formula is
prefixed with ' (csv_guard=true, the dashboard's link); the API's default is raw."""

from __future__ import annotations

import csv
import io
import re
from html import unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sluice.config import load_project
from sluice.service import create_app
from tests.support.service import OP, VIEW, VIEWER, settings, wait

YAML = """
name: sheet
warehouse: sqlite:///sheet.db
pipelines:
  notes:
    sources:
      notes: {type: file, path: data/*.csv}
    table:
      name: notes
      columns:
        id: {type: integer}
        note: {type: string}
        amount: {type: float}
"""
NOTES = [
    '=HYPERLINK("http://evil.example","x")',
    "+1+2",
    "-2+3",
    "@SUM(A1)",
    "\tindented",
    "plain",
    "a=b",
]


@pytest.fixture
def sheet(tmp_path: Path, unset_urls: None) -> TestClient:
    root = tmp_path / "sheet"
    (root / "data").mkdir(parents=True)
    (root / "sluice.yaml").write_text(YAML)
    with (root / "data" / "notes.csv").open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["id", "note", "amount"])
        out.writerows([i, note, -1.5 - i] for i, note in enumerate(NOTES))
    return TestClient(create_app(load_project(root), settings()))


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_csv_guard_prefixes_formula_text_and_never_numbers(sheet: TestClient) -> None:
    with sheet as c:
        run_id = c.post("/api/pipelines/notes/runs", headers=OP).json()["run_id"]
        assert wait(c, run_id)["status"] == "succeeded"
        params = {"format": "csv", "limit": 100}
        raw = _rows(c.get("/api/datasets/notes", params=params, headers=VIEW).text)
        guarded = c.get("/api/datasets/notes", params={**params, "csv_guard": True}, headers=VIEW)
        safe = _rows(guarded.text)
        note, amount = raw[0].index("note"), raw[0].index("amount")
        assert [r[note] for r in raw[1:]] == NOTES  # the API's default: the values as they are
        assert [r[note] for r in safe[1:]] == [
            '\'=HYPERLINK("http://evil.example","x")',
            "'+1+2",
            "'-2+3",
            "'@SUM(A1)",
            "'\tindented",
            "plain",
            "a=b",
        ]
        # numbers, negative ones too, are left alone
        assert [r[amount] for r in safe[1:]] == [r[amount] for r in raw[1:]]
        assert all(r[amount].startswith("-") for r in safe[1:])
        # the dashboard's download link asks for the guarded CSV
        c.post("/signin", data={"token": VIEWER, "next": "/"})
        page = c.get("/pipelines/notes/data").text
        found = re.search(r'id="download-csv" href="([^"]+)"', page)
        assert found is not None
        link = unescape(found.group(1))
        assert "csv_guard=true" in link and "format=csv" in link
        assert _rows(c.get(link).text) == safe
