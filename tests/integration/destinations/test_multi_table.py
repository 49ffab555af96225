"""Several tables in one load (normalized records): keys, foreign keys, all or nothing."""

from __future__ import annotations

import polars as pl
import pytest
import sqlalchemy as sa

from sluice.destinations import Target
from sluice.destinations.sql import SqlDestination
from sluice.errors import LoadError
from sluice.schema import ColumnSpec, ForeignKey, TableSpec

ZONES = TableSpec("zones", [ColumnSpec("zone", "string"), ColumnSpec("label", "string")], ["zone"])
USERS = TableSpec(
    "users",
    [ColumnSpec("uuid", "string"), ColumnSpec("name", "string"), ColumnSpec("zone", "string")],
    ["uuid"],
    [ForeignKey(("zone",), "zones", ("zone",))],
)
PETS = TableSpec(
    "pets",
    [ColumnSpec("uuid", "string"), ColumnSpec("position", "integer"), ColumnSpec("pet", "string")],
    ["uuid", "position"],
    [ForeignKey(("uuid",), "users", ("uuid",))],
)
TARGETS = [
    Target(ZONES, "merge"),
    Target(USERS, "merge"),
    Target(PETS, "merge", ("uuid",), "users"),
]


def batch(
    users: list[tuple[str, str, str]], pets: list[tuple[str, int, str]]
) -> dict[str, pl.DataFrame]:
    zones = sorted({u[2] for u in users})
    return {
        "zones": pl.DataFrame({"zone": zones, "label": [z.upper() for z in zones]}),
        "users": pl.DataFrame(users, schema=["uuid", "name", "zone"], orient="row"),
        "pets": pl.DataFrame(
            pets, schema={"uuid": pl.String, "position": pl.Int64, "pet": pl.String}, orient="row"
        ),
    }


def table(dest: SqlDestination, name: str) -> list[tuple[object, ...]]:
    with dest.engine.connect() as c:
        return sorted(tuple(r) for r in c.execute(sa.text(f"SELECT * FROM {dest.quote(name)}")))


def prepare(dest: SqlDestination) -> None:
    for t in TARGETS:
        dest.prepare(t.table, t.mode)


def test_merge_of_related_tables_replaces_children_of_merged_parents(dest: SqlDestination) -> None:
    prepare(dest)
    first = batch([("u1", "Ann", "utc"), ("u2", "Bo", "cet")], [("u1", 0, "cat"), ("u1", 1, "dog")])
    result = dest.load_tables(TARGETS, "k1", [first])
    assert result.rows == 2
    assert result.tables == {"zones": 2, "users": 2, "pets": 2}
    # u1 now has one pet: the dog row must go, not linger.
    again = batch([("u1", "Ann B", "utc")], [("u1", 0, "fish")])
    dest.load_tables(TARGETS, "k2", [again])
    assert table(dest, "users") == [("u1", "Ann B", "utc"), ("u2", "Bo", "cet")]
    assert table(dest, "pets") == [("u1", 0, "fish")]
    assert table(dest, "zones") == [("cet", "CET"), ("utc", "UTC")]
    assert dest.load_tables(TARGETS, "k2", [again]).already_loaded


def duckdb_keys(c: sa.Connection) -> tuple[list[dict[str, object]], dict[str, object]]:
    """What SQLAlchemy's reflection would say (duckdb-engine's reads pg_catalog tables
    that DuckDB 2 no longer has), from DuckDB's own catalog."""
    sql = (
        "SELECT constraint_type, constraint_column_names, referenced_table, "
        "referenced_column_names FROM duckdb_constraints() WHERE table_name = :t "
        "AND constraint_type IN ('FOREIGN KEY', 'PRIMARY KEY')"
    )
    fks = c.execute(sa.text(sql), {"t": "pets"}).all()
    pks = c.execute(sa.text(sql), {"t": "users"}).all()
    return [
        {"constrained_columns": r[1], "referred_table": r[2], "referred_columns": r[3]}
        for r in fks
        if r[0] == "FOREIGN KEY"
    ], {"constrained_columns": next(r[1] for r in pks if r[0] == "PRIMARY KEY")}


def test_foreign_keys_are_declared_in_the_database(dest: SqlDestination) -> None:
    prepare(dest)
    with dest.engine.connect() as c:
        if dest.engine.dialect.name == "duckdb":
            fks, pk = duckdb_keys(c)
        else:
            fks = sa.inspect(c).get_foreign_keys("pets")
            pk = sa.inspect(c).get_pk_constraint("users")
    assert [
        (f["constrained_columns"], f["referred_table"], f["referred_columns"]) for f in fks
    ] == [(["uuid"], "users", ["uuid"])]
    assert pk["constrained_columns"] == ["uuid"]


def test_a_failing_table_rolls_back_every_table(dest: SqlDestination) -> None:
    prepare(dest)
    dest.load_tables(TARGETS, "k1", [batch([("u1", "Ann", "utc")], [("u1", 0, "cat")])])
    bad = batch([("u2", "Bo", "utc")], [("u2", 0, "dog")])
    bad["pets"] = bad["pets"].with_columns(pl.lit(None, pl.Int64).alias("position"))
    # A null in a key column: the pets upsert fails after zones and users were written.
    bad_pets = TableSpec(
        "pets",
        [ColumnSpec("uuid"), ColumnSpec("position", "integer", False), ColumnSpec("pet")],
        ["uuid", "position"],
    )
    with pytest.raises(LoadError):
        dest.load_tables(
            [TARGETS[0], TARGETS[1], Target(bad_pets, "merge", ("uuid",))], "k2", [bad]
        )
    assert table(dest, "users") == [("u1", "Ann", "utc")]
    assert not dest.is_loaded("k2")


def test_replace_of_related_tables_swaps_them_together(dest: SqlDestination) -> None:
    plain = [
        Target(TableSpec(t.table.name, t.table.columns, t.table.keys), "replace") for t in TARGETS
    ]
    for t in plain:
        dest.prepare(t.table, t.mode)
    dest.load_tables(plain, "r1", [batch([("u1", "Ann", "utc")], [("u1", 0, "cat")])])
    dest.load_tables(plain, "r2", [batch([("u2", "Bo", "cet")], [])])
    assert table(dest, "users") == [("u2", "Bo", "cet")]
    assert table(dest, "pets") == []
    assert table(dest, "zones") == [("cet", "CET")]
