"""Binary COPY into the real PostgreSQL: the values it stores, and when it falls back to CSV."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa

from sluice.destinations import Target, pg_binary, pg_copy
from sluice.destinations.sql import SqlDestination
from sluice.errors import LoadError
from sluice.schema import ColumnSpec, TableSpec
from tests.integration.destinations.test_multi_table import PETS, USERS, ZONES
from tests.integration.destinations.test_multi_table import batch as related
from tests.support.warehouses import EVERY_TYPE, EVERY_TYPE_SCHEMA

SCHEMA = EVERY_TYPE_SCHEMA
#: The ends of each type's range, and values CSV would need quoting or escaping for.
ROWS: list[tuple[Any, ...]] = [
    (
        date(1, 1, 1),
        datetime(1, 1, 1, tzinfo=UTC),
        Decimal("-99999999999999999999999999999999.999999"),
        False,
        -(2**63),
        "",
        -1.7976931348623157e308,
    ),
    (
        date(9999, 12, 31),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        Decimal("99999999999999999999999999999999.999999"),
        True,
        2**63 - 1,
        'a "quoted", multi\nline value \\N with ünïcödé 🙂',
        5e-324,
    ),
    (date(2000, 1, 1), datetime(2000, 1, 1, tzinfo=UTC), Decimal("0.000001"), None, 0, "\\N", 0.0),
    (None, None, None, None, None, None, None),
]


# The `dest` fixture (tests/support/warehouses.py), on PostgreSQL only.
postgresql = pytest.mark.parametrize("url", ["postgresql"], indirect=True)


def stored(dest: SqlDestination, table: str) -> list[tuple[Any, ...]]:
    with dest.engine.connect() as c:
        q = f"SELECT d, t, n, b, i, s, f FROM {table} ORDER BY i IS NULL, i"
        return [tuple(r) for r in c.execute(sa.text(q))]


@postgresql
def test_every_type_round_trips_in_binary(
    dest: SqlDestination, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoded = []

    class Counted(pg_binary.Encoder):
        def rows(self, data: pl.DataFrame) -> Iterator[bytes]:
            encoded.append(data.height)
            return super().rows(data)

    monkeypatch.setattr(pg_binary, "Encoder", Counted)
    spec = TableSpec("typed", EVERY_TYPE)
    dest.prepare(spec, "append")
    dest.load(spec, "append", "k", [pl.DataFrame(ROWS, schema=SCHEMA, orient="row")])
    assert encoded, "the batch went as CSV, not binary"
    expected = sorted(ROWS, key=lambda r: (r[4] is None, r[4] or 0))
    got = stored(dest, "typed")
    assert [r[:5] + r[6:] for r in got] == [r[:5] + r[6:] for r in expected]
    # Text is stored byte for byte: "" stays empty, the text \N is not NULL.
    assert [r[5] for r in got] == [r[5] for r in expected]


@postgresql
def test_a_table_whose_types_differ_gets_csv(dest: SqlDestination) -> None:
    # Made by hand: `integer` and `real` where sluice would make bigint and double.
    with dest.engine.begin() as c:
        c.execute(
            sa.text(
                "CREATE TABLE typed (d date, t timestamptz, n numeric(12, 2), "
                "b boolean, i integer, s varchar(200), f real)"
            )
        )
    spec = TableSpec("typed", EVERY_TYPE)
    dest.prepare(spec, "append")
    data = pl.DataFrame(ROWS[2:], schema=SCHEMA, orient="row")
    dest.load(spec, "append", "k", [data])
    got = stored(dest, "typed")
    assert got[0][4] == 0 and got[0][5] == "\\N" and got[0][2] == Decimal("0.00")
    assert got[1] == (None,) * 7


def test_which_columns_take_binary() -> None:
    utc = pl.Schema({"t": pl.Datetime("us", "UTC"), "i": pl.Int64})
    naive = pl.Schema({"t": pl.Datetime("us"), "i": pl.Int64})
    ours = {"t": "timestamp with time zone", "i": "bigint"}
    assert pg_binary.fits(utc, ["t", "i"], ours)
    # A naive time into timestamptz: CSV, where the server reads it in its zone.
    assert not pg_binary.fits(naive, ["t", "i"], ours)
    assert pg_binary.fits(naive, ["t", "i"], {**ours, "t": "timestamp without time zone"})
    assert not pg_binary.fits(utc, ["t", "i"], {**ours, "i": "integer"})
    assert not pg_binary.fits(utc, ["t", "i"], {"t": "timestamp with time zone"})  # no `i`
    assert not pg_binary.fits(pl.Schema({"j": pl.String}), ["j"], {"j": "json"})


@postgresql
def test_batches_stream_through_one_copy_and_a_new_schema_starts_another(
    dest: SqlDestination, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[pl.Schema] = []

    class Counted(pg_binary.Encoder):
        def __init__(self, schema: pl.Schema) -> None:
            made.append(schema)
            super().__init__(schema)

    monkeypatch.setattr(pg_binary, "Encoder", Counted)
    spec = TableSpec("nums", [ColumnSpec("i", "integer"), ColumnSpec("f", "float")])
    dest.prepare(spec, "append")
    floats = {"i": pl.Int64, "f": pl.Float64}
    ints = {"i": pl.Int64, "f": pl.Int64}  # bigint into a double column: CSV
    batches = [
        pl.DataFrame({"i": [1, 2], "f": [0.5, 1.5]}, schema=floats),
        pl.DataFrame({"i": [3], "f": [2.5]}, schema=floats),
        pl.DataFrame({"i": [4], "f": [7]}, schema=ints),
        pl.DataFrame({"i": [5], "f": [9.25]}, schema=floats),
    ]
    result = dest.load(spec, "append", "k", batches)
    assert result.rows == 5
    # Binary for the first two batches (one COPY), CSV for the third, binary again.
    assert len(made) == 2
    with dest.engine.connect() as c:
        got = c.execute(sa.text("SELECT i, f FROM nums ORDER BY i")).all()
    assert [tuple(r) for r in got] == [(1, 0.5), (2, 1.5), (3, 2.5), (4, 7.0), (5, 9.25)]


@postgresql
def test_a_load_that_breaks_mid_copy_leaves_the_table_as_it_was(dest: SqlDestination) -> None:
    spec = TableSpec("nums", [ColumnSpec("i", "integer")])
    dest.prepare(spec, "append")
    dest.load(spec, "append", "first", [pl.DataFrame({"i": [1]})])

    def broken() -> Iterator[pl.DataFrame]:
        yield pl.DataFrame({"i": [2, 3]})
        raise RuntimeError("the source broke")

    with pytest.raises(RuntimeError, match="the source broke"):
        dest.load(spec, "append", "second", broken())
    # The aborted COPY left the connection usable and the table unchanged.
    assert dest.load(spec, "append", "third", [pl.DataFrame({"i": [4]})]).rows == 1
    with dest.engine.connect() as c:
        assert c.execute(sa.text("SELECT i FROM nums ORDER BY i")).scalars().all() == [1, 4]


@postgresql
def test_a_copy_that_cannot_start_is_a_load_error_and_the_next_load_works(
    dest: SqlDestination,
) -> None:
    spec = TableSpec("nums", [ColumnSpec("i", "integer")])
    dest.prepare(spec, "append")
    with dest.engine.begin() as c:  # gone between prepare and load
        c.execute(sa.text("DROP TABLE nums"))
    with pytest.raises(LoadError, match="loading table 'nums' failed"):
        dest.load(spec, "append", "first", [pl.DataFrame({"i": [1]})])
    dest.prepare(spec, "append")
    assert dest.load(spec, "append", "second", [pl.DataFrame({"i": [2]})]).rows == 1


@postgresql
@pytest.mark.parametrize("hold", [1, pg_copy.HOLD])
def test_related_tables_load_through_few_copies_in_their_order(
    dest: SqlDestination, monkeypatch: pytest.MonkeyPatch, hold: int
) -> None:
    """Rows of the other tables are held and sent after the first table's, in the
    layout's order: the foreign keys (pets -> users -> zones) hold at every step, whether
    the held rows go at the end (one COPY per table) or every batch (``hold`` of 1)."""
    started: list[str] = []
    start = pg_copy.CopyStream._start

    def counted(self: pg_copy.CopyStream, key: Any) -> None:
        started.append(key[0])
        start(self, key)

    monkeypatch.setattr(pg_copy.CopyStream, "_start", counted)
    monkeypatch.setattr(pg_copy, "HOLD", hold)
    # Plain tables (an append makes no keys), with keys and foreign keys made by hand.
    plain = [TableSpec(t.name, t.columns) for t in (ZONES, USERS, PETS)]
    targets = [Target(t, "append") for t in plain]
    for t in targets:
        dest.prepare(t.table, t.mode)
    with dest.engine.begin() as c:
        for sql in (
            "ALTER TABLE zones ADD PRIMARY KEY (zone)",
            "ALTER TABLE users ADD PRIMARY KEY (uuid)",
            "ALTER TABLE users ADD FOREIGN KEY (zone) REFERENCES zones (zone)",
            "ALTER TABLE pets ADD FOREIGN KEY (uuid) REFERENCES users (uuid)",
        ):
            c.execute(sa.text(sql))
    batches = [
        related([(f"u{i}", f"user {i}", f"z{i}")], [(f"u{i}", 0, "cat"), (f"u{i}", 1, "dog")])
        for i in range(3)
    ]
    result = dest.load_tables(targets, "k", batches)
    assert result.tables == {"zones": 3, "users": 3, "pets": 6}
    with dest.engine.connect() as c:
        pets = c.execute(sa.text("SELECT uuid, pet FROM pets ORDER BY uuid, pet")).all()
    assert [tuple(p) for p in pets] == [(f"u{i}", p) for i in range(3) for p in ("cat", "dog")]
    if hold > 1:
        assert started == ["zones", "users", "pets"]
    else:  # every held batch sent at once: zones, then users and pets, per batch
        assert started == ["zones", "users", "pets"] * 3
