"""`list` columns: split or parsed from text, stored as JSON arrays in SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest

PROJECT = """
warehouse: {warehouse}
pipelines:
  p:
    sources:
      s: {{type: file, path: data/*.csv}}
    table:
      name: pets
      columns:
        id: {{type: integer, required: true}}
        friends: {{type: list, separator: "|"}}
"""
CSV = 'id,friends\n1,a|b\n2,\n3,"[""x"",""y""]"\n4," c | |d "\n'
EXPECTED = {1: ["a", "b"], 2: None, 3: ["x", "y"], 4: ["c", "d"]}


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_list_columns_round_trip(db: str, request, make_project, run_project) -> None:
    url = "sqlite:///pets.db" if db == "sqlite" else request.getfixturevalue("pg_url")
    root = make_project(PROJECT.format(warehouse=url), {"data/a.csv": CSV})
    out = run_project(root)
    assert out.status == "succeeded", out.report.errors
    if db == "sqlite":
        rows = {r["id"]: r["friends"] for r in out.rows()}
    else:
        import psycopg

        with psycopg.connect(url) as conn:
            rows = dict(conn.execute("SELECT id, friends::text FROM pets").fetchall())
    got = {k: (json.loads(v) if v is not None else None) for k, v in rows.items()}
    assert got == EXPECTED
