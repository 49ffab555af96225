"""DuckDB specifics: Arrow ingest, its foreign key rules, one file per process, the CLI."""

from __future__ import annotations

import json
import os
import sys
import weakref
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest
import sqlalchemy as sa

from sluice.destinations import Target, connect
from sluice.destinations.duckdb import WRITE_THREADS, DuckdbDestination
from sluice.destinations.sql import SqlDestination
from sluice.errors import LoadError, RetryableLoadError
from sluice.schema import ColumnSpec, ForeignKey, TableSpec
from sluice.testing import copy_example, processes
from tests.integration.destinations.test_multi_table import batch as related

EVIL = 'x"; drop table typed; --'
TYPED = TableSpec(
    "typed",
    [
        ColumnSpec("i", "integer"),
        ColumnSpec("s", "string"),
        ColumnSpec("f", "float"),
        ColumnSpec("n", "decimal"),
        ColumnSpec("b", "boolean"),
        ColumnSpec("d", "date"),
        ColumnSpec("t", "datetime"),
        ColumnSpec("l", "list"),
        ColumnSpec(EVIL, "string"),
    ],
)
ZONES = TableSpec("zones", [ColumnSpec("zone"), ColumnSpec("label")], ["zone"])
USERS = TableSpec(
    "users",
    [ColumnSpec("uuid"), ColumnSpec("name"), ColumnSpec("zone")],
    ["uuid"],
    [ForeignKey(("zone",), "zones", ("zone",))],
)
PETS = TableSpec(
    "pets",
    [ColumnSpec("uuid"), ColumnSpec("position", "integer"), ColumnSpec("pet")],
    ["uuid", "position"],
    [ForeignKey(("uuid",), "users", ("uuid",))],
)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "w.duckdb"


@pytest.fixture
def duck(path: Path) -> Iterator[DuckdbDestination]:
    d = connect(f"duckdb:///{path}")
    assert isinstance(d, DuckdbDestination)
    yield d
    d.close()


def native(dest: SqlDestination, sql: str) -> pl.DataFrame:
    """A query's result as DuckDB hands it to Arrow (no SQLAlchemy type processing)."""
    raw = dest.engine.raw_connection()
    try:
        return pl.from_arrow(raw.sql(sql).to_arrow_table())  # type: ignore[return-value]
    finally:
        raw.close()


def test_arrow_ingest_round_trips_every_type_exactly(duck: DuckdbDestination) -> None:
    duck.prepare(TYPED, "append")
    data = pl.DataFrame(
        {
            "i": [2**62, -1, None],
            "s": ["", "ünïcødé 'q' \"qq\"\n", None],
            "f": [0.1, -1e300, None],
            "n": [Decimal("12345678901234567890123456789012.123456"), Decimal("-0.000001"), None],
            "b": [True, False, None],
            "d": [date(2024, 2, 29), date(1901, 1, 1), None],
            "t": [
                datetime(2024, 2, 29, 23, 59, 59, 999999, UTC),
                datetime(1969, 7, 20, tzinfo=UTC),
                None,
            ],
            "l": [["a", 'b "q", c'], [], None],
            EVIL: ["'); DROP TABLE typed; --", "ok", None],
        },
        schema={
            "i": pl.Int64,
            "s": pl.String,
            "f": pl.Float64,
            "n": pl.Decimal(38, 6),
            "b": pl.Boolean,
            "d": pl.Date,
            "t": pl.Datetime("us", "UTC"),
            "l": pl.List(pl.String),
            EVIL: pl.String,
        },
    )
    assert duck.load(TYPED, "append", "k", [data]).rows == 3
    got = native(duck, "SELECT * FROM typed ORDER BY i NULLS LAST")
    data = data.sort("i", nulls_last=True)
    # The list arrives as its JSON array (JSON type); everything else as it was sent.
    assert got.drop("l").equals(data.drop("l"))
    assert got.drop("l").schema == data.drop("l").schema
    assert [None if v is None else json.loads(v) for v in got["l"]] == data["l"].to_list()


def test_declared_types_become_these_duckdb_types(duck: DuckdbDestination) -> None:
    duck.prepare(TYPED, "append")
    described = native(duck, "DESCRIBE typed")
    assert dict(zip(described["column_name"], described["column_type"], strict=True)) == {
        "i": "BIGINT",
        "s": "VARCHAR",
        "f": "DOUBLE",
        "n": "DECIMAL(38,6)",
        "b": "BOOLEAN",
        "d": "DATE",
        "t": "TIMESTAMP WITH TIME ZONE",
        "l": "JSON",
        EVIL: "VARCHAR",
    }


def test_a_list_that_is_not_json_is_refused(duck: DuckdbDestination) -> None:
    spec = TableSpec("j", [ColumnSpec("l", "list")])
    duck.prepare(spec, "append")
    with pytest.raises(LoadError, match="loading table 'j' failed"):
        duck.load(spec, "append", "bad", [pl.DataFrame({"l": ["[not json"]})])
    assert duck.count("j") == 0 and not duck.is_loaded("bad")


def test_merge_updates_a_referenced_row_with_a_foreign_key_column(
    duck: DuckdbDestination,
) -> None:
    targets = [Target(ZONES, "merge"), Target(USERS, "merge"), Target(PETS, "merge", ("uuid",))]
    for t in targets:
        duck.prepare(t.table, t.mode)
    duck.load_tables(
        targets, "k1", [related([("u1", "Ann", "utc"), ("u2", "Bo", "utc")], [("u1", 0, "cat")])]
    )
    # u1 is referenced by a pet and has a foreign key column: a plain upsert that sets
    # `zone` (even to the same value) is a delete + insert, which DuckDB refuses.
    duck.load_tables(targets, "k2", [related([("u1", "Ann B", "utc")], [("u1", 0, "dog")])])
    # u2 has no pets: moving it to another zone is fine.
    duck.load_tables(targets, "k3", [related([("u2", "Bo", "cet")], [])])
    users = native(duck, "SELECT * FROM users ORDER BY uuid").rows()
    assert users == [("u1", "Ann B", "utc"), ("u2", "Bo", "cet")]
    assert native(duck, "SELECT * FROM pets").rows() == [("u1", 0, "dog")]

    # A referenced row cannot move to another zone within one transaction (DuckDB
    # checks foreign keys against committed data): the load fails, nothing changes.
    with pytest.raises(LoadError, match="foreign key"):
        duck.load_tables(targets, "k4", [related([("u1", "Ann", "cet")], [("u1", 0, "dog")])])
    assert native(duck, "SELECT * FROM users ORDER BY uuid").rows() == users
    assert not duck.is_loaded("k4")


def test_replace_keeps_the_tables_foreign_key(duck: DuckdbDestination) -> None:
    duck.prepare(ZONES, "merge")
    duck.prepare(USERS, "replace")
    zones = related([("u1", "Ann", "utc"), ("u2", "Bo", "cet")], [])["zones"]
    duck.load(ZONES, "merge", "z", [zones])
    duck.load(
        USERS, "replace", "r1", [pl.DataFrame({"uuid": ["u1"], "name": ["A"], "zone": ["utc"]})]
    )
    duck.load(
        USERS, "replace", "r2", [pl.DataFrame({"uuid": ["u2"], "name": ["B"], "zone": ["cet"]})]
    )
    assert native(duck, "SELECT uuid FROM users").rows() == [("u2",)]
    fks = native(
        duck,
        "SELECT referenced_table FROM duckdb_constraints() "
        "WHERE table_name = 'users' AND constraint_type = 'FOREIGN KEY'",
    )
    assert fks.rows() == [("zones",)]
    with pytest.raises(LoadError, match="foreign key"):
        duck.load(
            USERS,
            "replace",
            "r3",
            [pl.DataFrame({"uuid": ["u3"], "name": ["C"], "zone": ["mars"]})],
        )
    assert native(duck, "SELECT uuid FROM users").rows() == [("u2",)]
    assert (
        native(
            duck, "SELECT COUNT(*) AS n FROM duckdb_tables() WHERE table_name LIKE '_sluice_stage%'"
        ).item()
        == 0
    )


def test_a_key_twice_in_one_merge_load_fails_cleanly(duck: DuckdbDestination) -> None:
    duck.prepare(ZONES, "merge")
    twice = pl.DataFrame({"zone": ["utc", "utc"], "label": ["a", "b"]})
    with pytest.raises(LoadError, match="loading table 'zones' failed"):
        duck.load(ZONES, "merge", "m", [twice])
    assert duck.count("zones") == 0


def test_reads_while_a_load_is_open_see_the_last_commit(duck: DuckdbDestination) -> None:
    spec = TableSpec("people", [ColumnSpec("id", "integer"), ColumnSpec("name")])
    duck.prepare(spec, "append")
    duck.load(spec, "append", "k1", [pl.DataFrame({"id": [1], "name": ["a"]})])
    seen: list[object] = []

    def batches() -> Iterator[pl.DataFrame]:
        yield pl.DataFrame({"id": [2], "name": ["b"]})
        # The same process, other pooled connections, mid-transaction: no lock, no wait.
        seen.append(duck.is_loaded("k2"))
        seen.append(duck.preview("people", 10))
        seen.append(duck.count("people"))
        yield pl.DataFrame({"id": [3], "name": ["c"]})

    assert duck.load(spec, "append", "k2", batches()).rows == 2
    assert seen == [False, (["id", "name"], [(1, "a")]), 1]
    assert duck.is_loaded("k2") and duck.count("people") == 3


def test_batches_are_written_on_one_thread_and_the_setting_comes_back(
    duck: DuckdbDestination,
) -> None:
    """Narrowed while batches go in (DuckDB splits a small batch for nothing), the
    database's own setting after: a load that succeeds, one that fails, two at once."""
    spec = TableSpec("people", [ColumnSpec("id", "integer"), ColumnSpec("name")], ["id"])
    duck.prepare(spec, "merge")

    def threads() -> int:
        return int(native(duck, "SELECT current_setting('threads') AS t").item())

    duck._set("threads", 2)  # this machine may have one core: a known setting
    seen: list[int] = []

    def batches(key: int, inner: bool = False) -> Iterator[pl.DataFrame]:
        seen.append(threads())
        if inner:  # a second load starts and ends while this one writes
            duck.load(spec, "append", f"inner{key}", [pl.DataFrame({"id": [99], "name": ["z"]})])
            seen.append(threads())
        yield pl.DataFrame({"id": [key], "name": ["a"]})

    duck.load(spec, "merge", "k1", batches(1, inner=True))
    assert seen == [WRITE_THREADS, WRITE_THREADS]  # the inner load left it narrowed
    assert threads() == 2  # after the load, and for its merge statement
    with pytest.raises(LoadError):  # a key twice: the upsert fails, after the batches
        duck.load(spec, "merge", "k2", [pl.DataFrame({"id": [5, 5], "name": ["a", "b"]})])
    assert threads() == 2
    assert duck.count("people") == 2


def test_each_batch_is_let_go_once_written_not_at_the_commit(
    duck: DuckdbDestination, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A view made by `register` kept every batch's Arrow table alive until the load
    committed, unregistered or not (duckdb-python#469): 3M leads peaked at 1.5 GB."""
    made: list[weakref.ref[pa.Table]] = []
    to_arrow = pl.DataFrame.to_arrow

    def spy(self: pl.DataFrame, *args: Any, **kwargs: Any) -> pa.Table:
        table = to_arrow(self, *args, **kwargs)
        made.append(weakref.ref(table))
        return table

    monkeypatch.setattr(pl.DataFrame, "to_arrow", spy)
    spec = TableSpec("people", [ColumnSpec("id", "integer"), ColumnSpec("name")])
    duck.prepare(spec, "append")
    alive: list[int] = []

    def batches() -> Iterator[pl.DataFrame]:
        for k in range(5):
            alive.append(sum(ref() is not None for ref in made))
            yield pl.DataFrame({"id": [k, k + 10], "name": [f"n{k}", None]})

    assert duck.load(spec, "append", "k", batches()).rows == 10
    assert len(made) == 5  # one Arrow table per batch, none of them held on to
    assert alive == [0, 0, 0, 0, 0]
    assert native(duck, "SELECT count(*) AS n, count(name) AS named FROM people").row(0) == (
        10,
        5,
    )


def test_a_table_named_like_the_batch_is_neither_read_nor_changed(
    duck: DuckdbDestination,
) -> None:
    """DuckDB reads a table or view before a local variable of the same name: where
    one is called `_sluice_batch`, the batches go in through a view that shadows it."""
    spec = TableSpec("people", [ColumnSpec("id", "integer"), ColumnSpec("name")])
    duck.prepare(spec, "append")
    raw = duck.engine.raw_connection()
    try:
        raw.execute('CREATE TABLE "_sluice_Batch" (id BIGINT, name VARCHAR)')
        raw.execute("INSERT INTO \"_sluice_Batch\" VALUES (666, 'not a batch')")
    finally:
        raw.close()
    batches = [pl.DataFrame({"id": [1], "name": ["a"]}), pl.DataFrame({"id": [2], "name": ["b"]})]
    assert duck.load(spec, "append", "k", batches).rows == 2
    assert native(duck, "SELECT id, name FROM people ORDER BY id").rows() == [(1, "a"), (2, "b")]
    assert native(duck, 'SELECT * FROM "_sluice_Batch"').rows() == [(666, "not a batch")]


def test_a_connection_that_scans_no_python_variables_still_loads(tmp_path: Path) -> None:
    """`python_enable_replacements=false` in the URL: the batches go in through views."""
    d = connect(f"duckdb:///{tmp_path / 'w.duckdb'}?python_enable_replacements=false")
    try:
        spec = TableSpec("people", [ColumnSpec("id", "integer"), ColumnSpec("name")])
        d.prepare(spec, "append")
        assert d.load(spec, "append", "k", [pl.DataFrame({"id": [1], "name": ["a"]})]).rows == 1
        assert d.count("people") == 1
    finally:
        d.close()


PROBE = """
import sys
from sluice.destinations import connect
try:
    connect(sys.argv[1]).is_loaded("x")
except Exception as exc:
    print(type(exc).__name__, exc)
else:
    print("opened")
"""


def test_one_process_holds_the_file_until_close(duck: DuckdbDestination, path: Path) -> None:
    def probe() -> str:
        out = processes.run(
            [sys.executable, "-c", PROBE, f"duckdb:///{path}"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        return out.stdout.strip()

    duck.prepare(ZONES, "append")
    held = probe()
    assert held.startswith(RetryableLoadError.__name__), held
    assert "lock" in held.lower()
    duck.close()
    assert probe() == "opened"


def run_cli(root: Path, warehouse: str) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    env["SLUICE_WAREHOUSE_URL"] = warehouse
    out = processes.run(
        [sys.executable, "-m", "sluice", "run", "leads", "-p", str(root), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert out.returncode == 3, out.stderr  # loaded, with some rows quarantined
    report: dict[str, object] = json.loads(out.stdout)
    return report


def test_leads_through_the_cli_match_the_sqlite_run(tmp_path: Path) -> None:
    results = {}
    for name, url in {
        "duckdb": f"duckdb:///{tmp_path / 'duckdb' / 'w.duckdb'}",
        "sqlite": f"sqlite:///{tmp_path / 'sqlite' / 'w.db'}",
    }.items():
        root = tmp_path / name
        copy_example("leads", root)
        report = run_cli(root, url)
        dest = connect(url)
        assert isinstance(dest, SqlDestination)
        try:
            with dest.engine.connect() as c:
                results[name] = (
                    report["totals"],
                    c.execute(sa.text("SELECT COUNT(*) FROM leads")).scalar_one(),
                    [
                        tuple(r)
                        for r in c.execute(
                            sa.text(
                                'SELECT "_source", COUNT(*), MIN(license_number), '
                                "MAX(license_number) FROM leads_latest GROUP BY 1 ORDER BY 1"
                            )
                        )
                    ],
                )
        finally:
            dest.close()
    assert results["duckdb"] == results["sqlite"]
    assert results["duckdb"][1] == 54
