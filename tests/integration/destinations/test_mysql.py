"""MySQL/MariaDB specifics against a real server: both bulk paths, swaps, strictness, leads."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa

from sluice.destinations import LoadMeta, Target, connect, mysql_stream
from sluice.destinations import mysql as mysql_dest
from sluice.destinations.mysql import MysqlDestination
from sluice.destinations.sql import SqlDestination
from sluice.errors import LoadError
from sluice.schema import ColumnSpec, TableSpec
from sluice.testing import copy_example

AWKWARD = [
    "",
    None,
    "NULL",
    "null",
    "Null",
    "\\N",
    "a,b",
    'say "hi"',
    '"',
    'ends with "',
    '",',
    "back\\slash",
    "ends with \\",
    '\\"',
    "tab\there",
    "line\nbreak",
    "crlf\r\n",
    "\n",
    " padded ",
    "ünïcödé ✓",
    "emoji 😀🎉",
    "'); DROP TABLE t; --",
]
SPEC = TableSpec("t", [ColumnSpec("id", "integer"), ColumnSpec("s", "string")], ["id"])


@pytest.fixture
def mdest(mysql_url: str) -> Iterator[MysqlDestination]:
    d = connect(mysql_url)
    assert isinstance(d, MysqlDestination)
    yield d
    d.close()


def select(dest: MysqlDestination, sql: str) -> list[tuple[Any, ...]]:
    with dest.engine.connect() as c:
        return [tuple(r) for r in c.execute(sa.text(sql))]


def awkward(values: list[str | None] = AWKWARD) -> pl.DataFrame:
    return pl.DataFrame(
        {"id": range(len(values)), "s": values}, schema={"id": pl.Int64, "s": pl.String}
    )


@pytest.mark.parametrize(
    "values",
    [AWKWARD, [v for v in AWKWARD if v != "NULL"]],
    ids=["with-NULL-word", "without"],  # a string "NULL" makes every string quoted
)
@pytest.mark.parametrize("bulk", [True, False], ids=["load-data", "insert"])
def test_awkward_strings_round_trip_exactly(
    mdest: MysqlDestination,
    bulk: bool,
    values: list[str | None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mdest.local_infile = bulk
    if bulk:  # the rows must really go by LOAD DATA, not by the fallback

        def no_insert(*args: object) -> int:
            raise AssertionError("INSERT fallback used")

        monkeypatch.setattr(mdest, "_insert", no_insert)
    for mode in ("append", "merge"):
        spec = TableSpec(f"t_{mode}", SPEC.columns, SPEC.keys)
        mdest.prepare(spec, mode)
        assert mdest.load(spec, mode, f"k-{mode}", [awkward(values)]).rows == len(values)
        got = select(mdest, f"SELECT id, s FROM t_{mode} ORDER BY id")
        assert [s for _, s in got] == values, mode


def test_a_server_that_refuses_local_infile_gets_inserts(mysql_url: str) -> None:
    dest = connect(mysql_url + "?local_infile=0")  # the client flag off: the server says no
    assert isinstance(dest, MysqlDestination) and dest.local_infile is False
    dest.local_infile = True  # try anyway: the refusal is detected, rows go by INSERT
    try:
        dest.prepare(SPEC, "append")
        dest.load(SPEC, "append", "k", [awkward()])
        assert dest.local_infile is False
        assert [s for (s,) in select(dest, "SELECT s FROM t ORDER BY id")] == AWKWARD
    finally:
        dest.close()


@pytest.mark.parametrize("bulk", [True, False], ids=["load-data", "insert"])
def test_hostile_column_names_on_both_paths(mdest: MysqlDestination, bulk: bool) -> None:
    mdest.local_infile = bulk
    names = ["x`; DROP TABLE t; --", "p%s%%(a)s", 'q"uote', "back\\slash"]
    spec = TableSpec("t`x", [ColumnSpec("id", "integer"), *(ColumnSpec(n) for n in names)])
    mdest.prepare(spec, "append")
    data = pl.DataFrame({"id": [1], **{n: [f"v{i}"] for i, n in enumerate(names)}})
    mdest.load(spec, "append", "evil", [data])
    cols = ", ".join(mdest.quote(n) for n in names)
    assert select(mdest, f"SELECT {cols} FROM {mdest.quote('t`x')}") == [("v0", "v1", "v2", "v3")]


@pytest.mark.parametrize("bulk", [True, False], ids=["load-data", "insert"])
def test_types_round_trip_including_lists_and_microseconds(
    mdest: MysqlDestination, bulk: bool
) -> None:
    mdest.local_infile = bulk
    spec = TableSpec(
        "typed",
        [
            ColumnSpec("i", "integer"),
            ColumnSpec("t", "datetime"),
            ColumnSpec("n", "decimal"),
            ColumnSpec("b", "boolean"),
            ColumnSpec("d", "date"),
            ColumnSpec("f", "float"),
            ColumnSpec("l", "list"),
        ],
    )
    mdest.prepare(spec, "append")
    ts = datetime(2024, 2, 28, 23, 59, 59, 123456, tzinfo=UTC)
    data = pl.DataFrame(
        {
            "i": [-(2**62), 2, 3],
            "t": [ts, ts.replace(year=1999), None],
            "n": [Decimal("-12345678901234567890.123456"), Decimal("0.000001"), None],
            "b": [True, False, None],
            "d": [date(1, 1, 1), date(9999, 12, 31), None],
            "f": [0.1 + 0.2, -1e300, None],
            "l": [["a", 'b"', "c,d"], [], None],
        },
        schema={
            "i": pl.Int64,
            "t": pl.Datetime("us", "UTC"),
            "n": pl.Decimal(38, 6),
            "b": pl.Boolean,
            "d": pl.Date,
            "f": pl.Float64,
            "l": pl.List(pl.String),
        },
    )
    mdest.load(spec, "append", "types", [data])
    got = select(mdest, "SELECT i, t, n, b, d, f, l FROM typed ORDER BY i")
    assert got == [
        (
            -(2**62),
            datetime(2024, 2, 28, 23, 59, 59, 123456),  # UTC wall time
            Decimal("-12345678901234567890.123456"),
            1,
            date(1, 1, 1),
            0.1 + 0.2,
            '["a","b\\"","c,d"]',
        ),
        (
            2,
            datetime(1999, 2, 28, 23, 59, 59, 123456),
            Decimal("0.000001"),
            0,
            date(9999, 12, 31),
            -1e300,
            "[]",
        ),
        (3, None, None, None, None, None, None),
    ]


def test_column_types_on_the_server(mdest: MysqlDestination) -> None:
    spec = TableSpec(
        "kinds",
        [ColumnSpec("k", "string"), ColumnSpec("s", "string"), ColumnSpec("t", "datetime")],
        ["k"],
    )
    mdest.prepare(spec, "merge")
    got = dict(
        select(
            mdest,
            "SELECT column_name, CONCAT(column_type, ' ', COALESCE(collation_name, '')) "
            "FROM information_schema.columns "
            "WHERE table_schema = DATABASE() AND table_name = 'kinds'",
        )
    )
    assert got == {
        "k": "varchar(255) utf8mb4_nopad_bin",
        "s": "longtext utf8mb4_nopad_bin",
        "t": "datetime(6) ",
    }


def test_keys_compare_exactly_case_and_trailing_spaces(mdest: MysqlDestination) -> None:
    spec = TableSpec("k", [ColumnSpec("k", "string"), ColumnSpec("v", "integer")], ["k"])
    mdest.prepare(spec, "merge")
    mdest.load(spec, "merge", "m1", [pl.DataFrame({"k": ["a", "A", "a "], "v": [1, 2, 3]})])
    mdest.load(spec, "merge", "m2", [pl.DataFrame({"k": ["a "], "v": [30]})])
    assert sorted(select(mdest, "SELECT k, v FROM k")) == [("A", 2), ("a", 1), ("a ", 30)]


@pytest.mark.parametrize("bulk", [True, False], ids=["load-data", "insert"])
def test_values_that_do_not_fit_fail_the_load_instead_of_changing(
    mdest: MysqlDestination, bulk: bool
) -> None:
    """LOAD DATA LOCAL only warns (NULL -> 0, duplicates skipped, truncation): an error here."""
    mdest.local_infile = bulk
    spec = TableSpec("f", [ColumnSpec("k", "string"), ColumnSpec("n", "integer", False)], ["k"])
    mdest.prepare(spec, "merge")
    mdest.load(spec, "merge", "ok", [pl.DataFrame({"k": ["a"], "n": [1]})])
    bad = [
        pl.DataFrame({"k": ["b"], "n": [None]}, schema={"k": pl.String, "n": pl.Int64}),
        pl.DataFrame({"k": ["x" * 256], "n": [2]}),
        pl.DataFrame({"k": ["c", "c"], "n": [3, 4]}),
    ]
    for i, frame in enumerate(bad):
        with pytest.raises(LoadError):
            mdest.load(spec, "merge", f"bad{i}", [frame])
        assert not mdest.is_loaded(f"bad{i}")
    assert select(mdest, "SELECT k, n FROM f") == [("a", 1)]


def _batches(n: int, rows: int = 3) -> list[pl.DataFrame]:
    return [
        pl.DataFrame({"id": range(i * rows, (i + 1) * rows), "s": [f"b{i}"] * rows})
        for i in range(n)
    ]


#: this test's database's LOAD DATA statements under way (other tests run beside it)
RUNNING_LOADS = (
    "FROM information_schema.PROCESSLIST WHERE INFO LIKE 'LOAD DATA%' AND DB = DATABASE()"
)


def _spooled(dest: MysqlDestination) -> list[Path]:
    return sorted(dest._spool.iterdir()) if dest._spool and dest._spool.is_dir() else []


def test_a_bad_value_in_a_later_batch_rolls_back_the_batches_before(
    mdest: MysqlDestination,
) -> None:
    """Batches load while the next is written: a refusal found for batch 3 (of 5) still
    fails the whole load, with no row and no CSV file left behind."""
    spec = TableSpec("p", [ColumnSpec("id", "integer"), ColumnSpec("s", "string", False)])
    mdest.prepare(spec, "append")
    frames = _batches(5)
    frames[2] = frames[2].with_columns(pl.lit(None, pl.String).alias("s"))
    with pytest.raises(LoadError, match="loading table 'p' failed"):
        mdest.load(spec, "append", "k", frames)
    assert select(mdest, "SELECT COUNT(*) FROM p") == [(0,)]
    assert not mdest.is_loaded("k") and _spooled(mdest) == []
    assert mdest.load(spec, "append", "k", _batches(5)).rows == 15  # the connection is fine


def test_an_error_upstream_while_a_batch_loads_leaves_nothing(mdest: MysqlDestination) -> None:
    """The rows' source fails while the server loads the batch before: the source's own
    error is what the caller sees, and no statement, row, marker or CSV file is left."""
    spec = TableSpec("u", [ColumnSpec("id", "integer"), ColumnSpec("s", "string")])
    mdest.prepare(spec, "append")

    def failing() -> Iterator[pl.DataFrame]:
        yield from _batches(2, rows=300_000)  # the second one's LOAD DATA runs on
        raise RuntimeError("the source broke")

    with pytest.raises(RuntimeError, match="the source broke"):
        mdest.load(spec, "append", "k", failing())
    running = f"SELECT COUNT(*) {RUNNING_LOADS}"
    assert select(mdest, running) == [(0,)]  # nothing of the load goes on after it
    assert select(mdest, "SELECT COUNT(*) FROM u") == [(0,)]
    assert not mdest.is_loaded("k") and _spooled(mdest) == []
    assert mdest.load(spec, "append", "k", _batches(4)).rows == 12


def test_a_refusal_of_local_files_mid_load_inserts_every_batch_in_order(
    mysql_url: str,
) -> None:
    dest = connect(mysql_url + "?local_infile=0")
    assert isinstance(dest, MysqlDestination)
    dest.local_infile = True  # the first batch's LOAD DATA is refused: found before any row
    spec = TableSpec("r", [ColumnSpec("id", "integer"), ColumnSpec("s", "string")])
    try:
        dest.prepare(spec, "append")
        assert dest.load(spec, "append", "k", _batches(4)).rows == 12
        assert dest.local_infile is False
        got = select(dest, "SELECT id, s FROM r ORDER BY id")
        assert got == [(i, f"b{i // 3}") for i in range(12)]
        assert _spooled(dest) == []
    finally:
        dest.close()


def test_a_load_streams_its_batches_through_one_statement_per_table(
    mdest: MysqlDestination, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One LOAD DATA reads every batch of a table (as one COPY does in PostgreSQL): no
    statement per batch, no file per batch."""
    made: list[mysql_stream.LoadStream] = []

    class Counted(mysql_stream.LoadStream):
        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            made.append(self)

    monkeypatch.setattr(mysql_dest, "LoadStream", Counted)
    spec = TableSpec("one", [ColumnSpec("id", "integer"), ColumnSpec("s", "string")])
    mdest.prepare(spec, "append")
    assert mdest.load(spec, "append", "k", _batches(6, rows=5_000)).rows == 30_000
    assert [m.rows for m in made] == [30_000]
    assert select(mdest, "SELECT COUNT(*), COUNT(DISTINCT id), MAX(id) FROM one") == [
        (30_000, 30_000, 29_999)
    ]
    assert _spooled(mdest) == []


def test_a_statement_killed_mid_stream_fails_the_load_and_leaves_nothing(
    mdest: MysqlDestination, mysql_url: str
) -> None:
    """The server ends the LOAD DATA while batches still come (KILL QUERY, as an
    operator or a timeout would): the load fails instead of hanging or loading part."""
    spec = TableSpec("killed", [ColumnSpec("id", "integer"), ColumnSpec("s", "string")])
    mdest.prepare(spec, "append")
    running = f"SELECT ID {RUNNING_LOADS}"

    def batches() -> Iterator[pl.DataFrame]:
        frames = _batches(8, rows=50_000)
        yield frames[0]
        deadline = time.monotonic() + 10
        while not (ids := select(mdest, running)) and time.monotonic() < deadline:
            time.sleep(0.01)
        with mdest.engine.connect() as admin:
            admin.execute(sa.text(f"KILL QUERY {int(ids[0][0])}"))
        yield from frames[1:]

    started = time.monotonic()
    with pytest.raises(LoadError, match="loading table 'killed' failed"):
        mdest.load(spec, "append", "k", batches())
    assert time.monotonic() - started < 30
    assert select(mdest, running) == []
    assert select(mdest, "SELECT COUNT(*) FROM killed") == [(0,)]
    assert not mdest.is_loaded("k") and _spooled(mdest) == []
    assert mdest.load(spec, "append", "k", _batches(3)).rows == 9  # and the next load works


def test_loads_on_threads_of_one_destination_each_stream_through_a_pipe_of_their_own(
    mdest: MysqlDestination, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Celery worker's threads share its kept warehouse: their loads run at once,
    each through its own pipe, none falling back to INSERT."""

    def no_insert(*args: object) -> int:
        raise AssertionError("INSERT fallback used")

    monkeypatch.setattr(mdest, "_insert", no_insert)
    specs = [
        TableSpec(f"th{i}", [ColumnSpec("id", "integer"), ColumnSpec("s", "string")])
        for i in range(4)
    ]
    for spec in specs:
        mdest.prepare(spec, "append")
    errors: list[BaseException] = []

    def load(spec: TableSpec) -> None:
        try:
            for n in range(5):
                mdest.load(spec, "append", f"{spec.name}-{n}", _batches(3, rows=2_000))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=load, args=(spec,)) for spec in specs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == [] and mdest.local_infile
    for spec in specs:
        assert select(mdest, f"SELECT COUNT(*) FROM {spec.name}") == [(5 * 6_000,)]
    assert _spooled(mdest) == []


def _no_pipes(path: object, mode: int = 0o666) -> None:
    raise PermissionError(1, "Operation not permitted", str(path))


@pytest.mark.parametrize("where", ["system", "folder"])
def test_without_named_pipes_rows_go_by_insert(
    mdest: MysqlDestination, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """Where the system has no named pipes (Windows), or the temporary directory cannot
    hold one, the same rows go by INSERT."""
    if where == "system":
        monkeypatch.delattr(os, "mkfifo")
    else:
        monkeypatch.setattr(os, "mkfifo", _no_pipes)
    spec = TableSpec("nopipe", SPEC.columns)
    mdest.prepare(spec, "append")
    assert mdest.load(spec, "append", "k", [awkward(), awkward()]).rows == 2 * len(AWKWARD)
    assert mdest.local_infile is False
    got = select(mdest, "SELECT s FROM nopipe ORDER BY id")
    assert [s for (s,) in got] == [v for v in AWKWARD for _ in (0, 1)]


def test_replace_readers_see_all_old_or_all_new_tables(mdest: MysqlDestination) -> None:
    """Two tables replaced together; a reader polling both never sees a mix or half."""
    specs = [TableSpec(n, [ColumnSpec("id", "integer"), ColumnSpec("v")]) for n in ("a", "b")]
    targets = [Target(s, "replace") for s in specs]
    for s in specs:
        mdest.prepare(s, "replace")

    def batch(v: str, start: int) -> dict[str, pl.DataFrame]:
        frame = pl.DataFrame({"id": range(start, start + 500), "v": [v] * 500})
        return {"a": frame, "b": frame}

    mdest.load_tables(targets, "r1", [batch("old", 0), batch("old", 500)])
    seen: set[tuple[Any, ...]] = set()
    stop, read = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def reader() -> None:
        sql = (
            "SELECT (SELECT COUNT(*) FROM a), (SELECT MIN(v) FROM a), "
            "(SELECT COUNT(*) FROM b), (SELECT MIN(v) FROM b)"
        )
        try:
            while not stop.is_set():
                seen.update(select(mdest, sql))
                read.set()
        except BaseException as exc:
            errors.append(exc)

    def reads(n: int = 3) -> None:
        """Let the reader look ``n`` more times (instead of sleeping and hoping it did)."""
        for _ in range(n):
            read.clear()
            assert read.wait(10) or errors, "the reader stopped reading"

    def slow() -> Iterator[dict[str, pl.DataFrame]]:
        yield batch("new", 0)
        reads()
        yield batch("new", 500)
        reads()

    t = threading.Thread(target=reader)
    t.start()
    try:
        mdest.load_tables(targets, "r2", slow())
        reads()
    finally:
        stop.set()
        t.join(10)
    assert not errors
    assert seen == {(1000, "old", 1000, "old"), (1000, "new", 1000, "new")}
    tables = select(
        mdest,
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = DATABASE() ORDER BY 1",
    )
    assert sorted(n for (n,) in tables) == ["_sluice_loads", "a", "b"]  # no stage, no old left


def test_merge_is_idempotent_and_a_marker_makes_a_repeat_a_no_op(mdest: MysqlDestination) -> None:
    mdest.prepare(SPEC, "merge")
    frame = pl.DataFrame({"id": [1, 2], "s": ["a", "b"]})
    assert not mdest.load(SPEC, "merge", "m1", [frame]).already_loaded
    again = mdest.load(SPEC, "merge", "m1", [pl.DataFrame({"id": [9], "s": ["z"]})])
    assert again.already_loaded and again.rows == 2
    mdest.load(SPEC, "merge", "m2", [frame])  # the same rows under a new key: same table
    assert select(mdest, "SELECT id, s FROM t ORDER BY id") == [(1, "a"), (2, "b")]
    # No stage is left behind, and nothing is left open: a second connection sees it all.
    assert select(mdest, "SELECT COUNT(*) FROM _sluice_loads") == [(2,)]


def test_load_keys_that_differ_only_in_case_are_different_loads(
    mdest: MysqlDestination,
) -> None:
    mdest.prepare(SPEC, "append")
    mdest.load(SPEC, "append", "Leads/s/abc", [pl.DataFrame({"id": [1], "s": ["a"]})])
    second = mdest.load(SPEC, "append", "leads/s/abc", [pl.DataFrame({"id": [2], "s": ["b"]})])
    assert not second.already_loaded
    assert mdest.is_loaded("leads/s/abc") and not mdest.is_loaded("leads/s/abc ")
    assert select(mdest, "SELECT id FROM t ORDER BY id") == [(1,), (2,)]


def test_replace_and_snapshot_repeat_are_no_ops(mdest: MysqlDestination) -> None:
    mdest.prepare(SPEC, "replace")
    frame = pl.DataFrame({"id": [1], "s": ["a"]})
    mdest.load(SPEC, "replace", "r1", [frame])
    assert mdest.load(SPEC, "replace", "r1", [frame.with_columns(s=pl.lit("b"))]).already_loaded
    assert select(mdest, "SELECT id, s FROM t") == [(1, "a")]
    snap = TableSpec("snap", SPEC.columns)
    mdest.prepare(snap, "snapshot")
    meta = LoadMeta(1, "src", datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC))
    mdest.load(snap, "snapshot", "s1", [frame], meta)
    assert mdest.load(snap, "snapshot", "s1", [frame], meta).already_loaded
    got = select(mdest, "SELECT id, s, _load_id, _loaded_at, _source FROM snap_latest")
    assert got == [(1, "a", 1, datetime(2026, 1, 2, 3, 4, 5, 678901), "src")]


def test_merge_on_an_existing_table_adds_the_unique_index_once(mdest: MysqlDestination) -> None:
    mdest.prepare(SPEC, "append")
    mdest.prepare(SPEC, "merge")
    mdest.prepare(SPEC, "merge")  # MySQL 8 has no CREATE UNIQUE INDEX IF NOT EXISTS
    assert select(
        mdest,
        "SELECT DISTINCT index_name FROM information_schema.statistics "
        "WHERE table_schema = DATABASE() AND table_name = 't'",
    ) == [("ux_t_keys",)]
    mdest.load(SPEC, "merge", "m", [pl.DataFrame({"id": [1, 1], "s": ["a", "b"]}).head(1)])
    mdest.load(SPEC, "merge", "m2", [pl.DataFrame({"id": [1], "s": ["c"]})])
    assert select(mdest, "SELECT id, s FROM t") == [(1, "c")]


# ------------------------------------------------------------------ the leads example

COLUMNS = "license_number, facility_name, state, capacity, licensed_since, monthly_rate, _source"


def leads_outcome(url: str, root: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Run leads, fix the drifted mapping, replay: what the warehouse and reports say."""
    from sluice.config import load_project
    from sluice.engine import run_pipeline
    from sluice.engine.replay import replay
    from sluice.state.store import StateStore

    copy_example("leads", root)
    monkeypatch.setenv("SLUICE_WAREHOUSE_URL", url)
    monkeypatch.delenv("SLUICE_STATE_URL", raising=False)
    report = run_pipeline(load_project(root), "leads")
    counts = {
        s: (r.counts.read, r.counts.loaded, r.counts.quarantined, r.counts.filtered)
        for s, r in report.streams.items()
    }
    text = (root / "sluice.yaml").read_text()
    text = text.replace("telephone]", "telephone, contact phone]").replace(
        'csv: {delimiter: ";", encoding: latin-1}',
        'csv: {delimiter: ";", encoding: latin-1}\n        ignore: [website]',
    )
    (root / "sluice.yaml").write_text(text)
    (fixed,) = replay(load_project(root))
    again = run_pipeline(load_project(root), "leads")
    store = StateStore(load_project(root).state_url())
    try:
        quarantine = sorted((e.kind, e.status) for e in store.quarantined(pipeline="leads"))
    finally:
        store.close()
    dest = connect(url)
    assert isinstance(dest, SqlDestination)
    try:
        with dest.engine.connect() as c:
            cols = ", ".join(dest.quote(x.strip()) for x in COLUMNS.split(","))
            latest = sorted(
                (tuple(r) for r in c.execute(sa.text(f"SELECT {cols} FROM leads_latest"))),
                key=repr,
            )
            total = c.execute(sa.text("SELECT COUNT(*) FROM leads")).scalar_one()
    finally:
        dest.close()
    return {
        "status": report.status,
        "counts": counts,
        "replayed": fixed.totals.loaded,
        "again": (again.status, again.totals.loaded),
        "quarantine": quarantine,
        "rows": total,
        "latest": latest,
    }


def test_leads_example_on_mariadb_matches_postgresql(
    mysql_url: str, pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    maria = leads_outcome(mysql_url, tmp_path / "maria", monkeypatch)
    pg = leads_outcome(pg_url, tmp_path / "pg", monkeypatch)
    assert maria["counts"] == {
        "source1": (29, 20, 5, 4),
        "source2": (18, 15, 3, 0),
        "source3": (20, 19, 1, 0),
    }
    assert (maria["status"], maria["replayed"], maria["rows"]) == (
        "succeeded_with_quarantine",
        12,
        66,
    )
    assert maria["again"] == ("succeeded", 0)
    assert len(maria["latest"]) == 51
    assert maria == pg
