"""Values as real files write them, on every warehouse: stored right or quarantined.

Dates in formats with two-digit years, fractions and local zones; amounts with signs,
parentheses and currencies; a NUL byte in a field. Each value is compared with what
Python itself makes of the text (``datetime.strptime``, ``zoneinfo``, ``Decimal``).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from sluice.destinations import connect
from sluice.destinations.sql import SqlDestination
from tests.conftest import warehouse_url

PROJECT = """
warehouse: {url}
pipelines:
  p:
    sources: {{s: {{type: file, path: "data/*.csv"}}}}
    transforms:
      - amount: {{columns: [paid]}}
    table:
      name: t
      columns:
        id: {{type: integer, required: true}}
        name: string
        signed: {{type: date, formats: ['%m/%d/%Y']}}
        born: {{type: date, formats: ['%d-%b-%y'], century_pivot: 1920}}
        seen: {{type: datetime, formats: ['%Y-%m-%d %H:%M:%S.%f'], timezone: America/New_York}}
        paid: decimal
"""

ROWS = [
    # id, name, signed, born, seen, paid
    ("1", "ada", "01/02/2024", "10-DEC-15", "2024-07-01 12:00:00.5", "-$5.00"),
    ("2", "grace", "01/02/24", "09-dec-06", "2024-01-15 08:30:00.123456", "(1,234.56)"),
    ("3", "lin\x00us", "12/31/1999", "05-Jan-19", "2024-02-01 00:00:00.1", ".5K"),
    ("4", "alan", "8/24/1995", "23-Jun-12", "2024-03-10 02:30:00.0", "€12"),
    ("5", "edsger", "02/30/2024", "11-may-30", "2024-11-03 01:30:00.000001", "1B"),
    ("6", "barbara", "07/04/2021", "03-nov-39", "2024-11-03 01:30:00", "£2.5M"),
]


def _csv(rows: list[tuple[str, ...]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", "name", "signed", "born", "seen", "paid"])
    writer.writerows(rows)
    return out.getvalue().encode()


def _expected(row: tuple[str, ...]) -> dict[str, Any] | None:
    """The stored row Python computes from the text, or None if it must be quarantined."""
    rid, name, signed, born, seen, paid = row
    if "\x00" in name:
        return None
    try:
        signed_day = datetime.strptime(signed, "%m/%d/%Y").date()
        born_day = datetime.strptime(born, "%d-%b-%y").date()
        local = datetime.strptime(seen, "%Y-%m-%d %H:%M:%S.%f")
    except ValueError:
        return None
    # century_pivot 1920: two-digit years land in 1920-2019.
    born_day = born_day.replace(year=1920 + (born_day.year - 1920) % 100)
    zone = ZoneInfo("America/New_York")
    instant = local.replace(tzinfo=zone).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != local:
        return None  # a time the clocks skipped
    return {
        "id": int(rid),
        "name": name,
        "signed": signed_day,
        "born": born_day,
        "seen": instant,
        "paid": _dollars(paid),
    }


def _dollars(text: str) -> Decimal:
    negative = text.startswith(("-", "("))
    core = text.strip("()-$€£").replace(",", "")
    scale = {"K": 1_000, "M": 1_000_000, "B": 1_000_000_000}
    value = Decimal(core[:-1]) * scale[core[-1]] if core[-1] in scale else Decimal(core)
    return -value if negative else value


def _stored(url: str) -> list[dict[str, Any]]:
    dest = connect(url)
    assert isinstance(dest, SqlDestination)
    try:
        with dest.engine.connect() as c:
            rows = c.execute(
                sa.text("SELECT id, name, signed, born, seen, paid FROM t ORDER BY id")
            )
            return [dict(r._mapping) for r in rows]
    finally:
        dest.close()


def _normal(row: dict[str, Any]) -> dict[str, Any]:
    """Driver differences aside (naive UTC datetimes, datetime for date): the value."""
    out = dict(row)
    seen = out["seen"]
    if isinstance(seen, str):
        seen = datetime.fromisoformat(seen)
    out["seen"] = seen.replace(tzinfo=UTC) if seen.tzinfo is None else seen.astimezone(UTC)
    for k in ("signed", "born"):
        if isinstance(out[k], datetime):
            out[k] = out[k].date()
        elif isinstance(out[k], str):
            out[k] = date.fromisoformat(out[k][:10])
    out["paid"] = Decimal(str(out["paid"])).normalize()
    out["id"] = int(out["id"])
    return out


@pytest.fixture(params=["sqlite", "postgresql", "mysql", "duckdb"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh warehouse of each dialect."""
    return warehouse_url(request, request.param, tmp_path)


def test_dates_amounts_and_nul_bytes_on_every_warehouse(
    url: str, make_project: Any, run_project: Any
) -> None:
    root = make_project(PROJECT.format(url=url), {"data/a.csv": _csv(ROWS)})
    out = run_project(root)
    expected = [e for e in map(_expected, ROWS) if e is not None]
    stored = [_normal(r) for r in _stored(url)]
    for e in expected:
        e["paid"] = e["paid"].normalize()
    assert stored == expected
    c = out.counts("s")
    assert (c.read, c.loaded, c.quarantined) == (6, len(expected), 6 - len(expected))
    reasons = {q.line - 1: q.reasons for q in out.quarantine("row")}  # by id
    assert reasons[3] == [
        "name: holds a NUL byte (\\x00), which no warehouse stores as text: "
        "remove it from the file (e.g. tr -d '\\000')"
    ]
    assert any("'01/02/24' is not a valid date" in r for r in reasons[2])
    assert any("'02/30/2024' is not a valid date" in r for r in reasons[5])
    assert any(
        "'2024-03-10 02:30:00.0' is not a valid datetime in America/New_York" in r
        for r in reasons[4]
    )


def test_a_row_says_why_once(make_project: Any, run_project: Any) -> None:
    """Two utc steps reading one bad zone, and the required times they could not make."""
    root = make_project(
        """
        pipelines:
          p:
            sources: {s: {type: file, path: a.csv}}
            transforms:
              - utc: {column: begin, offset_from: tz, formats: ['%d-%b-%y %H:%M:%S']}
              - utc: {column: end, offset_from: tz, formats: ['%d-%b-%y %H:%M:%S']}
            table:
              name: t
              columns:
                begin: {type: datetime, required: true}
                end: {type: datetime, required: true}
                tz: string
        """,
        {"a.csv": "begin,end,tz\n01-JAN-24 10:00:00,01-JAN-24 11:00:00,UNK\n"},
    )
    out = run_project(root)
    (entry,) = out.quarantine("row")
    assert [r.split(" is not")[0] for r in entry.reasons] == ["begin: tz 'UNK'", "end: tz 'UNK'"]


def test_the_report_states_every_value_changing_default(
    tmp_path: Path, make_project: Any, run_project: Any
) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    root = make_project(PROJECT.format(url=url), {"data/a.csv": _csv(ROWS[:1])})
    rules = run_project(root).report.as_dict()["rules"]
    assert rules == [
        "born: two-digit years (%y) read as years 1920-2019",
        "seen: times without an offset read as America/New_York",
    ]


def test_a_merge_row_without_its_key_is_quarantined_not_a_failed_load(
    url: str, make_project: Any, run_project: Any
) -> None:
    root = make_project(
        f"""
        warehouse: {url}
        pipelines:
          p:
            sources: {{s: {{type: file, path: a.csv}}}}
            table: {{name: t, keys: [id], columns: {{id: integer, name: string}}}}
            destination: {{mode: merge}}
        """,
        {"a.csv": "id,name\n1,ada\n,nobody\n2,grace\n"},
    )
    out = run_project(root)
    assert out.status == "succeeded_with_quarantine", out.report.errors
    assert (out.counts("s").loaded, out.counts("s").quarantined) == (2, 1)
    (entry,) = out.quarantine("row")
    assert entry.reasons == ["id: a key of the merge but empty"]


@pytest.mark.parametrize("mode", ["merge", "replace"])
def test_columns_named_like_keywords_load_on_every_warehouse(
    url: str, mode: str, make_project: Any, run_project: Any
) -> None:
    """Headers like `at`, `order`, `rows`, `qualify` are quoted by each database's rules."""
    names = ["order", "at", "rows", "qualify", "group", "value", "year"]
    columns = ", ".join(f"{n}: string" for n in names[1:])
    root = make_project(
        f"""
        warehouse: {url}
        pipelines:
          p:
            sources: {{s: {{type: file, path: a.csv}}}}
            table: {{name: t, keys: [order], columns: {{order: integer, {columns}}}}}
            destination: {{mode: {mode}}}
        """,
        {"a.csv": ",".join(names) + "\n1,z,z,z,z,z,z\n2,y,y,y,y,y,y\n"},
    )
    out = run_project(root)
    assert out.status == "succeeded", out.report.errors
    # A second file merges into (or replaces) what the first loaded.
    (root / "a.csv").write_text(",".join(names) + "\n1,a,b,c,d,e,f\n2,g,h,i,j,k,l\n")
    out = run_project(root)
    assert (out.status, out.counts("s").loaded) == ("succeeded", 2), out.report.errors
    dest = connect(url)
    assert isinstance(dest, SqlDestination)
    try:
        with dest.engine.connect() as c:
            listed = ", ".join(dest.quote(n) for n in names)
            rows = c.execute(sa.text(f"SELECT {listed} FROM t ORDER BY {dest.quote('order')}"))
            got = [tuple(r) for r in rows]
    finally:
        dest.close()
    assert got == [(1, "a", "b", "c", "d", "e", "f"), (2, "g", "h", "i", "j", "k", "l")]


def test_file_names_with_glob_characters_load_with_file(
    tmp_path: Path, make_project: Any, run_project: Any
) -> None:
    """`--file 'report[1].csv'` loads that file; it is a name, not a pattern."""
    root = make_project(
        """
        pipelines:
          p:
            sources: {s: {type: file, path: "drops/*.csv"}}
            table: {name: t, columns: {id: integer}}
        """,
        {"drops/report[1].csv": "id\n1\n2\n"},
    )
    out = run_project(root, file=str(root / "drops" / "report[1].csv"))
    assert (out.status, out.counts("s").read, out.counts("s").loaded) == ("succeeded", 2, 2)
