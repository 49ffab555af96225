"""A unit's bad rows wait for their reasons, which are written for many batches at once
(``EXPLAIN_ROWS``): every row still ends up quarantined once, under its file, line,
reasons and fields as read, before its load commits; the same as batch by batch."""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sluice.engine import process

YAML = """\
pipelines:
  p:
    sources:
      s: {type: file, path: 'data/*', batch_bytes: 4096}
    table:
      name: t
      columns:
        id: {type: integer, required: true, unique: true}
        code: {type: string, regex: '^[A-Z]{2}$'}
        since: {type: date, formats: ['%Y-%m-%d', '%m/%d/%Y']}
        rate: {type: decimal, min: 0}
        note: string
"""


def a_file(n: int, first_id: int) -> str:
    """``n`` rows (about 120 to a 4 KiB batch), every seventh broken a different way."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["id", "code", "since", "rate", "note"])
    faults = [
        ("id", "x{i}"),
        ("code", "ab"),
        ("since", "02/30/2001"),
        ("rate", "-{i}.5"),
        ("id", ""),
        ("since", "someday {i}"),
    ]
    for i in range(n):
        row = {
            "id": str(first_id + i),
            "code": "AB",
            "since": f"2001-01-{i % 28 + 1:02d}",
            "rate": f"{i}.25",
            "note": f"a note, with a comma and a long tail to fill the batch {i}",
        }
        if i % 7 == 3:
            column, value = faults[(i // 7) % len(faults)]
            row[column] = value.format(i=i)
        if i == n - 1:  # the last row repeats an id of the file's first batch
            row["id"] = str(first_id)
        w.writerow(row.values())
    return out.getvalue()


def quarantined(outcome: Any) -> dict[tuple[str, int], tuple[list[str], dict[str, Any]]]:
    return {(e.unit, e.line): (e.reasons, e.payload) for e in outcome.quarantine("row")}


@pytest.mark.parametrize(("explain_rows", "write_entries"), [(40, 7), (1, 512)])
def test_bad_rows_of_many_batches_are_quarantined_once_with_their_reasons(
    make_project: Callable[..., Path],
    run_project: Any,
    monkeypatch: pytest.MonkeyPatch,
    explain_rows: int,
    write_entries: int,
) -> None:
    files = {"data/a.csv": a_file(1500, 1), "data/b.csv": a_file(700, 5001)}
    monkeypatch.setattr(process, "EXPLAIN_ROWS", explain_rows)
    monkeypatch.setattr(process, "WRITE_ENTRIES", write_entries)
    out = run_project(make_project(YAML, files))
    assert out.status == "succeeded_with_quarantine", out.report
    got = quarantined(out)

    # What each file's rows should come to, read by Python's csv
    expected_lines: dict[str, list[int]] = {}
    for name, text in files.items():
        rows = list(csv.DictReader(io.StringIO(text)))
        bad = [n for n, _ in enumerate(rows, start=2) if (n - 2) % 7 == 3] + [len(rows) + 1]
        expected_lines[name] = bad
        for line in bad:
            reasons, payload = got[(name, line)]
            # as read: an empty field is null (the source's default csv.null_values)
            assert payload == {k: v or None for k, v in rows[line - 2].items()}, (name, line)
            assert reasons and all(":" in r for r in reasons), reasons
    assert sorted(got) == sorted((f, n) for f, lines in expected_lines.items() for n in lines)
    c = out.counts("s")
    assert c.read == 2200 and c.quarantined == len(got) and c.read == c.loaded + c.quarantined
    assert got[("data/a.csv", 1501)][0] == ["id: duplicate value '1' (the first one was kept)"]
    assert got[("data/a.csv", 5)][0] == ["id: 'x3' is not a valid integer"]


def test_reasons_written_together_are_those_written_batch_by_batch(
    make_project: Callable[..., Path], run_project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {"data/a.csv": a_file(1200, 1)}
    seen = []
    for explain_rows in (1, 10_000):
        monkeypatch.setattr(process, "EXPLAIN_ROWS", explain_rows)
        root = make_project(YAML, files)
        shutil.rmtree(root / ".sluice", ignore_errors=True)  # a new project each time
        (root / "warehouse.db").unlink(missing_ok=True)
        seen.append(quarantined(run_project(root)))
    broken = sum(1 for i in range(1200) if i % 7 == 3) + 1  # and the repeated id
    assert seen[0] == seen[1] and len(seen[0]) == broken
