"""A quarantined row of a typed source (Parquet) keeps its fields as JSON text.

Its dates, times and decimals made the state store's write fail the whole run ("Object
of type date is not JSON serializable"). They are kept as ISO text now, which a replay
reads back as it reads a CSV field: the replayed row loads the values the file had."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import polars as pl

from sluice.config import load_project
from sluice.engine.replay import replay

YAML = """
pipelines:
  p:
    sources:
      s: {type: file, path: data/visits.parquet}
    table:
      name: visits
      columns:
        id: {type: integer, required: true}
        status: {type: string, accepted: [open, closed]}
        day: date
        at: datetime
        naive: datetime
        fee: decimal
        tags: list
"""


def test_a_typed_row_is_quarantined_as_text_and_replays_to_the_same_values(
    make_project: Any, run_project: Any, tmp_path: Any
) -> None:
    at = dt.datetime(2024, 3, 9, 23, 59, 58, 123456, tzinfo=dt.UTC)
    naive = dt.datetime(1999, 12, 31, 12, 0)
    frame = pl.DataFrame(
        {
            "id": [1, 2],
            "status": ["open", "pending"],  # pending: not accepted (yet)
            "day": [dt.date(2024, 2, 29), dt.date(1969, 7, 20)],
            "at": [at, at],
            "naive": [naive, naive],
            "fee": pl.Series(["12.50", "0.000001"]).cast(pl.Decimal(38, 6)),
            "tags": [["a"], ["b", "c"]],
        }
    )
    (tmp_path / "data").mkdir()
    frame.write_parquet(tmp_path / "data" / "visits.parquet")
    root = make_project(YAML)
    out = run_project(root)
    assert out.status == "succeeded_with_quarantine", out.report.errors
    (entry,) = out.quarantine("row")
    assert entry.payload == {
        "id": 2,
        "status": "pending",
        "day": "1969-07-20",
        "at": "2024-03-09T23:59:58.123456+00:00",
        "naive": "1999-12-31T12:00:00",
        "fee": "0.000001",
        "tags": '["b","c"]',
    }
    # the rule fixed, the replay loads the row's own values from that text
    (root / "sluice.yaml").write_text(YAML.replace("[open, closed]", "[open, closed, pending]"))
    (again,) = replay(load_project(root))
    assert again.status == "succeeded", again.errors
    row = {r["id"]: r for r in out.rows(order_by="id")}[2]
    assert row["day"] == "1969-07-20"
    assert dt.datetime.fromisoformat(row["at"]) == at
    assert dt.datetime.fromisoformat(row["naive"]) == naive.replace(tzinfo=dt.UTC)
    assert Decimal(str(row["fee"])) == Decimal("0.000001")
    assert row["tags"] == '["b","c"]'


NUMBERS_YAML = """
pipelines:
  p:
    sources:
      s: {type: file, path: data/events.parquet}
    table:
      name: events
      columns:
        id: {type: integer, required: true}
        created: {type: datetime, formats: [epoch_ms]}
        active: boolean
        seats: integer
"""


def test_typed_numbers_read_as_their_text_would(
    make_project: Any, run_project: Any, tmp_path: Any
) -> None:
    # A Parquet file's numbers were cast as Polars casts them: epoch milliseconds became
    # microseconds (1970-01-20), 2 a true boolean, 1.5 seats 1. They read as the same
    # numbers written in a CSV do: by the formats, 1/0, whole numbers only.
    frame = pl.DataFrame(
        {
            "id": [1, 2],
            "created": [1_700_000_000_000, 1_700_000_000_500],
            "active": [1, 2],
            "seats": [3.0, 1.5],
        }
    )
    (tmp_path / "data").mkdir()
    frame.write_parquet(tmp_path / "data" / "events.parquet")
    root = make_project(NUMBERS_YAML)
    out = run_project(root)
    assert out.status == "succeeded_with_quarantine", out.report.errors
    (entry,) = out.quarantine("row")
    assert entry.reasons == [
        "active: '2' is not a valid boolean",
        "seats: '1.5' is not a valid integer",
    ]
    (row,) = out.rows(order_by="id")
    assert dt.datetime.fromisoformat(row["created"]) == dt.datetime(
        2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC
    )
    assert (row["active"], row["seats"]) == (1, 3)


def test_typed_values_of_other_kinds_are_read_as_their_text(
    make_project: Any, run_project: Any, tmp_path: Any
) -> None:
    # pandas' categories (dictionary-encoded strings) failed the run with a traceback
    # ("cannot cast categorical types to Int64"), as did byte strings; a date in an
    # integer column loaded as its days since 1970, a timestamp as its microseconds,
    # a duration as its microseconds, and a boolean as 1. Each now reads as its text
    # would: the category's value, the bytes' UTF-8, or a refusal saying what it was.
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "id": pa.array(["7", "7", "xy", "12"]).dictionary_encode(),
            "code": pa.array([b"A1", b"\xff", b"C3", b"D4"], pa.binary()),
            "n": pa.array([dt.date(2024, 1, 2), None, None, None], pa.date32()),
            "m": pa.array([None, dt.timedelta(days=1), None, None], pa.duration("us")),
            "flag": pa.array([None, None, True, None]),
            "tags": pa.array([None, None, {"a": 1, "b": 2}, None]),
        }
    )
    (tmp_path / "data").mkdir()
    pq.write_table(table, tmp_path / "data" / "t.parquet")
    root = make_project(
        """
pipelines:
  p:
    sources:
      s: {type: file, path: data/t.parquet}
    table:
      name: t
      columns: {id: integer, code: string, n: integer, m: integer, flag: integer, tags: list}
"""
    )
    out = run_project(root)
    assert out.status == "succeeded_with_quarantine", out.report.errors
    assert out.rows("t") == [
        {"id": 12, "code": "D4", "n": None, "m": None, "flag": None, "tags": None}
    ]
    reasons = {e.line: e.reasons for e in out.quarantine("row")}
    assert reasons == {
        1: ["n: '2024-01-02' is not a valid integer"],
        2: [
            "code: '<bytes that are not UTF-8>' is not a valid string",
            "m: 'P1D' is not a valid integer",
        ],
        3: [
            "id: 'xy' is not a valid integer",
            "flag: 'true' is not a valid integer",
            """tags: '{"a":1,"b":2}' is not a valid list""",
        ],
    }
