"""A table its owner made keeping less than the types sluice makes (``NUMERIC(10,2)``,
MySQL's ``DATETIME``, PostgreSQL's ``timestamp(0)``, ``REAL``): PostgreSQL and DuckDB
rounded 12.345 to 12.35 and a time's fraction away without a word, a 4-byte float kept
seven digits of 1.23456789, MariaDB failed the whole load on its warning, and a value
past the column's digits failed it everywhere. Now such values are quarantined, each
reason naming the ways on (the step that makes it fit, or a wider column), and both
are followed here as the reasons give them."""

from __future__ import annotations

import json
from datetime import UTC
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sluice.dburl import normalize
from tests.conftest import warehouse_url
from tests.support.cli import sluice

PROJECT = """\
warehouse: {url}
pipelines:
  p:
    sources:
      s: {{type: file, path: data/*.csv}}
    destination: {{mode: {mode}}}
    table:
      name: prices
      keys: [id]
      columns:
        id: {{type: integer, required: true}}
        price: decimal
        seen: datetime
        ratio: float
        qty: integer
        code: string
"""

#: each row past one thing the table's columns keep (its id - 1 in PROBLEMS)
CSV = (
    b"id,price,seen,ratio,qty,code\n"
    b"1,12.50,2024-01-05 10:00:00,0.5,1,ab\n"
    b"2,12.345,2024-01-05 10:00:00,0.5,1,ab\n"
    b"3,-0.001,2024-01-05 10:00:00,0.5,1,ab\n"
    b"4,123456789.5,2024-01-05 10:00:00,0.5,1,ab\n"
    b"5,99999999.99,2024-01-05 10:00:00,0.1,-32768,abcde\n"
    b"6,1.00,2024-01-05 10:00:00.654321,0.5,1,ab\n"
    b"7,1.00,2024-01-05 10:00:00,1.23456789,1,ab\n"
    b"8,1.00,2024-01-05 10:00:00,0.5,40000,ab\n"
    b"9,1.00,2024-01-05 10:00:00,0.5,1,abcdef\n"
)
#: line -> the start of its one reason
PROBLEMS = {
    3: "price: '12.345' has more places after the point than the 2 the table's column price",
    4: "price: '-0.001' has more places after the point than the 2",
    5: "price: '123456789.5' has more than 8 digits before the point",
    7: "seen: '2024-01-05 10:00:00.654321' has a fraction of a second past the 0 digit(s)",
    8: "ratio: '1.23456789' has more digits than the table's column ratio",
    9: "qty: '40000' is past what the table's column qty",
    10: "code: 'abcdef' has 6 characters, longer than the 5 the table's column code",
}

#: per dialect: the table as its owner made it, and the statements that widen it
MADE = {
    "postgresql": "price NUMERIC(10, 2), seen TIMESTAMP(0) WITH TIME ZONE, ratio REAL, "
    "qty SMALLINT, code VARCHAR(5)",
    "mysql": "price DECIMAL(10, 2), seen DATETIME, ratio FLOAT, qty SMALLINT, code VARCHAR(5)",
    # DuckDB keeps no string's length: VARCHAR(5) is VARCHAR
    "duckdb": "price DECIMAL(10, 2), seen TIMESTAMP_S, ratio FLOAT, qty SMALLINT, code VARCHAR",
}
WIDEN = {
    "postgresql": [
        "ALTER TABLE prices ALTER COLUMN price TYPE NUMERIC(38, 6)",
        "ALTER TABLE prices ALTER COLUMN ratio TYPE DOUBLE PRECISION",
        "ALTER TABLE prices ALTER COLUMN qty TYPE BIGINT",
        "ALTER TABLE prices ALTER COLUMN code TYPE TEXT",
    ],
    "mysql": [
        "ALTER TABLE prices MODIFY price DECIMAL(38, 6), MODIFY ratio DOUBLE, "
        "MODIFY qty BIGINT, MODIFY code LONGTEXT"
    ],
    "duckdb": [
        "ALTER TABLE prices ALTER COLUMN price TYPE DECIMAL(38, 6)",
        "ALTER TABLE prices ALTER COLUMN ratio TYPE DOUBLE",
        "ALTER TABLE prices ALTER COLUMN qty TYPE BIGINT",
    ],
}


def _sql(url: str, *statements: str) -> list[Any]:
    """Run ``statements`` on the warehouse; the last one's rows, if any."""
    if url.startswith("duckdb"):
        import duckdb

        with duckdb.connect(url.removeprefix("duckdb:///")) as conn:
            for s in statements:
                cur = conn.execute(s)
            return cur.fetchall() if statements[-1].startswith("SELECT") else []
    engine = sa.create_engine(normalize(url))
    try:
        with engine.begin() as conn:
            for s in statements:
                result = conn.execute(sa.text(s))
            return [tuple(r) for r in result] if statements[-1].startswith("SELECT") else []
    finally:
        engine.dispose()


def _project(root: Path, url: str, mode: str, *steps: str) -> None:
    yaml = PROJECT.format(url=url, mode=mode)
    if steps:
        listed = "".join(f"      - {step}\n" for step in steps)
        yaml = yaml.replace("    table:\n", f"    transforms:\n{listed}    table:\n")
    (root / "sluice.yaml").write_text(yaml)


def _refused(root: Path, url: str, column: str, text: str) -> list[dict[str, Any]]:
    """Run a project of ``id`` and ``column`` (``name: type``) over the CSV ``text``,
    some of whose rows are refused: the quarantine's entries."""
    (root / "data").mkdir()
    (root / "data" / "prices.csv").write_text(text)
    yaml = PROJECT.format(url=url, mode="append").split("        price: decimal\n")[0]
    (root / "sluice.yaml").write_text(yaml + f"        {column}\n")
    assert sluice("run", "p", "-p", str(root)).returncode == 3
    return list(json.loads(sluice("quarantine", "list", "-p", str(root), "--json").stdout))


def _loaded(url: str) -> dict[int, tuple[Any, ...]]:
    """id -> (price, seen as naive UTC text, ratio, qty, code) of the rows in the table."""
    rows = _sql(url, "SELECT id, price, seen, ratio, qty, code FROM prices ORDER BY id")
    return {
        i: (p, (s.astimezone(UTC) if s.tzinfo else s).strftime("%H:%M:%S.%f"), r, q, c)
        for i, p, s, r, q, c in rows
    }


@pytest.mark.parametrize("mode", ["append", "merge"])
@pytest.mark.parametrize("dialect", ["postgresql", "mysql", "duckdb"])
def test_values_a_narrow_column_would_change_are_refused_and_the_ways_on_load_them(
    request: pytest.FixtureRequest, tmp_path: Path, dialect: str, mode: str
) -> None:
    url = warehouse_url(request, dialect, tmp_path)
    _sql(url, f"CREATE TABLE prices (id BIGINT PRIMARY KEY, {MADE[dialect]})")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "prices.csv").write_bytes(CSV)
    _project(tmp_path, url, mode)
    out = sluice("run", "p", "-p", str(tmp_path), "--json")
    assert out.returncode == 3, out.stdout + out.stderr
    problems = {n: r for n, r in PROBLEMS.items() if dialect != "duckdb" or n != 10}
    first = _loaded(url)
    assert sorted(first) == [1, 5] + ([9] if dialect == "duckdb" else [])
    assert first[1][:2] == (Decimal("12.50"), "10:00:00.000000")
    entries = json.loads(sluice("quarantine", "list", "-p", str(tmp_path), "--json").stdout)
    reasons = {e["line"]: e["reasons"] for e in entries}
    assert sorted(reasons) == sorted(problems)
    for line, start in problems.items():
        (reason,) = reasons[line]
        assert reason.startswith(start), reason

    # the steps the reasons name, pasted: rounded to 2 places, the fraction cut
    steps = [reasons[n][0].split("add the step ")[1].split(", then `")[0] for n in (3, 7)]
    _project(tmp_path, url, mode, *steps)
    again = sluice("quarantine", "replay", "-p", str(tmp_path), "--json")
    assert again.returncode == 3, again.stdout + again.stderr  # the rest need wider columns
    second = _loaded(url)
    assert sorted(second) == [1, 2, 3, 5, 6] + ([9] if dialect == "duckdb" else [])
    assert [second[i][0] for i in (2, 3)] == [Decimal("12.34"), Decimal("0.00")]  # half even
    assert second[6][1] == "10:00:00.000000"
    # the other way: the columns widened in the warehouse, then replay
    _sql(url, *WIDEN[dialect])
    _project(tmp_path, url, mode)
    last = sluice("quarantine", "replay", "-p", str(tmp_path), "--json")
    assert last.returncode == 0, last.stdout + last.stderr
    third = _loaded(url)
    assert sorted(third) == list(range(1, 10))
    assert (third[4][0], third[7][2]) == (Decimal("123456789.5"), 1.23456789)
    assert (third[8][3], third[9][4]) == (40000, "abcdef")
    assert json.loads(sluice("quarantine", "list", "-p", str(tmp_path), "--json").stdout) == []


def test_a_replace_loads_every_place_into_the_table_it_makes(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = warehouse_url(request, "postgresql", tmp_path)
    _sql(url, f"CREATE TABLE prices (id BIGINT PRIMARY KEY, {MADE['postgresql']})")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "prices.csv").write_bytes(CSV)
    _project(tmp_path, url, "replace")
    out = sluice("run", "p", "-p", str(tmp_path), "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    loaded = _loaded(url)
    assert [loaded[i][0] for i in (2, 3, 4)] == [
        Decimal(v) for v in ("12.345", "-0.001", "123456789.5")
    ]
    assert (loaded[6][1], loaded[7][2]) == ("10:00:00.654321", 1.23456789)


def test_sqlite_keeps_what_it_is_given_whatever_digits_the_column_names(tmp_path: Path) -> None:
    import sqlite3
    from contextlib import closing

    url = f"sqlite:///{tmp_path / 'w.db'}"
    made = "price NUMERIC(10, 2), seen DATETIME, ratio REAL, qty SMALLINT, code VARCHAR(5)"
    _sql(url, f"CREATE TABLE prices (id BIGINT PRIMARY KEY, {made})")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "prices.csv").write_bytes(CSV)
    _project(tmp_path, url, "append")
    assert sluice("run", "p", "-p", str(tmp_path)).returncode == 0
    with closing(sqlite3.connect(tmp_path / "w.db")) as conn:
        query = "SELECT CAST(price AS TEXT), seen, ratio FROM prices ORDER BY id"
        stored = conn.execute(query).fetchall()
    assert [Decimal(p) for p, _, _ in stored][1:4] == [
        Decimal(v) for v in ("12.345", "-0.001", "123456789.5")
    ]
    assert (stored[5][1][:26], stored[6][2]) == ("2024-01-05 10:00:00.654321", 1.23456789)


def test_mysql_characters_a_columns_character_set_cannot_store_are_refused_until_converted(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # A table made in utf8mb3 (MySQL's old utf8) and latin1: strict mode failed the whole
    # load on one emoji, naming a row of the load, not of the file.
    url = warehouse_url(request, "mysql", tmp_path)
    made = "name VARCHAR(50) CHARACTER SET utf8mb3, note TEXT CHARACTER SET latin1"
    _sql(url, f"CREATE TABLE people (id BIGINT PRIMARY KEY, {made})")
    rows = ["1,Zoë,caf\u00e9 \u20ac5 \u201cok\u201d", "2,pizza \U0001f355,x", "3,y,\u65e5\u672c"]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "people.csv").write_text("id,name,note\n" + "\n".join(rows) + "\n")
    yaml = PROJECT.format(url=url, mode="append").replace("name: prices", "name: people")
    columns = "        id: {type: integer, required: true}\n        name: string\n"
    yaml = (
        yaml.split("      columns:\n")[0] + "      columns:\n" + columns + "        note: string\n"
    )
    (tmp_path / "sluice.yaml").write_text(yaml)
    out = sluice("run", "p", "-p", str(tmp_path), "--json")
    assert out.returncode == 3, out.stdout + out.stderr
    entries = json.loads(sluice("quarantine", "list", "-p", str(tmp_path), "--json").stdout)
    reasons = {e["line"]: e["reasons"] for e in entries}
    assert sorted(reasons) == [3, 4]
    assert reasons[3][0].startswith("name: 'pizza \U0001f355' holds '\U0001f355', a character")
    assert "its character set is utf8mb3" in reasons[3][0]
    assert reasons[4][0].startswith("note: '\u65e5\u672c' holds '\u65e5', a character")
    # the statements the reasons name, on the table, then replay
    modify = [r[0].split("(MODIFY ")[1].split("), then")[0] for r in (reasons[3], reasons[4])]
    assert modify == ["name VARCHAR(50) CHARACTER SET utf8mb4", "note TEXT CHARACTER SET utf8mb4"]
    _sql(url, "ALTER TABLE people " + ", ".join(f"MODIFY {m}" for m in modify))
    assert sluice("quarantine", "replay", "-p", str(tmp_path)).returncode == 0
    stored = _sql(url, "SELECT id, name, note FROM people ORDER BY id")
    assert stored == [tuple([int(r.split(",")[0]), *r.split(",")[1:]]) for r in rows]


def test_mysql_a_time_past_a_timestamp_columns_span_is_refused_until_it_is_widened(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # MySQL's TIMESTAMP holds 1970 to 2038 (in UTC): a birth date of 1960 failed the load
    url = warehouse_url(request, "mysql", tmp_path)
    _sql(url, "CREATE TABLE prices (id BIGINT PRIMARY KEY, seen TIMESTAMP NULL)")
    rows = "1,2024-01-05 10:00:00\n2,1960-01-05 10:00:00\n3,2040-01-05 10:00:00\n"
    entries = _refused(tmp_path, url, "seen: datetime", "id,seen\n" + rows)
    assert [(e["line"], e["reasons"][0].split(" (")[0]) for e in entries] == [
        (3, "seen: '1960-01-05 10:00:00' is past what the table's column seen"),
        (4, "seen: '2040-01-05 10:00:00' is past what the table's column seen"),
    ]
    assert "widen the column in the warehouse (DATETIME(6)" in entries[0]["reasons"][0]
    _sql(url, "ALTER TABLE prices MODIFY seen DATETIME(6) NULL")
    assert sluice("quarantine", "replay", "-p", str(tmp_path)).returncode == 0
    stored = _sql(url, "SELECT id, seen FROM prices ORDER BY id")
    assert [s.year for _, s in stored] == [2024, 1960, 2040]


def test_a_kept_warehouse_reads_the_columns_again_for_each_run(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # A Celery worker keeps its warehouse object across runs: a column widened after one
    # run must count in the next (the replay the reason names), not the first run's look.
    from sluice.destinations import connect

    url = warehouse_url(request, "postgresql", tmp_path)
    _sql(url, "CREATE TABLE prices (id BIGINT, price NUMERIC(10, 2))")
    kept = connect(url)
    try:
        warehouse = kept.warehouse()
        assert warehouse is not None
        first = warehouse.narrow_columns("prices", {"price": "decimal"}, "run-1")
        assert first["price"].places == (10, 2)
        _sql(url, "ALTER TABLE prices ALTER COLUMN price TYPE NUMERIC(38, 6)")
        same_run = warehouse.narrow_columns("prices", {"price": "decimal"}, "run-1")
        assert same_run == first  # one look per run
        assert warehouse.narrow_columns("prices", {"price": "decimal"}, "run-2") == {}
    finally:
        kept.close()


@pytest.mark.parametrize("dialect", ["postgresql", "mysql"])
def test_a_value_an_enumerated_column_does_not_hold_is_refused_and_a_mapping_loads_it(
    request: pytest.FixtureRequest, tmp_path: Path, dialect: str
) -> None:
    # MySQL's ENUM stored ACTIVE as active without a word; PostgreSQL failed the load
    url = warehouse_url(request, dialect, tmp_path)
    if dialect == "postgresql":
        _sql(url, "CREATE TYPE standing AS ENUM ('active', 'on hold')")
        _sql(url, "CREATE TABLE prices (id BIGINT PRIMARY KEY, code standing)")
    else:
        _sql(url, "CREATE TABLE prices (id BIGINT PRIMARY KEY, code ENUM('active', 'on hold'))")
    entries = _refused(
        tmp_path, url, "code: string", "id,code\n1,active\n2,ACTIVE\n3,On Hold\n4,\n"
    )
    assert [(e["line"], e["reasons"][0].split(" is not")[0]) for e in entries] == [
        (3, "code: 'ACTIVE'"),
        (4, "code: 'On Hold'"),
    ]
    assert "(active, on hold; exactly" in entries[0]["reasons"][0]
    step = 'derive: {column: code, sql: "lower(code)"}'
    yaml = (tmp_path / "sluice.yaml").read_text()
    yaml = yaml.replace("    table:\n", f"    transforms:\n      - {step}\n    table:\n")
    (tmp_path / "sluice.yaml").write_text(yaml)
    assert sluice("quarantine", "replay", "-p", str(tmp_path)).returncode == 0
    stored = _sql(url, "SELECT id, code FROM prices ORDER BY id")
    assert stored == [(1, "active"), (2, "active"), (3, "on hold"), (4, None)]


def test_a_warehouse_gone_when_its_columns_are_read_is_a_load_error_with_a_hint() -> None:
    # Read after prepare, before the first unit: a server gone by then is the run's
    # error with the warehouse's hint, not a traceback.
    from sluice.destinations import connect
    from sluice.errors import LoadError

    gone = connect("postgresql://postgres@127.0.0.1:1/test")
    try:
        warehouse = gone.warehouse()
        assert warehouse is not None
        with pytest.raises(LoadError) as caught:
            warehouse.narrow_columns("prices", {"price": "decimal"}, "run-1")
    finally:
        gone.close()
    assert caught.value.hint == "check that the database is running and the URL is right"
    assert "127.0.0.1:1" in str(caught.value)


def _reason_step(reason: str) -> str:
    """The derive step a reason names, as it would be pasted into sluice.yaml."""
    return "derive: " + reason.split("add the step derive: ")[1].split("}, then")[0] + "}"


def _with_step(root: Path, step: str) -> None:
    yaml = (root / "sluice.yaml").read_text()
    yaml = yaml.replace("    table:\n", f"    transforms:\n      - {step}\n    table:\n")
    (root / "sluice.yaml").write_text(yaml)


def test_mysql_a_float_column_with_places_rounds_no_value_without_a_word(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # A legacy table's FLOAT(6,2): MariaDB stored 1234.567 as 1234.57, "succeeded", and
    # failed the whole load on 12345.6 ("Out of range value", no row of the file named).
    url = warehouse_url(request, "mysql", tmp_path)
    _sql(url, "CREATE TABLE prices (id BIGINT PRIMARY KEY, ratio FLOAT(6,2))")
    rows = "1,12.5\n2,1234.567\n3,12345.6\n4,0.1\n5,-9999.99\n"
    entries = _refused(tmp_path, url, "ratio: float", "id,ratio\n" + rows)
    reasons = {e["line"]: e["reasons"][0] for e in entries}
    assert sorted(reasons) == [3, 4]
    assert reasons[3].startswith(
        "ratio: '1234.567' has more places after the point than the 2 the table's column "
        "ratio (FLOAT(6, 2)) keeps"
    )
    assert reasons[4].startswith("ratio: '12345.6' has more than 4 digits before the point")
    assert _sql(url, "SELECT id, ratio FROM prices ORDER BY id") == [
        (1, 12.5),
        (4, pytest.approx(0.1)),
        (5, -9999.99),
    ]
    # the step the first reason names, then replay: rounded as asked; the other waits
    _with_step(tmp_path, _reason_step(reasons[3]))
    assert sluice("quarantine", "replay", "-p", str(tmp_path)).returncode == 3
    assert _sql(url, "SELECT ratio FROM prices WHERE id = 2") == [(1234.57,)]
    # and the column widened, as the second one says
    assert "widen the column in the warehouse (DOUBLE, as sluice makes a float)" in reasons[4]
    _sql(url, "ALTER TABLE prices MODIFY ratio DOUBLE")
    assert sluice("quarantine", "replay", "-p", str(tmp_path)).returncode == 0
    assert _sql(url, "SELECT ratio FROM prices WHERE id = 3") == [(12345.6,)]


def test_mysql_a_text_longer_than_a_text_column_holds_is_refused_until_widened(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # TEXT holds 65,535 bytes: a page of accented text (35,000 characters, 70,000 bytes)
    # failed the whole load in strict mode ("Data too long for column").
    url = warehouse_url(request, "mysql", tmp_path)
    _sql(url, "CREATE TABLE prices (id BIGINT PRIMARY KEY, note TEXT, tag TINYTEXT)")
    long, fits = "\u00e9" * 35_000, "\u00e9" * 32_000
    rows = f"1,{fits},ok\n2,{long},ok\n3,x,{'y' * 256}\n"
    entries = _refused(tmp_path, url, "note: string\n        tag: string", "id,note,tag\n" + rows)
    reasons = {e["line"]: e["reasons"][0] for e in entries}
    assert sorted(reasons) == [3, 4]
    assert reasons[3].startswith(f"note: '{long[:40]}...' has 70000 bytes, longer than the 65,535")
    assert reasons[4].startswith(f"tag: '{'y' * 40}...' has 256 bytes, longer than the 255")
    modify = [r.split("(MODIFY ")[1].split(", as sluice")[0] for r in reasons.values()]
    assert modify == ["note LONGTEXT", "tag LONGTEXT"]
    _sql(url, "ALTER TABLE prices " + ", ".join(f"MODIFY {m}" for m in modify))
    assert sluice("quarantine", "replay", "-p", str(tmp_path)).returncode == 0
    stored = _sql(url, "SELECT id, note, tag FROM prices ORDER BY id")
    assert stored == [(1, fits, "ok"), (2, long, "ok"), (3, "x", "y" * 256)]


#: texts around a UUID's forms, each tried against PostgreSQL's own cast
UUID_TEXTS = [
    "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
    "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
    "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
    "A0EEBC999C0B4EF8BB6D6BB9BD380A11",
    "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11",
    "a0eebc9-99c0b-4ef8-bb6d-6bb9bd380a11",
    "a0eebc99--9c0b-4ef8-bb6d-6bb9bd380a11",
    "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1-1",
    "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11-",
    "g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
    " a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
    "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1",
    "n/a",
    "0",
]


def test_a_text_postgresql_cannot_read_as_a_uuid_is_refused_and_the_step_loads_null(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # A table its owner made with a uuid column: one "n/a" failed the whole load on
    # PostgreSQL's "invalid input syntax for type uuid". What is refused is exactly what
    # PostgreSQL's cast refuses.
    url = warehouse_url(request, "postgresql", tmp_path)
    accepted = []
    for text in UUID_TEXTS:
        try:
            _sql(url, f"SELECT CAST('{text}' AS uuid)")
            accepted.append(text)
        except sa.exc.DataError:
            pass
    _sql(url, "CREATE TABLE prices (id BIGINT PRIMARY KEY, code uuid)")
    rows = "".join(f'{i},"{t}"\n' for i, t in enumerate(UUID_TEXTS, start=1))
    entries = _refused(tmp_path, url, "code: string", "id,code\n" + rows)
    refused = {UUID_TEXTS[e["line"] - 2] for e in entries}
    assert refused == set(UUID_TEXTS) - set(accepted)
    assert len(accepted) == 4
    reason = entries[0]["reasons"][0]
    assert "is not a UUID, which the table's column code (UUID) holds" in reason
    _with_step(tmp_path, _reason_step(reason))
    assert sluice("quarantine", "replay", "-p", str(tmp_path)).returncode == 0
    stored = dict(_sql(url, "SELECT id, code FROM prices ORDER BY id"))
    assert len(stored) == len(UUID_TEXTS)
    assert {i for i, c in stored.items() if c is None} == {
        i for i, t in enumerate(UUID_TEXTS, start=1) if t in refused
    }
