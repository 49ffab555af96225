"""Decimals are stored as written or quarantined with a reason, never changed.

SQLite keeps the first 15 significant digits of a NUMERIC value (an 8-byte float, or
the integer that float is): a value with more is quarantined there, and what loads is
checked by SQLite itself (``CAST(amount AS TEXT)``) against the text of the file.
PostgreSQL keeps every digit: the same file loads whole."""

from __future__ import annotations

import json
import re
import sqlite3
from contextlib import closing
from decimal import Decimal
from typing import Any

import pytest

from sluice.transforms.cast import DECIMAL_KEEPS, MORE_PLACES_NOTE
from tests.support.cli import sluice

#: (value as written, whether SQLite keeps it): 15 significant digits are kept
VALUES = [
    ("0.1", True),
    ("-123456789.123456", True),  # 15 digits
    ("999999999.999999", True),  # 15 digits, the largest with 6 places
    ("5000000000000000000", True),  # one significant digit
    ("1234567890.123456", False),  # 16
    ("123456789012345.6", False),  # 16: SQLite would say 123456789012346.0
    ("12345678901234567.89", False),  # 19: SQLite would store 12345678901234568
    ("99999999999999999999.99", False),  # SQLite would store 1.0e+20
]


def project(warehouse: str = "", file: str = "amounts.csv", decimals: str = "amount") -> str:
    """A project loading data/``file`` into ``amounts``: ``decimals`` (comma-separated)
    are its decimal columns."""
    columns = "".join(f"\n            {c}: decimal" for c in decimals.split(","))
    return f"""
    {f"warehouse: {warehouse}" if warehouse else ""}
    pipelines:
      p:
        sources:
          s: {{type: file, path: data/{file}}}
        table:
          name: amounts
          columns:
            id: {{type: integer, required: true}}{columns}
    """


def amounts_csv() -> str:
    return "id,amount\n" + "".join(f"{i},{v}\n" for i, (v, _) in enumerate(VALUES, 1))


def test_sqlite_quarantines_what_it_would_change_and_keeps_the_rest(
    make_project: Any, run_project: Any
) -> None:
    root = make_project(project(), {"data/amounts.csv": amounts_csv()})
    out = run_project(root)
    assert out.status == "succeeded_with_quarantine", out.report.errors
    kept = {i: v for i, (v, ok) in enumerate(VALUES, 1) if ok}
    with closing(sqlite3.connect(out.warehouse())) as conn:
        stored = dict(conn.execute("SELECT id, CAST(amount AS TEXT) FROM amounts").fetchall())
    assert set(stored) == set(kept)
    for i, text in stored.items():
        assert Decimal(text) == Decimal(kept[i]), (kept[i], text)  # as SQLite reads it
    reasons = {q.line: q.reasons for q in out.quarantine("row")}
    assert sorted(reasons) == [i + 1 for i, (_, ok) in enumerate(VALUES, 1) if not ok]
    (first,) = reasons[6]  # line 6: 1234567890.123456
    assert first.startswith("amount: '1234567890.123456' has more than 15 significant digits")
    assert "declare amount as string" in first
    c = out.counts("s")
    assert (c.read, c.loaded, c.quarantined) == (len(VALUES), len(kept), len(VALUES) - len(kept))


def test_sqlite_the_reasons_advice_as_the_refusal_says_loads_every_digit(
    make_project: Any,
) -> None:
    """The reason says to declare the column string in a table made with it: declared
    so, the old table refuses (it was made NUMERIC); under a new table.name with the
    `--full-refresh` the refusal names, every value loads as written and the entries
    are closed (superseded by the reload)."""
    root = make_project(project("sqlite:///w.db"), {"data/amounts.csv": amounts_csv()})
    assert sluice("run", "p", "-p", str(root)).returncode == 3
    yaml = (root / "sluice.yaml").read_text().replace("amount: decimal", "amount: string")
    (root / "sluice.yaml").write_text(yaml)
    refused = sluice("quarantine", "replay", "-p", str(root), "--json")
    (report,) = json.loads(refused.stdout)
    (error,) = report["errors"]
    assert error["type"] == "TypesChanged"
    (command,) = re.findall(r"`(sluice run [^`]+)`", error["hint"])
    (root / "sluice.yaml").write_text(yaml.replace("name: amounts", "name: amounts_text"))
    out = sluice(*command.split()[1:], "-p", str(root))
    assert out.returncode == 0, out.stdout + out.stderr
    with closing(sqlite3.connect(root / "w.db")) as conn:
        stored = conn.execute("SELECT amount FROM amounts_text ORDER BY id").fetchall()
    assert [v for (v,) in stored] == [v for v, _ in VALUES]
    listed = sluice("quarantine", "list", "-p", str(root), "--json")
    assert json.loads(listed.stdout) == []


def test_postgresql_keeps_every_digit(make_project: Any, run_project: Any, pg_url: str) -> None:
    psycopg = pytest.importorskip("psycopg")
    root = make_project(project(pg_url), {"data/amounts.csv": amounts_csv()})
    out = run_project(root)
    assert out.status == "succeeded", out.report.errors
    with closing(psycopg.connect(pg_url.replace("postgresql+psycopg", "postgresql"))) as conn:
        stored = dict(conn.execute("SELECT id, amount FROM amounts").fetchall())
    assert stored == {i: Decimal(v) for i, (v, _) in enumerate(VALUES, 1)}


def test_typed_values_are_refused_where_the_cast_would_round_them(
    make_project: Any, run_project: Any, tmp_path: Any
) -> None:
    # A Parquet float is read as the number it was written as (its shortest text), a
    # finer Parquet decimal as it is: neither is rounded into the column.
    import polars as pl

    floats = [0.1, 1e20, 0.1234567, 2.5e-6, 123.456]
    fine = pl.Series(["1.5000000000", "1.1234567890", "0", "-2.25", "3"]).cast(pl.Decimal(38, 10))
    data = tmp_path / "data"
    data.mkdir()
    frame = pl.DataFrame({"id": [1, 2, 3, 4, 5], "f": floats, "d": fine})
    frame.write_parquet(data / "amounts.parquet")
    root = make_project(project(file="amounts.parquet", decimals="f,d"))
    out = run_project(root)
    assert out.status == "succeeded_with_quarantine", out.report.errors
    with closing(sqlite3.connect(out.warehouse())) as conn:
        rows = conn.execute("SELECT id, CAST(f AS TEXT), CAST(d AS TEXT) FROM amounts").fetchall()
    assert {i: (Decimal(f), Decimal(d)) for i, f, d in rows} == {
        1: (Decimal("0.1"), Decimal("1.5")),
        5: (Decimal("123.456"), Decimal("3")),
    }
    reasons = {q.line: q.reasons for q in out.quarantine("row")}
    place = " is not a valid decimal (at most 32 digits before the point and 6 after)"
    note = MORE_PLACES_NOTE.format(name="f", scale=6, keeps=DECIMAL_KEEPS)
    assert reasons == {
        # 1e20: 21 digits but one significant: kept
        2: [
            "d: '1.1234567890'"
            + place
            + MORE_PLACES_NOTE.format(name="d", scale=6, keeps=DECIMAL_KEEPS)
        ],
        3: ["f: '0.1234567'" + place + note],
        4: ["f: '2.5e-6'" + place + note],  # seven places
    }
    # the payload is JSON: the typed values as text, which a replay reads back
    assert {q.line: q.payload["d"] for q in out.quarantine("row")} == {
        2: "1.1234567890",
        3: "0.0000000000",
        4: "-2.2500000000",
    }
