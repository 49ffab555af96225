"""Every row is accounted for: read == loaded + quarantined + filtered, for any mix of rows."""

from __future__ import annotations

import sqlite3
import tempfile
import textwrap
from contextlib import closing
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sluice.config import load_project
from sluice.engine import run_pipeline
from sluice.state.store import StateStore

PROJECT = """
pipelines:
  p:
    sources:
      s:
        type: file
        path: data/*.csv
        batch_bytes: 4096
    transforms:
      - trim: all
    table:
      name: t
      columns:
        id: {type: integer, required: true, unique: true}
        name: {type: string, required: true}
        born: {type: date, formats: ['%Y-%m-%d', '%d/%m/%Y']}
        note: string
"""

KINDS = ["good", "bad_date", "bad_int", "no_name", "blank", "empty_line", "dup", "few", "many"]

row_kind = st.sampled_from(KINDS)
note = st.text(alphabet='abc ,"\n', max_size=300)
rows = st.lists(st.tuples(row_kind, note), max_size=60)


def quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def build(spec: list[tuple[str, str]]) -> tuple[str, dict[str, int], set[int]]:
    """The CSV text, the expected counts and the expected quarantined lines."""
    out = ["id,name,born,note"]
    line = 2
    next_id = 1
    good_ids: list[int] = []
    claimed: set[int] = set()
    expect = {"read": 0, "loaded": 0, "quarantined": 0, "filtered": 0}
    bad_lines: set[int] = set()
    for kind, text in spec:
        note_field = quote(text)
        if kind == "dup" and not good_ids:
            kind = "good"
        if kind in ("good", "dup"):
            if kind == "dup":
                rid = good_ids[len(text) % len(good_ids)]
            else:
                rid, next_id = next_id, next_id + 1
                good_ids.append(rid)
            record = f"{rid},Name {rid},2020-01-0{1 + rid % 9},{note_field}"
            if rid in claimed:
                outcome = "quarantined"
            else:
                claimed.add(rid)
                outcome = "loaded"
        elif kind == "bad_date":
            record, outcome = f"{next_id},X,2020-13-45,{note_field}", "quarantined"
            next_id += 1
        elif kind == "bad_int":
            record, outcome = f"id{next_id},X,01/02/2020,{note_field}", "quarantined"
            next_id += 1
        elif kind == "no_name":
            record, outcome = f"{next_id},  ,,{note_field}", "quarantined"
            next_id += 1
        elif kind == "blank":
            record, outcome = ",,,", "filtered"
        elif kind == "empty_line":
            record, outcome = "", "filtered"
        elif kind == "few":
            record, outcome = f"{next_id},only two", "quarantined"
        else:  # many
            record, outcome = f"{next_id},X,2020-01-01,{note_field},surplus", "quarantined"
        expect["read"] += 1
        expect[outcome] += 1
        if outcome == "quarantined":
            bad_lines.add(line)
        out.append(record)
        line += 1 + record.count("\n")
    return "\n".join(out) + "\n", expect, bad_lines


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(rows)
def test_every_row_is_accounted_for(spec: list[tuple[str, str]]) -> None:
    text, expect, bad_lines = build(spec)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "sluice.yaml").write_text(textwrap.dedent(PROJECT), encoding="utf-8")
        (root / "data").mkdir()
        (root / "data" / "rows.csv").write_text(text, encoding="utf-8")
        project = load_project(root)
        report = run_pipeline(project, "p")
        assert report.errors == []
        c = report.streams["s"].counts
        assert c.read == c.loaded + c.quarantined + c.filtered
        assert {
            "read": c.read,
            "loaded": c.loaded,
            "quarantined": c.quarantined,
            "filtered": c.filtered,
        } == expect
        with closing(sqlite3.connect(root / "warehouse.db")) as conn:
            (in_table,) = conn.execute("SELECT count(*) FROM t").fetchone()
        assert in_table == c.loaded
        store = StateStore(project.state_url())
        try:
            entries = store.quarantined(pipeline="p", run_id=report.run_id)
        finally:
            store.close()
        assert len(entries) == c.quarantined
        assert {e.line for e in entries} == bad_lines
        assert all(e.kind == "row" and e.reasons for e in entries)
        expected_status = "succeeded_with_quarantine" if c.quarantined else "succeeded"
        assert report.status == expected_status
