"""The DDL sluice emits, read back from each warehouse's own catalog.

A table states the declared schema and nothing more: each column's declared type, NOT
NULL exactly for ``required`` columns (and the snapshot stamps), no default, sequence,
identity or auto_increment, and under ``merge`` one key constraint, the primary key,
with no index beside it. Tables are made the way a run makes them (``Layout`` ->
``engine.tables.prepare``), twice: the second time finds the table there.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa

from sluice.config import load_project
from sluice.destinations import LoadMeta
from sluice.destinations.sql import SqlDestination
from sluice.engine.tables import prepare as prepare_tables
from sluice.transforms.normalize import Layout

COLUMNS = """
        id: {type: integer, required: true}
        code: {type: string, required: true}
        ratio: float
        amount: {type: decimal, required: true}
        ok: boolean
        day: {type: date, required: true}
        seen_at: datetime
        tags: list
        note: string
"""
DECLARED = {
    "id": ("integer", False),
    "code": ("string", False),
    "ratio": ("float", True),
    "amount": ("decimal", False),
    "ok": ("boolean", True),
    "day": ("date", False),
    "seen_at": ("datetime", True),
    "tags": ("list", True),
    "note": ("string", True),
}
STAMPS = {"_load_id": ("integer", False), "_loaded_at": ("datetime", False)}
STAMPS["_source"] = ("string", False)

#: declared type -> the type each catalog reports (the type table, docs/reference/types.md)
TYPES: dict[str, dict[str, str]] = {
    "sqlite": {
        "string": "TEXT",
        "integer": "BIGINT",
        "float": "FLOAT",
        "decimal": "NUMERIC(38, 6)",
        "boolean": "BOOLEAN",
        "date": "DATE",
        "datetime": "DATETIME",
        "list": "JSON",
    },
    "postgresql": {
        "string": "text",
        "integer": "bigint",
        "float": "double precision",
        "decimal": "numeric(38,6)",
        "boolean": "boolean",
        "date": "date",
        "datetime": "timestamp with time zone",
        "list": "json",
    },
    "mysql": {
        "string": "longtext",
        "integer": "bigint",
        "float": "double",
        "decimal": "decimal(38,6)",
        "boolean": "tinyint(1)",
        "date": "date",
        "datetime": "datetime(6)",
        "list": "json",  # MariaDB: longtext, checked by JSON_VALID (mapped below)
    },
    "duckdb": {
        "string": "VARCHAR",
        "integer": "BIGINT",
        "float": "DOUBLE",
        "decimal": "DECIMAL(38,6)",
        "boolean": "BOOLEAN",
        "date": "DATE",
        "datetime": "TIMESTAMP WITH TIME ZONE",
        "list": "JSON",
    },
}


def project_text(url: str, mode: str, columns: str = COLUMNS, keys: str = "[id]") -> str:
    return f"""
warehouse: "{url}"
pipelines:
  p:
    sources:
      s: {{type: file, path: "data/*.csv"}}
    table:
      name: things
      keys: {keys}
      columns:{columns}
    destination: {{mode: {mode}}}
"""


@dataclass
class Shape:
    """A table as its warehouse's catalog describes it."""

    #: name -> (type, nullable), in the table's order
    columns: dict[str, tuple[str, bool]] = field(default_factory=dict)
    #: column -> what would fill it unasked: a default, identity, auto_increment, ...
    generated: dict[str, str] = field(default_factory=dict)
    sequences: list[str] = field(default_factory=list)
    #: ("PRIMARY KEY" | "UNIQUE", columns) of every key constraint
    keys: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    #: every index that is not the primary key's own
    indexes: list[str] = field(default_factory=list)


def dialect(url: str) -> str:
    return url.split(":", 1)[0]


def shape(dest: SqlDestination, table: str) -> Shape:
    with dest.engine.connect() as c:
        return READERS[dialect(dest.url)](c, table)


def _sqlite(c: sa.Connection, table: str) -> Shape:
    out = Shape()
    pk: list[tuple[int, str]] = []
    for _cid, name, type_, notnull, default, key, hidden in c.exec_driver_sql(
        f'PRAGMA table_xinfo("{table}")'
    ):
        out.columns[name] = (type_, not notnull)
        if default is not None:
            out.generated[name] = f"DEFAULT {default}"
        if hidden:
            out.generated[name] = "generated"
        if key:
            pk.append((key, name))
    if len(pk) == 1 and out.columns[pk[0][1]][0].upper() == "INTEGER":
        out.generated[pk[0][1]] = "rowid alias"  # SQLite numbers such a key itself
    sql = c.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).scalar_one()
    if "AUTOINCREMENT" in sql.upper():
        out.generated["*"] = "AUTOINCREMENT"
    out.sequences = list(
        c.exec_driver_sql("SELECT name FROM sqlite_master WHERE name = 'sqlite_sequence'").scalars()
    )
    if pk:
        out.keys.append(("PRIMARY KEY", tuple(n for _, n in sorted(pk))))
    for _seq, name, unique, origin, _partial in c.exec_driver_sql(
        f'PRAGMA index_list("{table}")'
    ).all():
        cols = tuple(r[2] for r in c.exec_driver_sql(f'PRAGMA index_info("{name}")'))
        if origin == "u":
            out.keys.append(("UNIQUE", cols))
        if origin != "pk":
            out.indexes.append(f"{name} {'UNIQUE ' if unique else ''}{cols}")
    return out


def _postgresql(c: sa.Connection, table: str) -> Shape:
    out = Shape()
    rel = {"t": table}
    for name, type_, nullable, default, identity, generated in c.execute(
        sa.text(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull, "
            "pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated "
            "FROM pg_attribute a LEFT JOIN pg_attrdef d "
            "ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
            "WHERE a.attrelid = to_regclass(quote_ident(:t)) AND a.attnum > 0 "
            "AND NOT a.attisdropped ORDER BY a.attnum"
        ),
        rel,
    ):
        out.columns[name] = (type_, nullable)
        for what in (default, identity, generated):
            if what:
                out.generated[name] = what
    out.sequences = list(
        c.execute(
            sa.text("SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()")
        ).scalars()
    )
    kinds = {"p": "PRIMARY KEY", "u": "UNIQUE"}
    for kind, cols in c.execute(
        sa.text(
            "SELECT c.contype, (SELECT array_agg(a.attname ORDER BY k.n) "
            "FROM unnest(c.conkey) WITH ORDINALITY k(num, n) JOIN pg_attribute a "
            "ON a.attrelid = c.conrelid AND a.attnum = k.num) "
            "FROM pg_constraint c WHERE c.conrelid = to_regclass(quote_ident(:t)) "
            "AND c.contype IN ('p', 'u') ORDER BY c.contype"
        ),
        rel,
    ):
        out.keys.append((kinds[kind], tuple(cols)))
    out.indexes = list(
        c.execute(
            sa.text(
                "SELECT pg_get_indexdef(x.indexrelid) FROM pg_index x "
                "WHERE x.indrelid = to_regclass(quote_ident(:t)) AND NOT x.indisprimary"
            ),
            rel,
        ).scalars()
    )
    return out


def _mysql(c: sa.Connection, table: str) -> Shape:
    out = Shape()
    rel = {"t": table}
    mariadb = "mariadb" in str(c.execute(sa.text("SELECT VERSION()")).scalar_one()).lower()
    checks: dict[str, str] = {}
    if mariadb:
        found = c.execute(
            sa.text(
                "SELECT CONSTRAINT_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
                "WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = :t"
            ),
            rel,
        )
        checks = {str(name): str(clause) for name, clause in found}
    for name, type_, nullable, default, extra in c.execute(
        sa.text(
            "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA "
            "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
            "AND TABLE_NAME = :t ORDER BY ORDINAL_POSITION"
        ),
        rel,
    ):
        type_ = re.sub(r"^bigint\(20\)$", "bigint", str(type_))
        if mariadb and type_ == "longtext" and checks.get(name) == f"json_valid(`{name}`)":
            type_ = "json"  # MariaDB's JSON: LONGTEXT checked by JSON_VALID
        out.columns[name] = (type_, nullable == "YES")
        # MariaDB shows "no default" of a nullable column as the text NULL.
        if default is not None and not (default == "NULL" and nullable == "YES"):
            out.generated[name] = f"DEFAULT {default}"
        if extra:
            out.generated[name] = str(extra)
    out.sequences = list(
        c.execute(
            sa.text(
                "SELECT TABLE_NAME FROM information_schema.TABLES "
                "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'SEQUENCE'"
            )
        ).scalars()
    )
    found: dict[tuple[str, str], list[str]] = {}
    for name, kind, col in c.execute(
        sa.text(
            "SELECT tc.CONSTRAINT_NAME, tc.CONSTRAINT_TYPE, k.COLUMN_NAME "
            "FROM information_schema.TABLE_CONSTRAINTS tc "
            "JOIN information_schema.KEY_COLUMN_USAGE k "
            "ON k.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA "
            "AND k.CONSTRAINT_NAME = tc.CONSTRAINT_NAME AND k.TABLE_NAME = tc.TABLE_NAME "
            "WHERE tc.TABLE_SCHEMA = DATABASE() AND tc.TABLE_NAME = :t "
            "AND tc.CONSTRAINT_TYPE IN ('PRIMARY KEY', 'UNIQUE') "
            "ORDER BY tc.CONSTRAINT_TYPE, tc.CONSTRAINT_NAME, k.ORDINAL_POSITION"
        ),
        rel,
    ):
        found.setdefault((str(kind), str(name)), []).append(str(col))
    out.keys = [(kind, tuple(cols)) for (kind, _), cols in found.items()]
    out.indexes = list(
        c.execute(
            sa.text(
                "SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS "
                "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :t AND INDEX_NAME <> 'PRIMARY'"
            ),
            rel,
        ).scalars()
    )
    return out


def _duckdb(c: sa.Connection, table: str) -> Shape:
    out = Shape()
    rel = {"t": table}
    for name, type_, nullable, default in c.execute(
        sa.text(
            "SELECT column_name, data_type, is_nullable, column_default "
            "FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = :t ORDER BY ordinal_position"
        ),
        rel,
    ):
        out.columns[name] = (type_, nullable == "YES")
        if default is not None:
            out.generated[name] = f"DEFAULT {default}"
    out.sequences = list(
        c.execute(
            sa.text(
                "SELECT sequence_name FROM duckdb_sequences() WHERE schema_name = current_schema()"
            )
        ).scalars()
    )
    for kind, cols in c.execute(
        sa.text(
            "SELECT constraint_type, constraint_column_names FROM duckdb_constraints() "
            "WHERE schema_name = current_schema() AND table_name = :t "
            "AND constraint_type IN ('PRIMARY KEY', 'UNIQUE') ORDER BY constraint_type"
        ),
        rel,
    ):
        out.keys.append((str(kind), tuple(cols)))
    out.indexes = list(
        c.execute(
            sa.text(
                "SELECT sql FROM duckdb_indexes() "
                "WHERE schema_name = current_schema() AND table_name = :t"
            ),
            rel,
        ).scalars()
    )
    return out


READERS: dict[str, Callable[[sa.Connection, str], Shape]] = {
    "sqlite": _sqlite,
    "postgresql": _postgresql,
    "mysql": _mysql,
    "duckdb": _duckdb,
}


def expected(url: str, declared: dict[str, tuple[str, bool]], keys: set[str]) -> Shape:
    """The columns as declared, in the dialect's words (MySQL keys are VARCHAR)."""
    types = TYPES[dialect(url)]
    columns = {}
    for name, (type_, nullable) in declared.items():
        shown = types[type_]
        if dialect(url) == "mysql" and type_ == "string" and name in keys:
            shown = "varchar(255)"
        columns[name] = (shown, nullable)
    return Shape(columns)


def make_tables(dest: SqlDestination, pipe: Any) -> None:
    layout = Layout(pipe)
    for _ in range(2):  # the second time, the tables are there already
        prepare_tables(dest, layout, pipe.destination.mode)


@pytest.mark.parametrize("mode", ["merge", "append", "replace", "snapshot"])
def test_tables_state_exactly_the_declared_schema(
    make_project: Callable[..., Path], url: str, dest: SqlDestination, mode: str
) -> None:
    pipe = load_project(make_project(project_text(url, mode))).pipeline("p")
    make_tables(dest, pipe)
    got = shape(dest, "things")
    declared = {**DECLARED, **(STAMPS if mode == "snapshot" else {})}
    keys = {"id"} if mode == "merge" else set()
    assert got.columns == expected(url, declared, keys).columns
    assert got.generated == {}  # no default, identity, serial, auto_increment, rowid alias
    assert got.sequences == []
    # merge: the primary key, and no unique index beside it; other modes: no key at all.
    assert got.keys == ([("PRIMARY KEY", ("id",))] if mode == "merge" else [])
    assert got.indexes == []


def test_a_lone_string_key_and_a_table_without_required_columns(
    make_project: Callable[..., Path], url: str, dest: SqlDestination
) -> None:
    columns = "\n        code: string\n        n: integer\n"
    text = project_text(url, "merge", columns, keys="[code]")
    make_tables(dest, load_project(make_project(text)).pipeline("p"))
    got = shape(dest, "things")
    # A key column is NOT NULL by being the primary key (SQLite: by being declared so).
    nullable_key = dialect(url) == "sqlite"
    want = expected(url, {"code": ("string", nullable_key), "n": ("integer", True)}, {"code"})
    assert got.columns == want.columns
    assert (got.generated, got.sequences, got.indexes) == ({}, [], [])
    assert got.keys == [("PRIMARY KEY", ("code",))]


def test_a_merge_table_of_an_earlier_version_with_a_unique_index_still_loads(
    make_project: Callable[..., Path], url: str, dest: SqlDestination
) -> None:
    """Earlier versions added ``ux_<table>_keys`` beside the primary key: it is left be."""
    pipe = load_project(make_project(project_text(url, "merge"))).pipeline("p")
    make_tables(dest, pipe)
    with dest.engine.begin() as c:
        c.execute(sa.text(f"CREATE UNIQUE INDEX {dest.quote('ux_things_keys')} ON things (id)"))
    make_tables(dest, pipe)
    assert len(shape(dest, "things").indexes) == 1  # no second one added
    spec = Layout(pipe).root
    for key, note in (("m1", "a"), ("m2", "b")):
        dest.load(spec, "merge", key, [frame(note)])
    with dest.engine.connect() as c:
        assert c.execute(sa.text("SELECT note FROM things")).scalars().all() == ["b"]


def test_a_table_made_under_another_mode_gets_one_unique_index_for_merge(
    make_project: Callable[..., Path], url: str, dest: SqlDestination
) -> None:
    root = make_project(project_text(url, "append"))
    make_tables(dest, load_project(root).pipeline("p"))
    (root / "sluice.yaml").write_text(project_text(url, "merge"))
    pipe = load_project(root).pipeline("p")
    make_tables(dest, pipe)
    got = shape(dest, "things")
    assert len(got.indexes) == 1 and "ux_things_keys" in got.indexes[0]
    dest.load(Layout(pipe).root, "merge", "m1", [frame("a"), frame("b").head(0)])
    dest.load(Layout(pipe).root, "merge", "m2", [frame("c")])
    with dest.engine.connect() as c:
        assert c.execute(sa.text("SELECT note FROM things")).scalars().all() == ["c"]


@pytest.mark.parametrize("mode", ["append", "merge", "snapshot"])
def test_a_column_no_longer_required_or_declared_loses_not_null(
    make_project: Callable[..., Path], url: str, dest: SqlDestination, mode: str
) -> None:
    """So that a row without it loads (a replayed one, say); added columns are nullable."""
    root = make_project(project_text(url, mode))
    pipe = load_project(root).pipeline("p")
    make_tables(dest, pipe)
    meta = LoadMeta(1, "s", datetime.now(UTC)) if mode == "snapshot" else None
    dest.load(Layout(pipe).root, mode, "l1", [frame("first")], meta)
    looser = COLUMNS.replace("code: {type: string, required: true}", "code: string")
    looser = looser.replace("        amount: {type: decimal, required: true}\n", "")
    looser += "        extra: {type: string, required: true}\n"
    (root / "sluice.yaml").write_text(project_text(url, mode, looser))
    pipe = load_project(root).pipeline("p")
    make_tables(dest, pipe)
    got = shape(dest, "things")
    assert got.columns["code"][1] and got.columns["amount"][1]  # NOT NULL gone
    assert got.columns["extra"][1]  # added to a table with rows: nullable, though required
    assert not got.columns["id"][1] and not got.columns["day"][1]  # still required
    assert (got.generated, got.sequences, got.indexes) == ({}, [], [])
    assert got.keys == ([("PRIMARY KEY", ("id",))] if mode == "merge" else [])
    row = (
        frame("second")
        .drop("amount")
        .with_columns(id=pl.lit(2, pl.Int64), code=pl.lit(None, pl.String), extra=pl.lit("x"))
    )
    meta = LoadMeta(2, "s", datetime.now(UTC)) if mode == "snapshot" else None
    dest.load(Layout(pipe).root, mode, "l2", [row], meta)
    with dest.engine.connect() as c:
        got_rows = c.execute(sa.text("SELECT id, code, extra FROM things ORDER BY id")).all()
        assert [tuple(r) for r in got_rows] == [(1, "c1", None), (2, None, "x")]
        if mode == "snapshot":  # the view still reads the (rebuilt, on SQLite) table
            latest = c.execute(sa.text("SELECT id FROM things_latest")).scalars().all()
            assert latest == [2]


#: a column its owner added that sluice is not told of, NOT NULL and filled by the
#: database, per dialect: a default everywhere, and PostgreSQL's identity (which
#: refuses DROP NOT NULL: every load into such a table failed)
FILLED = {
    "sqlite": ["made_by TEXT NOT NULL DEFAULT 'clerk'"],
    "postgresql": [
        "made_by text NOT NULL DEFAULT 'clerk'",
        "row_no bigint GENERATED ALWAYS AS IDENTITY",
    ],
    "mysql": ["made_by VARCHAR(20) NOT NULL DEFAULT 'clerk'"],
    "duckdb": ["made_by VARCHAR NOT NULL DEFAULT 'clerk'"],
}


def test_an_undeclared_column_the_database_fills_keeps_its_not_null(
    make_project: Callable[..., Path], url: str, dest: SqlDestination
) -> None:
    """A table its owner made: a column the rows leave out but the database fills stays
    NOT NULL, and its rows get the filling; one it does not fill loses its NOT NULL."""
    root = make_project(project_text(url, "append"))
    pipe = load_project(root).pipeline("p")
    make_tables(dest, pipe)
    with dest.engine.begin() as c:
        for column in FILLED[dialect(url)]:
            c.exec_driver_sql(f"ALTER TABLE things ADD COLUMN {column}")
    make_tables(dest, pipe)
    got = shape(dest, "things")
    added = [column.split()[0] for column in FILLED[dialect(url)]]
    assert [got.columns[name][1] for name in added] == [False] * len(added)  # NOT NULL
    assert got.columns["code"][1] is False  # a required column, as declared
    dest.load(Layout(pipe).root, "append", "l1", [frame("first")])
    with dest.engine.connect() as c:
        assert c.execute(sa.text("SELECT made_by FROM things")).scalars().all() == ["clerk"]
        if "row_no" in added:
            assert c.execute(sa.text("SELECT row_no FROM things")).scalars().all() == [1]


def frame(note: str) -> pl.DataFrame:
    """One row of ``things`` (id 1) with every required value."""
    return pl.DataFrame(
        {
            "id": [1],
            "code": ["c1"],
            "ratio": [None],
            "amount": [Decimal("1.5")],
            "ok": [None],
            "day": [date(2024, 2, 29)],
            "seen_at": [datetime(2024, 2, 29, 12, tzinfo=UTC)],
            "tags": [None],
            "note": [note],
        },
        schema={
            "id": pl.Int64,
            "code": pl.String,
            "ratio": pl.Float64,
            "amount": pl.Decimal(38, 6),
            "ok": pl.Boolean,
            "day": pl.Date,
            "seen_at": pl.Datetime("us", "UTC"),
            "tags": pl.List(pl.String),
            "note": pl.String,
        },
    )


@pytest.mark.parametrize(
    ("mode", "rows"), [("append", 3), ("replace", 1), ("merge", 2), ("snapshot", 3)]
)
def test_rows_without_a_required_value_are_quarantined_not_a_load_failure(
    make_project: Callable[..., Path],
    run_project: Callable[..., Any],
    url: str,
    dest: SqlDestination,
    mode: str,
    rows: int,
) -> None:
    """NOT NULL columns hold: validation keeps the rows that lack a value out of the
    load (table, stage and swap alike), and every row read is loaded or quarantined."""
    header = "id,code,ratio,amount,ok,day,seen_at,tags,note\n"
    root = make_project(
        project_text(url, mode),
        {
            "data/a.csv": header
            + '1,c1,0.5,1.25,true,2024-02-29,,"a,b",x\n'
            + "2,,0.5,1.25,true,2024-02-29,,,no code\n"
            + "3,c3,,2.5,,2024-03-01,,,\n"
            + "4,c4,,,,2024-03-01,,,no amount\n"
        },
    )
    first = run_project(root)
    assert first.status == "succeeded_with_quarantine", first.report.errors
    assert (first.report.totals.read, first.report.totals.loaded) == (4, 2)
    assert first.report.totals.quarantined == 2
    assert {e.line for e in first.quarantine("row")} == {3, 5}
    assert dest.count("things") == 2
    (root / "data" / "b.csv").write_text(
        header + "1,c1b,,1,,2024-02-29,,,again\n5,c5,,1,,,,,no day\n"
    )
    second = run_project(root)  # the tables are there: prepared again, loaded again
    assert second.status == "succeeded_with_quarantine", second.report.errors
    totals = second.report.totals
    assert (totals.read, totals.loaded, totals.quarantined) == (2, 1, 1)
    assert dest.count("things") == rows
