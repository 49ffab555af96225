"""Write modes, markers, identifiers and types against real SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

import polars as pl
import pytest
import sqlalchemy as sa

from sluice.destinations import LoadMeta
from sluice.destinations.sql import SqlDestination
from sluice.errors import LoadError
from sluice.schema import ColumnSpec, TableSpec
from tests.support.warehouses import EVERY_TYPE, EVERY_TYPE_SCHEMA

SPEC = TableSpec("people", [ColumnSpec("id", "integer"), ColumnSpec("name", "string")], ["id"])


def frame(*rows: tuple[int, str | None]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"id": pl.Int64, "name": pl.String}, orient="row")


def rows(dest: SqlDestination, relation: str = "people") -> list[tuple[object, ...]]:
    with dest.engine.connect() as c:
        q = f"SELECT id, name FROM {dest.quote(relation)} ORDER BY id"
        return [tuple(r) for r in c.execute(sa.text(q))]


def test_append_adds_rows_and_marker_makes_reload_a_no_op(dest: SqlDestination) -> None:
    dest.prepare(SPEC, "append")
    first = dest.load(SPEC, "append", "k1", [frame((1, "a")), frame((2, "b"))])
    assert (first.rows, first.already_loaded) == (2, False)
    again = dest.load(SPEC, "append", "k1", [frame((3, "c"))])
    assert again.already_loaded and again.rows == 2
    dest.load(SPEC, "append", "k2", [frame((3, "c"))])
    assert rows(dest) == [(1, "a"), (2, "b"), (3, "c")]
    assert dest.is_loaded("k1") and not dest.is_loaded("nope")


def test_replace_swaps_the_table_and_readers_never_see_half(dest: SqlDestination) -> None:
    dest.prepare(SPEC, "replace")
    dest.load(SPEC, "replace", "r1", [frame((1, "old")), frame((2, "old"))])
    seen: list[list[tuple[object, ...]]] = []
    loading, looked = threading.Event(), threading.Event()

    def slow() -> Iterator[pl.DataFrame]:
        yield frame((10, "new"))
        loading.set()
        looked.wait(10)  # a reader looks while the load is open
        yield frame((11, "new"))

    def reader() -> None:
        loading.wait(10)
        seen.append(rows(dest))
        looked.set()

    t = threading.Thread(target=reader)
    t.start()
    dest.load(SPEC, "replace", "r2", slow())
    t.join(10)
    assert seen == [[(1, "old"), (2, "old")]]
    assert rows(dest) == [(10, "new"), (11, "new")]


def test_merge_upserts_on_keys_and_is_idempotent(dest: SqlDestination) -> None:
    dest.prepare(SPEC, "merge")
    dest.load(SPEC, "merge", "m1", [frame((1, "a"), (2, "b"))])
    dest.load(SPEC, "merge", "m2", [frame((2, "B"), (3, "c"))])
    dest.load(SPEC, "merge", "m3", [frame((2, "B"), (3, "c"))])
    assert rows(dest) == [(1, "a"), (2, "B"), (3, "c")]


def test_a_merge_rewrites_only_rows_whose_values_changed(dest: SqlDestination) -> None:
    """Nulls compare as values (null -> null is no change, null <-> a value is), lists
    by their JSON; on PostgreSQL an unchanged row keeps its row version (``xmin``)."""
    spec = TableSpec(
        "people",
        [ColumnSpec("id", "integer"), ColumnSpec("name", "string"), ColumnSpec("tags", "list")],
        ["id"],
    )
    schema = {"id": pl.Int64, "name": pl.String, "tags": pl.List(pl.String)}

    def load(key: str, *data: tuple[int, str | None, list[str] | None]) -> None:
        dest.load(spec, "merge", key, [pl.DataFrame(data, schema=schema, orient="row")])

    def versions() -> dict[int, str]:
        with dest.engine.connect() as c:
            got = c.execute(sa.text("SELECT id, xmin::text FROM people"))
            return {int(i): str(v) for i, v in got}

    postgres = dest.engine.dialect.name == "postgresql"
    dest.prepare(spec, "merge")
    load("m1", (1, "a", ["x"]), (2, None, None), (3, "c", ["y", "z"]), (4, "d", None))
    before = versions() if postgres else {}
    load(
        "m2",
        (1, "a", ["x"]),
        (2, None, None),
        (3, None, ["y", "z"]),
        (4, "d", ["w"]),
        (5, "e", None),
    )
    assert rows(dest) == [(1, "a"), (2, None), (3, None), (4, "d"), (5, "e")]
    with dest.engine.connect() as c:
        tags = dict(c.execute(sa.text("SELECT id, tags FROM people")).all())
    assert {
        k: v if v is None or isinstance(v, list) else json.loads(v) for k, v in tags.items()
    } == {1: ["x"], 2: None, 3: ["y", "z"], 4: ["w"], 5: None}
    if postgres:
        after = versions()
        assert [i for i in (1, 2, 3, 4) if after[i] != before[i]] == [3, 4]
    load("m3", (2, "b", None), (3, "c", None))
    assert rows(dest) == [(1, "a"), (2, "b"), (3, "c"), (4, "d"), (5, "e")]


def test_a_merge_on_text_keys_of_every_kind_updates_each_row_once(dest: SqlDestination) -> None:
    """Keys that sort differently by bytes and by a language's rules (case, accents,
    digits as text): PostgreSQL sends the staged rows in byte order, which changes
    how fast the upsert goes, never which row a key updates."""
    spec = TableSpec("codes", [ColumnSpec("code", "string"), ColumnSpec("n", "integer")], ["code"])
    keys = ["b", "B", "a", "é", "e", "10", "9", "Z-1", "z_1", "ß", "ss", " x", "x"]

    def load(key: str, pairs: list[tuple[str, int]]) -> None:
        data = pl.DataFrame(pairs, schema={"code": pl.String, "n": pl.Int64}, orient="row")
        dest.load(spec, "merge", key, [data])

    dest.prepare(spec, "merge")
    load("m1", [(k, 1) for k in keys[::2]])
    load("m2", [(k, 2) for k in reversed(keys)])
    with dest.engine.connect() as c:
        got = dict(c.execute(sa.text("SELECT code, n FROM codes")).all())
    assert got == dict.fromkeys(keys, 2)


def test_a_merge_given_one_key_twice_fails_and_leaves_the_table(dest: SqlDestination) -> None:
    """The validator keeps a load's keys unique; should two rows of one key reach the
    destination all the same, the load fails whole rather than keeping either."""
    dest.prepare(SPEC, "merge")
    dest.load(SPEC, "merge", "m1", [frame((1, "a"))])
    with pytest.raises(LoadError, match="loading table 'people' failed") as caught:
        dest.load(SPEC, "merge", "m2", [frame((1, "b"), (2, "c")), frame((1, "d"))])
    assert caught.value.hint == "the table is unchanged; fix the cause and run again"
    assert rows(dest) == [(1, "a")]
    assert not dest.is_loaded("m2")


def test_a_merge_in_many_batches_is_one_transaction(dest: SqlDestination) -> None:
    """A reader sees the table as it was until the commit, and a load that breaks
    after some batches were staged leaves the table as it was."""
    dest.prepare(SPEC, "merge")
    dest.load(SPEC, "merge", "m1", [frame((1, "a"), (2, "b"))])
    seen: list[list[tuple[object, ...]]] = []

    def batches() -> Iterator[pl.DataFrame]:
        yield frame((2, "B"), (4, "d"))
        yield frame((1, "A"))
        seen.append(rows(dest))  # another connection, two batches in
        yield frame((5, "e"))

    dest.load(SPEC, "merge", "m2", batches())
    assert seen == [[(1, "a"), (2, "b")]]
    assert rows(dest) == [(1, "A"), (2, "B"), (4, "d"), (5, "e")]

    def broken() -> Iterator[pl.DataFrame]:
        yield frame((1, "x"))
        yield frame((6, "f"))
        raise RuntimeError("the source broke")

    with pytest.raises(RuntimeError, match="the source broke"):
        dest.load(SPEC, "merge", "m3", broken())
    assert rows(dest) == [(1, "A"), (2, "B"), (4, "d"), (5, "e")]
    assert not dest.is_loaded("m3")


def test_snapshot_keeps_loads_and_latest_view_shows_newest_per_source(
    dest: SqlDestination,
) -> None:
    dest.prepare(SPEC, "snapshot")
    now = datetime.now(UTC)
    dest.load(SPEC, "snapshot", "s1", [frame((1, "a1"), (2, "a1"))], LoadMeta(1, "a", now))
    dest.load(SPEC, "snapshot", "s2", [frame((1, "b1"))], LoadMeta(2, "b", now))
    dest.load(SPEC, "snapshot", "s3", [frame((3, "a3"))], LoadMeta(3, "a", now))
    assert len(rows(dest)) == 4
    assert rows(dest, "people_latest") == [(1, "b1"), (3, "a3")]
    with dest.engine.connect() as c:
        q = dest.quote  # MySQL reads "x" as a string, not a column
        sql = f"SELECT {q('_source')}, {q('_load_id')} FROM people ORDER BY 2, 1"
        got = c.execute(sa.text(sql)).all()
    assert [tuple(r) for r in got] == [("a", 1), ("a", 1), ("b", 2), ("a", 3)]


def test_prepare_adds_new_columns(dest: SqlDestination) -> None:
    dest.prepare(SPEC, "append")
    wider = TableSpec("people", [*SPEC.columns, ColumnSpec("email", "string")], ["id"])
    assert dest.prepare(wider, "append") == ["email"]
    assert dest.prepare(wider, "append") == []
    dest.load(wider, "append", "w", [frame((1, "a")).with_columns(email=pl.lit("x@y.z"))])
    with dest.engine.connect() as c:
        assert c.execute(sa.text("SELECT email FROM people")).scalar_one() == "x@y.z"


def test_hostile_identifiers_and_values_cannot_inject_sql(dest: SqlDestination) -> None:
    evil = 'x"; drop table people; --'
    spec = TableSpec("people", [ColumnSpec(evil, "string"), ColumnSpec("id", "integer")])
    dest.prepare(spec, "append")
    data = pl.DataFrame(
        {evil: ["'); DROP TABLE people; --", 'a "quoted", value\n2nd line'], "id": [1, 2]}
    )
    dest.load(spec, "append", "evil", [data])
    with dest.engine.connect() as c:
        got = c.execute(sa.text(f"SELECT {dest.quote(evil)} FROM people ORDER BY id")).scalars()
        assert list(got) == ["'); DROP TABLE people; --", 'a "quoted", value\n2nd line']


def test_types_round_trip(dest: SqlDestination) -> None:
    spec = TableSpec("typed", EVERY_TYPE)
    dest.prepare(spec, "append")
    ts = datetime(2024, 2, 29, 13, 45, 6, tzinfo=UTC)
    data = pl.DataFrame(
        {
            "d": [date(2024, 2, 29), None],
            "t": [ts, None],
            "n": [Decimal("1234.500000"), None],
            "b": [True, False],
            "i": [2**40, None],
            "s": ["", None],
            "f": [1.5, None],
        },
        schema=EVERY_TYPE_SCHEMA,
    )
    dest.load(spec, "append", "types", [data])
    with dest.engine.connect() as c:
        got = c.execute(
            sa.text("SELECT d, t, n, b, i, s, f FROM typed ORDER BY i IS NULL, i")
        ).all()
    first, second = got
    assert str(first[0]) == "2024-02-29"
    assert str(first[1]).startswith("2024-02-29 13:45:06")
    assert Decimal(str(first[2])) == Decimal("1234.5")
    assert bool(first[3]) is True and first[4] == 2**40
    assert first[5] == ""  # an empty string stays empty, not NULL
    assert second[5] is None and second[0] is None and second[4] is None
    assert first[6] == 1.5
    if dest.engine.dialect.name == "sqlite":
        # As SQLAlchemy's SQLite dialect reads them back: ISO text, 0/1 (a decimal's
        # text becomes a number under the column's NUMERIC affinity).
        with dest.engine.connect() as c:
            stored = c.execute(
                sa.text("SELECT d, typeof(d), t, n, typeof(n), b, typeof(b) FROM typed")
            ).all()
        assert sorted(stored, key=str) == sorted(
            [
                (
                    "2024-02-29",
                    "text",
                    "2024-02-29 13:45:06.000000+00:00",
                    1234.5,
                    "real",
                    1,
                    "integer",
                ),
                (None, "null", None, None, "null", 0, "integer"),
            ],
            key=str,
        )
