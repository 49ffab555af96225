"""Values and files refused with a reason, then loaded by the fix the reason or hint
names: the setting or step, pasted as the docs or the message give it, then
`sluice quarantine replay`. Each refusal was a silently changed value or a file set
aside with no way forward."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from sluice.transforms.cast import DOT_NOTE, EITHER_WAY_NOTE
from tests.support.cli import sluice

PROJECT = """\
warehouse: sqlite:///w.db
pipelines:
  p:
    sources:
      s: {{type: file, path: {path}}}
    table:
      name: t
      columns: {columns}
"""


def refused_then_fixed(
    tmp_path: Path,
    files: dict[str, bytes],
    source: str,
    columns: str,
    fixed: Callable[[str, list[dict[str, Any]]], str],
    query: str,
    replay_exit: int = 0,
    steps: str = "",
) -> tuple[list[dict[str, Any]], list[tuple[Any, ...]]]:
    """Run a project (with ``steps``, if any) whose rows or files are refused; write
    ``fixed(yaml, entries)`` and replay (exiting ``replay_exit``: 3 when rows stay
    refused): (the quarantine entries of the first run, ``query``'s rows after)."""
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(content)
    yaml = PROJECT.format(path=source, columns=columns)
    yaml = with_step(steps)(yaml, []) if steps else yaml
    (tmp_path / "sluice.yaml").write_text(yaml)
    out = sluice("run", "p", "-p", str(tmp_path), "--json")
    assert out.returncode == 3, out.stdout + out.stderr
    entries = json.loads(sluice("quarantine", "list", "-p", str(tmp_path), "--json").stdout)
    (tmp_path / "sluice.yaml").write_text(fixed(yaml, entries))
    replayed = sluice("quarantine", "replay", "-p", str(tmp_path), "--json")
    assert replayed.returncode == replay_exit, replayed.stdout + replayed.stderr
    with closing(sqlite3.connect(tmp_path / "w.db")) as conn:
        return entries, conn.execute(query).fetchall()


def step_named(after: str) -> Callable[[str, list[dict[str, Any]]], str]:
    """The fix the first entry's reason names: the step written after ``after``, pasted."""

    def fixed(yaml: str, entries: list[dict[str, Any]]) -> str:
        step = entries[0]["reasons"][0].split(after)[1].split(", then `")[0]
        return with_step(step)(yaml, entries)

    return fixed


def discard_as_hinted(root: Path, entry: dict[str, Any]) -> None:
    """Run the command a set-aside file's hint closes its entry with, its ID filled in."""
    discard = entry["payload"]["hint"].split("close this entry with `")[1].split("`")[0]
    assert discard == "sluice quarantine discard ID"
    command = discard.replace("ID", str(entry["id"])).split()[1:]
    assert sluice(*command, "-p", str(root)).returncode == 0


def with_step(step: str) -> Callable[[str, list[dict[str, Any]]], str]:
    return lambda yaml, _: yaml.replace(
        "    table:\n", f"    transforms:\n      - {step}\n    table:\n"
    )


def test_decimal_commas_are_refused_and_load_through_the_documented_derive(
    tmp_path: Path,
) -> None:
    # A European export: taking its commas out stored 12,5 as 125 and 1.234,56 as 1.23456.
    entries, rows = refused_then_fixed(
        tmp_path,
        {"data/eu.csv": b"id;amount\n1;12,5\n2;1.234,56\n3;7\n"},
        'data/*.csv, csv: {delimiter: ";"}',
        "{id: integer, amount: decimal}",
        # docs/reference/tables.md: the step that turns decimal commas around
        with_step(
            """derive: {column: amount, sql: "replace(replace(amount, '.', ''), ',', '.')"}"""
        ),
        "SELECT id, CAST(amount AS TEXT) FROM t ORDER BY id",
    )
    assert [(e["line"], e["reasons"][0].split(" is not")[0]) for e in entries] == [
        (2, "amount: '12,5'"),
        (3, "amount: '1.234,56'"),
    ]
    assert all(
        "a comma only separates thousands (1,234.5) unless the file is read with a decimal "
        "comma: set its source's csv.decimal: ','" in e["reasons"][0]
        for e in entries
    )
    assert rows == [(1, "12.5"), (2, "1234.56"), (3, "7")]


@pytest.mark.parametrize(
    ("mark", "loaded"),
    [(",", [(1, "1.234"), (2, "1.5"), (3, "1234.5")]), (".", [(1, "1234")])],
)
@pytest.mark.parametrize("excel", [False, True], ids=["delimiter", "excel-sep-line"])
def test_a_comma_that_may_be_either_mark_is_refused_and_loads_as_csv_decimal_states(
    tmp_path: Path, mark: str, loaded: list[tuple[int, str]], excel: bool
) -> None:
    # A file delimited by ';' (as spreadsheets write where the comma is the decimal
    # mark): `1,234` was stored as 1234 beside `1,5`, refused. Either mark may be
    # stated; the one the file writes reads every row (`1,5` only under ',').
    sep, delimiter = (b"sep=;\n", "") if excel else (b"", 'delimiter: ";"')
    entries, rows = refused_then_fixed(
        tmp_path,
        {"data/eu.csv": sep + b"id;amount\n1;1,234\n2;1,5\n3;1.234,5\n"},
        f"data/*.csv, csv: {{{delimiter}}}",
        "{id: integer, amount: decimal}",
        # the reasons' setting, pasted
        lambda yaml, _: yaml.replace("csv: {", f"csv: {{decimal: '{mark}', "),
        "SELECT id, CAST(amount AS TEXT) FROM t ORDER BY id",
        replay_exit=0 if mark == "," else 3,  # under '.', 1,5 and 1.234,5 stay refused
    )
    line = 3 if excel else 2
    assert [(e["line"], e["reasons"][0].split(" (at most")[0]) for e in entries] == [
        (line, "amount: '1,234' is not a valid decimal"),
        (line + 1, "amount: '1,5' is not a valid decimal"),
        (line + 2, "amount: '1.234,5' is not a valid decimal"),
    ]
    assert entries[0]["reasons"][0].endswith(EITHER_WAY_NOTE)
    assert "set its source's csv.decimal: ','" in entries[1]["reasons"][0]
    assert rows == loaded


def test_the_amount_and_cast_steps_read_numbers_with_the_files_decimal_mark(
    tmp_path: Path,
) -> None:
    # The steps read every file's numbers as US text: in a ';' file `1,234` became 1234
    # (a decimal column refused it as either), and under csv.decimal: ',' `1.234` was
    # 1.234 and `5,00 €` refused. Once the mark is stated, a replay reads them all.
    step = "amount: {columns: [price]}\n      - cast: {column: qty, to: float}"
    entries, rows = refused_then_fixed(
        tmp_path,
        {"data/eu.csv": "sep=;\nid;price;qty\n1;1,234;1.234\n2;5,00 €;2,5\n".encode()},
        "data/*.csv",
        "{id: integer, price: decimal, qty: float}",
        lambda yaml, _: yaml.replace("path: data/*.csv", "path: data/*.csv, csv: {decimal: ','}"),
        "SELECT id, CAST(price AS TEXT), qty FROM t ORDER BY id",
        steps=step,
    )
    assert [(e["line"], [r.split(" is not")[0] for r in e["reasons"]]) for e in entries] == [
        (3, ["price: '1,234'"]),
        (4, ["price: '5,00 €'", "qty: '2,5'"]),
    ]
    assert entries[0]["reasons"][0].endswith(EITHER_WAY_NOTE)
    assert rows == [(1, "1.234", 1234.0), (2, "5", 2.5)]


def test_amounts_with_a_decimal_comma_load_with_the_setting_their_reason_names(
    tmp_path: Path,
) -> None:
    # A spreadsheet's `sep=;` export with `120,50` and `5,00 €`: the amount step refused
    # them listing the forms it reads, naming no setting; a number column named one.
    def pasted(yaml: str, entries: list[dict[str, Any]]) -> str:
        named = {r.split("set its source's ")[1].split(" (a CSV")[0] for r in reasons(entries)}
        assert named == {"csv.decimal: ','"}
        return yaml.replace("path: data/*.csv", "path: data/*.csv, csv: {decimal: ','}")

    def reasons(entries: list[dict[str, Any]]) -> list[str]:
        return [r for e in entries for r in e["reasons"]]

    entries, rows = refused_then_fixed(
        tmp_path,
        {"data/eu.csv": "sep=;\r\nid;price\r\n1;120,50\r\n2;5,00 €\r\n3;1.234,56\r\n".encode()},
        "data/*.csv",
        "{id: integer, price: decimal}",
        pasted,
        "SELECT id, CAST(price AS TEXT) FROM t ORDER BY id",
        steps="amount: {columns: [price]}",
    )
    assert [e["line"] for e in entries] == [3, 4, 5]
    assert rows == [(1, "120.5"), (2, "5"), (3, "1234.56")]


def test_a_typographic_minus_is_refused_and_loads_through_the_step_its_reason_names(
    tmp_path: Path,
) -> None:
    # Tables copied from typeset pages write U+2212 or an en dash (U+2013) for a minus: it was
    # "not a valid float", with nothing to tell it from the `-5` it looks like.
    entries, rows = refused_then_fixed(
        tmp_path,
        {"data/t.csv": "year,change\r\n2019,\u22125.2\r\n2020,\u20130.5\r\n2021,1.5\r\n".encode()},
        "data/*.csv",
        "{year: integer, change: float}",
        step_named("add the step "),
        "SELECT year, change FROM t ORDER BY year",
    )
    assert [e["line"] for e in entries] == [2, 3]
    assert rows == [(2019, -5.2), (2020, -0.5), (2021, 1.5)]


def test_a_typographic_minus_in_money_loads_through_the_step_the_amount_step_names(
    tmp_path: Path,
) -> None:
    # The derive must come before the amount step, which reads the text: pasted where
    # the reason says, the amounts load.
    def pasted(yaml: str, entries: list[dict[str, Any]]) -> str:
        said = entries[0]["reasons"][0].split("add before this step the step ")[1]
        step = said.split(", then `")[0]
        return yaml.replace("      - amount:", f"      - {step}\n      - amount:")

    entries, rows = refused_then_fixed(
        tmp_path,
        {"data/t.csv": "id,price\n1,\u2212$5.00\n2,\u20131.5K\n3,$7\n".encode()},
        "data/*.csv",
        "{id: integer, price: decimal}",
        pasted,
        "SELECT id, CAST(price AS TEXT) FROM t ORDER BY id",
        steps="amount: {columns: [price]}",
    )
    assert [e["line"] for e in entries] == [2, 3]
    assert rows == [(1, "-5"), (2, "-1500"), (3, "7")]


@pytest.mark.parametrize(
    ("exported", "said", "loaded"),
    [
        # psql's CSV export of a timestamptz writes `+00`, `+05:30` only where it needs the
        # minutes: Python's %z reads neither `+00` nor `-03`, and the reason said only that.
        (
            "id,seen_at\n1,2024-01-05 10:00:00+00\n2,2024-01-05 10:00:00.25-03\n"
            "3,2024-01-05 10:00:00+05:30\n",
            {2: "its offset is whole hours", 3: "its offset is whole hours"},
            ["10:00:00.000000", "13:00:00.250000", "04:30:00.000000"],
        ),
        # BigQuery's CSV export writes a TIMESTAMP as `2024-01-05 10:00:00 UTC`: %z reads
        # offsets, not names, and the reason said only that the value was not a datetime.
        (
            "id,seen_at\n1,2024-01-05 10:00:00 UTC\n2,2024-01-05 10:00:00.25 UTC\n"
            "3,2024-01-05T23:59:59GMT\n4,2024-01-05 10:00:00+01:00\n",
            {n: "it names its zone (UTC" for n in (2, 3, 4)},
            ["10:00:00.000000", "10:00:00.250000", "23:59:59.000000", "09:00:00.000000"],
        ),
    ],
    ids=["postgresql-whole-hours", "bigquery-utc"],
)
def test_zones_percent_z_does_not_read_load_through_the_step_their_reason_names(
    tmp_path: Path, exported: str, said: dict[int, str], loaded: list[str]
) -> None:
    entries, rows = refused_then_fixed(
        tmp_path,
        {"data/export.csv": exported.encode()},
        "data/*.csv",
        "{id: integer, seen_at: datetime}",
        step_named("add the step "),
        "SELECT id, seen_at FROM t ORDER BY id",
    )
    assert {e["line"]: said[e["line"]] in e["reasons"][0] for e in entries} == dict.fromkeys(
        said, True
    )
    assert rows == [(i, f"2024-01-05 {t}+00:00") for i, t in enumerate(loaded, start=1)]


def test_pandas_float_booleans_load_through_the_step_their_reason_names(tmp_path: Path) -> None:
    # `df.to_csv()` of a bool column with a missing value writes 1.0, 0.0 and nothing.
    entries, rows = refused_then_fixed(
        tmp_path,
        {"data/frame.csv": b"id,active\n1,1.0\n2,0.0\n3,\n4,1\n"},
        "data/*.csv",
        "{id: integer, active: boolean}",
        step_named("add the step "),
        "SELECT id, active FROM t ORDER BY id",
    )
    assert [e["line"] for e in entries] == [2, 3]
    assert rows == [(1, 1), (2, 0), (3, None), (4, 1)]


def test_times_naming_their_zone_load_through_the_step_their_reason_names(
    tmp_path: Path,
) -> None:
    # A US agency's export: times end in EST or EDT (one file, winter and summer), a
    # European one's in CEST. Refused with only the formats tried; the step the first
    # reason names writes the offsets, and the times load as Python's strptime reads
    # the offsets; the other zone's row names its own step.
    written = ["2024-01-05 10:00:00 EST", "2024-07-05 10:00:00EDT", "2024-07-05 10:00:00 CEST"]
    data = "id,at\n" + "".join(f"{i},{t}\n" for i, t in enumerate(written, start=1))
    entries, rows = refused_then_fixed(
        tmp_path,
        {"data/noaa.csv": data.encode()},
        "data/*.csv",
        "{id: integer, at: datetime}",
        step_named("add the step "),
        "SELECT id, at FROM t ORDER BY id",
        replay_exit=3,
    )
    assert [e["line"] for e in entries] == [2, 3, 4]
    assert "it names its zone EST, which %z does not read" in entries[0]["reasons"][0]
    assert "to write CET as +01:00 and CEST as +02:00" in entries[2]["reasons"][0]
    offsets = ["2024-01-05 10:00:00-05:00", "2024-07-05 10:00:00-04:00"]
    utc = [datetime.strptime(t, "%Y-%m-%d %H:%M:%S%z").astimezone(UTC) for t in offsets]
    assert rows == [(i, f"{u:%Y-%m-%d %H:%M:%S}.000000+00:00") for i, u in enumerate(utc, 1)]


def _source_setting(after: str) -> Callable[[str, list[dict[str, Any]]], str]:
    """The source setting the first entry's reason names after ``after``, pasted."""

    def fixed(yaml: str, entries: list[dict[str, Any]]) -> str:
        setting = entries[0]["reasons"][0].split(after)[1].split(", then")[0]
        return yaml.replace("path: data/*.csv}", f"path: data/*.csv, {setting}}}")

    return fixed


DUMP = b"id,name,seen\n1,Ada,2024-01-05\n2,\\N,\\N\n3,,2024-01-06\n"


def test_a_dumps_missing_value_in_a_text_column_is_refused_until_the_setting_reads_it(
    tmp_path: Path,
) -> None:
    # MySQL's SELECT ... INTO OUTFILE writes NULL as \N: in a text column it loaded as
    # the text "\N", "succeeded" (a date column refused it). Refused now, naming the
    # setting; pasted, the replay loads null.
    entries, rows = refused_then_fixed(
        tmp_path,
        {"data/dump.csv": DUMP},
        "data/*.csv",
        "{id: integer, name: string, seen: date}",
        _source_setting("to read it as null, set the source's "),
        "SELECT id, name, seen FROM t ORDER BY id",
    )
    assert [e["line"] for e in entries] == [3]
    assert entries[0]["reasons"][0].startswith(
        "name: '\\N' is how MySQL's SELECT ... INTO OUTFILE and PostgreSQL's text COPY "
        "write a missing value"
    )
    assert rows == [(1, "Ada", "2024-01-05"), (2, None, None), (3, None, "2024-01-06")]


def test_a_dumps_marker_stated_as_text_loads_as_text(tmp_path: Path) -> None:
    # The other way the reason names: csv.null_values stated without it, so a text
    # column's \N is the user's text
    entries, rows = refused_then_fixed(
        tmp_path,
        {"data/dump.csv": b"id,name,seen\n1,\\N,2024-01-05\n2,,2024-01-06\n"},
        "data/*.csv",
        "{id: integer, name: string, seen: date}",
        _source_setting("to load it as text, state "),
        "SELECT id, name, seen FROM t ORDER BY id",
    )
    assert [e["line"] for e in entries] == [2]
    assert rows == [(1, "\\N", "2024-01-05"), (2, None, "2024-01-06")]


def test_ticked_boxes_load_as_true_through_the_step_their_reason_names(tmp_path: Path) -> None:
    # A form's export: a box ticked with x, X or a check mark, an empty one left empty.
    # Refused with no way forward ("is not a valid boolean"); the step loads ticks as
    # true; a word that is no boolean names the words that are.
    data = "id,done\n1,x\n2,\n3, X \n4,\u2713\n5,yes\n6,\u2714\n7,maybe\n".encode()
    entries, rows = refused_then_fixed(
        tmp_path,
        {"data/form.csv": data},
        "data/*.csv",
        "{id: integer, done: boolean}",
        step_named("add the step "),
        "SELECT id, done FROM t ORDER BY id",
        replay_exit=3,
    )
    assert [e["line"] for e in entries] == [2, 4, 5, 7, 8]
    assert "it reads as a ticked box" in entries[0]["reasons"][0]
    assert entries[-1]["reasons"] == [
        "done: 'maybe' is not a valid boolean; a boolean reads true, t, yes, y, on, 1 and "
        "false, f, no, n, off, 0, in any case"
    ]
    assert rows == [(1, 1), (2, None), (3, 1), (4, 1), (5, 1), (6, 1)]


def test_a_replay_reads_a_sep_line_files_numbers_as_the_run_did(tmp_path: Path) -> None:
    # The `sep=;` line set the delimiter of the run, but a replay read its rows with the
    # source's (','): a row refused for another reason, once that was fixed, loaded its
    # `1,234` as 1234, a value the run refused as either 1234 or 1.234.
    entries, rows = refused_then_fixed(
        tmp_path,
        {"data/eu.csv": b"sep=;\nid;name;amount\n1;Ada;7\n2;;1,234\n"},
        "data/*.csv",
        "{id: integer, name: {type: string, required: true}, amount: decimal}",
        lambda yaml, _: yaml.replace("required: true", "required: false"),
        "SELECT id, CAST(amount AS TEXT) FROM t ORDER BY id",
        replay_exit=3,  # the amount stays refused
    )
    (entry,) = entries
    assert entry["line"] == 4 and len(entry["reasons"]) == 2
    assert entry["reasons"][1].endswith(EITHER_WAY_NOTE)
    assert rows == [(1, "7")]
    left = json.loads(sluice("quarantine", "list", "-p", str(tmp_path), "--json").stdout)
    assert [e["reasons"] for e in left] == [entry["reasons"][1:]]


def test_money_text_in_a_number_column_is_refused_and_loads_through_the_step_it_names(
    tmp_path: Path,
) -> None:
    # `$1,234.56` in a decimal column was refused as "not a valid decimal" with a note
    # about commas; the step that reads it was in the docs only.
    entries, rows = refused_then_fixed(
        tmp_path,
        {"data/p.csv": b'id,price\n1,"$1,234.56"\n2,(5.00)\n3,7\n4,10K\n'},
        "data/*.csv",
        "{id: integer, price: decimal}",
        step_named("is read by the step "),
        "SELECT id, CAST(price AS TEXT) FROM t ORDER BY id",
    )
    assert [e["line"] for e in entries] == [2, 3, 5]
    assert all("a comma only separates" not in e["reasons"][0] for e in entries)
    assert rows == [(1, "1234.56"), (2, "-5"), (3, "7"), (4, "10000")]


def test_excel_day_numbers_are_refused_and_load_with_the_format_the_reason_names(
    tmp_path: Path,
) -> None:
    # A sheet whose date cells were formatted as numbers exports 45292 for 2024-01-01:
    # refused as "not a valid date", with nothing to say what would read it.
    def format_in_the_reason(yaml: str, entries: list[dict[str, Any]]) -> str:
        assert "excel for Excel's day numbers (45292 is 2024-01-01)" in entries[0]["reasons"][0]
        return yaml.replace("day: date", "day: {type: date, formats: ['%Y-%m-%d', excel]}")

    entries, rows = refused_then_fixed(
        tmp_path,
        {"data/d.csv": b"id,day\n1,45292\n2,2024-01-05\n3,45351\n"},
        "data/*.csv",
        "{id: integer, day: date}",
        format_in_the_reason,
        "SELECT id, day FROM t ORDER BY id",
    )
    assert [e["line"] for e in entries] == [2, 4]
    assert rows == [(1, "2024-01-01"), (2, "2024-01-05"), (3, "2024-02-29")]


def test_integers_with_dots_between_thousands_are_refused_and_load_through_the_derive(
    tmp_path: Path,
) -> None:
    # A European export writes 5000 as 5.000: it was stored as 5, while 1.234 was refused.
    entries, rows = refused_then_fixed(
        tmp_path,
        {"data/eu.csv": b"id;visitors\n1;5.000\n2;1.234.567\n3;7\n"},
        'data/*.csv, csv: {delimiter: ";"}',
        "{id: integer, visitors: integer}",
        # docs/reference/tables.md: the step that takes the dots out
        with_step("""derive: {column: visitors, sql: "replace(visitors, '.', '')"}"""),
        "SELECT id, visitors FROM t ORDER BY id",
    )
    assert [(e["line"], e["reasons"]) for e in entries] == [
        (2, [f"visitors: '5.000' is not a valid integer{DOT_NOTE}"]),
        (3, [f"visitors: '1.234.567' is not a valid integer{DOT_NOTE}"]),
    ]
    assert rows == [(1, 5000), (2, 1234567), (3, 7)]


def test_nan_in_a_float_column_is_refused_and_loads_as_null_through_the_step_it_names(
    tmp_path: Path,
) -> None:
    # numpy's savetxt writes missing floats as nan: SQLite stored NULL, MariaDB failed
    entries, rows = refused_then_fixed(
        tmp_path,
        {"data/m.csv": b"id,reading\n1,nan\n2,1.25\n3,NaN\n"},
        "data/*.csv",
        "{id: integer, reading: float}",
        step_named("with the step "),
        "SELECT id, reading FROM t ORDER BY id",
    )
    assert [e["line"] for e in entries] == [2, 4]
    assert entries[0]["reasons"][0].startswith(
        "reading: 'nan' is not a valid float; NaN and infinities"
    )
    assert rows == [(1, None), (2, 1.25), (3, None)]


@pytest.mark.parametrize("zone", ["UTC", None, "America/New_York"])
def test_nanoseconds_of_a_parquet_time_are_refused_and_load_through_the_step_it_names(
    tmp_path: Path, zone: str | None
) -> None:
    # pandas writes times in nanoseconds: the digits past the microsecond were cut off
    # silently (every warehouse keeps microseconds). The step the reason names cuts them
    # on the typed column of a run and on the text a replay reads alike.
    import pyarrow as pa
    import pyarrow.parquet as pq

    nanos = [1_700_000_000_123_456_789, 1_700_000_000_123_456_000, 1_700_000_000_000_000_000]
    times = pa.array(nanos, pa.timestamp("ns", tz=zone))
    out = pa.BufferOutputStream()
    pq.write_table(pa.table({"id": [1, 2, 3], "ts": times}), out)
    entries, rows = refused_then_fixed(
        tmp_path,
        {"data/t.parquet": out.getvalue().to_pybytes()},
        "data/*.parquet",
        "{id: integer, ts: datetime}",
        step_named("with the step "),
        "SELECT id, ts FROM t ORDER BY id",
    )
    assert [e["line"] for e in entries] == [1]
    assert "it has digits past the microsecond" in entries[0]["reasons"][0]
    # every row in UTC, to the microsecond (a naive time is read as UTC)
    utc = "+00:00"
    assert rows == [
        (1, f"2023-11-14 22:13:20.123456{utc}"),
        (2, f"2023-11-14 22:13:20.123456{utc}"),
        (3, f"2023-11-14 22:13:20.000000{utc}"),
    ]


def test_nanoseconds_written_in_a_csv_are_refused_and_load_through_the_step_it_names(
    tmp_path: Path,
) -> None:
    # pandas' to_csv of nanosecond times, Go's RFC 3339 "nano" and Java's Instant write
    # up to nine digits of a second; strptime's %f reads six, and the reason named no
    # way forward. The step it names now cuts the digits no warehouse keeps.
    csv = (
        b"id,ts\n"
        b"1,2024-01-05 10:00:00.123456789\n"
        b"2,2024-01-05T10:00:00.1234567Z\n"
        b"3,2024-01-05 10:00:00.5\n"
    )
    entries, rows = refused_then_fixed(
        tmp_path,
        {"data/t.csv": csv},
        "data/*.csv",
        "{id: integer, ts: datetime}",
        step_named("with the step "),
        "SELECT id, ts FROM t ORDER BY id",
    )
    assert [e["line"] for e in entries] == [2, 3]
    assert all("it has digits past the microsecond" in e["reasons"][0] for e in entries)
    assert rows == [
        (1, "2024-01-05 10:00:00.123456+00:00"),
        (2, "2024-01-05 10:00:00.123456+00:00"),
        (3, "2024-01-05 10:00:00.500000+00:00"),
    ]


@pytest.mark.parametrize("zone", ["UTC", None, "America/New_York"])
def test_a_parquet_time_of_day_is_refused_as_a_date_and_loads_through_the_step_it_names(
    tmp_path: Path, zone: str | None
) -> None:
    # A timestamp into a date column was cut to its day without a word (for a zone
    # behind UTC, a local midnight stored in UTC became the day before). Midnight is a
    # date; another time is refused, and the step the reason names keeps the day written.
    import pyarrow as pa
    import pyarrow.parquet as pq

    # 22:00 and 22:13:20 UTC; midnight UTC; midnight in New York
    seconds = [1_699_999_200, 1_700_000_000, 1_699_920_000, 1_699_938_000]
    times = pa.array([s * 10**6 for s in seconds], pa.timestamp("us", tz=zone))
    out = pa.BufferOutputStream()
    pq.write_table(pa.table({"id": [1, 2, 3, 4], "day": times}), out)
    entries, rows = refused_then_fixed(
        tmp_path,
        {"data/t.parquet": out.getvalue().to_pybytes()},
        "data/*.parquet",
        "{id: integer, day: date}",
        step_named("with the step "),
        "SELECT id, day FROM t ORDER BY id",
    )
    local = [pa.scalar(s * 10**6, pa.timestamp("us", tz=zone)).as_py() for s in seconds]
    refused = [i for i, t in enumerate(local, start=1) if t.time() != time(0)]
    assert [e["line"] for e in entries] == refused
    assert "it has a time of day, which a date column would drop" in entries[0]["reasons"][0]
    assert rows == [(i, t.date().isoformat()) for i, t in enumerate(local, start=1)]


def test_a_row_a_quote_ran_over_stays_on_replay_and_the_hint_closes_it(tmp_path: Path) -> None:
    # No setting changes how a row splits: a replay kept it without a word, and the
    # CLI's "once fixed: sluice quarantine replay" sent the user round in a circle.
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_bytes(b'id,name\n1,Ada\n2,"Grace\n3,Linus\n')
    yaml = PROJECT.format(path="data/*.csv", columns="{id: integer, name: string}")
    (tmp_path / "sluice.yaml").write_text(yaml)
    assert sluice("run", "p", "-p", str(tmp_path)).returncode == 3
    replayed = sluice("quarantine", "replay", "-p", str(tmp_path), "--json")
    assert replayed.returncode == 3, replayed.stdout + replayed.stderr
    (report,) = json.loads(replayed.stdout)  # one pipeline replayed
    (warning,) = report["warnings"]
    assert "text of their lines (entries 1) stay in quarantine" in warning["message"]
    # the hint's way: the fixed lines in a file of their own, then its command
    (tmp_path / "data" / "a_fixed.csv").write_bytes(b'id,name\n2,"Grace"\n3,Linus\n')
    assert sluice("run", "p", "-p", str(tmp_path)).returncode == 0
    command = warning["hint"].split("then `")[1].rstrip("`").split()
    assert command[:3] == ["sluice", "quarantine", "discard"]
    assert sluice(*command[1:], "-p", str(tmp_path)).returncode == 0
    left = json.loads(sluice("quarantine", "list", "-p", str(tmp_path), "--json").stdout)
    assert left == []
    with closing(sqlite3.connect(tmp_path / "w.db")) as conn:
        rows = conn.execute("SELECT id, name FROM t ORDER BY id").fetchall()
    assert rows == [(1, "Ada"), (2, "Grace"), (3, "Linus")]


@pytest.mark.parametrize("drift", ["quarantine", "evolve"])
@pytest.mark.parametrize("sep", [b"", b"sep=;\r\n"])
def test_a_header_below_a_title_sets_the_file_aside_and_the_hints_skip_rows_loads_it(
    tmp_path: Path, drift: str, sep: bytes
) -> None:
    # Reports export a title (and a blank line) above the header: the title was taken
    # for the header, the file set aside naming columns it did not have, and under
    # `evolve` the title's cells became columns holding the header and the values, and
    # the table's own columns loaded empty.
    d = b";" if sep else b","
    body = (
        d.join([b"id", b"name"])
        + b"\r\n"
        + b"\r\n".join(d.join([str(i).encode(), name]) for i, name in [(1, b"Ada"), (2, b"Grace")])
    )
    content = sep + b"Staff list" + d + b"exported 2024-01-05\r\n\r\n" + body + b"\r\n"

    def pasted(yaml: str, entries: list[dict[str, Any]]) -> str:
        hint = entries[0]["payload"]["hint"]
        settings = hint.split(": set ")[1].split(" on source")[0]  # "csv.skip_rows: 3 ..."
        pairs = [p.removeprefix("csv.").split(": ") for p in settings.split(" and ")]
        csv_opts = ", ".join(f"{k}: {v}" for k, v in pairs)
        return yaml.replace("path: data/*.csv", f"path: data/*.csv, csv: {{{csv_opts}}}")

    entries, rows = refused_then_fixed(
        tmp_path,
        {"data/staff.csv": content},
        f"data/*.csv, drift: {drift}",
        "{id: integer, name: string}",
        pasted,
        "SELECT id, name FROM t ORDER BY id",
    )
    (entry,) = entries
    line = 4 if sep else 3
    assert entry["payload"]["hint"] == (
        f"the header looks to be on line {line} (id{d.decode()}name): set csv.skip_rows: "
        f"{line - 1}"
        + (" and csv.delimiter: ';'" if sep else "")
        + " on source 's', then `sluice quarantine replay`"
    )
    assert rows == [(1, "Ada"), (2, "Grace")]


@pytest.mark.parametrize("drift", ["quarantine", "evolve"])
def test_a_file_without_a_header_row_is_set_aside_and_loads_as_the_hint_says(
    tmp_path: Path, drift: str
) -> None:
    # Its first row was read as the header: set aside naming '1' and 'Ada' as columns,
    # and under `evolve` those became columns of the table, the row was lost, and id
    # and name loaded empty.
    def pasted(yaml: str, entries: list[dict[str, Any]]) -> str:
        assert "set csv.header: false on source 's'" in entries[0]["payload"]["hint"]
        fixed = "csv: {header: false}, columns: {id: column_1, name: column_2, born: column_3}"
        return yaml.replace("path: data/*.csv", f"path: data/*.csv, {fixed}")

    entries, rows = refused_then_fixed(
        tmp_path,
        {"data/staff.csv": b"1,Ada,1815-12-10\r\n2,Grace,1906-12-09\r\n3,Linus,1969-12-28\r\n"},
        f"data/*.csv, drift: {drift}",
        "{id: integer, name: string, born: date}",
        pasted,
        "SELECT id, name, born FROM t ORDER BY id",
    )
    (entry,) = entries
    assert entry["payload"]["hint"].startswith(
        "the header read, 1,Ada,1815-12-10, looks like a row: its field 1 ('1') is a value, "
        "as in the row below."
    )
    assert rows == [
        (1, "Ada", "1815-12-10"),
        (2, "Grace", "1906-12-09"),
        (3, "Linus", "1969-12-28"),
    ]


def test_a_sheet_without_a_header_row_and_an_empty_column_gets_the_same_hint(
    tmp_path: Path,
) -> None:
    # The empty cell of the first row read as a header is a blank header over an empty
    # cell: the reader leaves that column out, and the header it read is still known
    # for the row it is.
    def pasted(yaml: str, entries: list[dict[str, Any]]) -> str:
        assert "set csv.header: false on source 's'" in entries[0]["payload"]["hint"]
        fixed = (
            "csv: {header: false}, columns: {id: column_1, name: column_2, born: column_4}, "
            "ignore: [column_3]"
        )
        return yaml.replace("path: data/*.csv", f"path: data/*.csv, {fixed}")

    entries, rows = refused_then_fixed(
        tmp_path,
        {"data/staff.csv": b"1,Ada,,1815-12-10\r\n2,Grace,,1906-12-09\r\n"},
        "data/*.csv",
        "{id: integer, name: string, born: date}",
        pasted,
        "SELECT id, name, born FROM t ORDER BY id",
    )
    (entry,) = entries
    hint = entry["payload"]["hint"]
    assert hint.startswith("the header read, 1,Ada,,1815-12-10, looks like a row"), hint
    assert rows == [(1, "Ada", "1815-12-10"), (2, "Grace", "1906-12-09")]


def test_a_header_with_numbers_for_names_is_drift_not_a_row(tmp_path: Path) -> None:
    # Wide tables name columns by year (World Bank exports): a header of numbers is
    # not a row when the rows below hold no number in those places.
    content = b"country,2019,2020\r\nGermany,x,y\r\n"
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "w.csv").write_bytes(content)
    yaml = PROJECT.format(path="data/*.csv", columns="{country: string, year: integer}")
    (tmp_path / "sluice.yaml").write_text(yaml)
    assert sluice("run", "p", "-p", str(tmp_path)).returncode == 3
    (entry,) = json.loads(sluice("quarantine", "list", "-p", str(tmp_path), "--json").stdout)
    assert entry["payload"]["hint"].startswith("map the new headers")


@pytest.mark.parametrize("drift", ["quarantine", "evolve"])
def test_an_html_page_saved_as_csv_is_set_aside_and_the_hints_commands_close_it(
    tmp_path: Path, drift: str
) -> None:
    # A download that got a 403 page: its lines loaded as rows, and under `evolve` its
    # doctype became a column (`doctype_html`) beside id and name, empty.
    page = b"<!DOCTYPE html>\n<html>\n<head><title>403 Forbidden</title></head>\n</html>\n"
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "staff.csv").write_bytes(page)
    yaml = PROJECT.format(path=f"data/*.csv, drift: {drift}", columns="{id: integer, name: string}")
    (tmp_path / "sluice.yaml").write_text(yaml)
    assert sluice("run", "p", "-p", str(tmp_path)).returncode == 3
    (entry,) = json.loads(sluice("quarantine", "list", "-p", str(tmp_path), "--json").stdout)
    assert entry["reasons"] == ["the file is an HTML document, not CSV: '<!DOCTYPE html>'"]
    # the hint's way: the data in its place, `sluice run`, then the entry discarded
    (tmp_path / "data" / "staff.csv").write_bytes(b"id,name\n1,Ada\n")
    assert sluice("run", "p", "-p", str(tmp_path)).returncode == 0
    discard_as_hinted(tmp_path, entry)
    assert json.loads(sluice("quarantine", "list", "-p", str(tmp_path), "--json").stdout) == []
    with closing(sqlite3.connect(tmp_path / "w.db")) as conn:
        assert conn.execute("SELECT * FROM t").fetchall() == [(1, "Ada")]


def test_another_datasets_file_is_set_aside_under_evolve_and_the_hint_closes_it(
    tmp_path: Path,
) -> None:
    # A stray export in the folder, none of whose headers maps: `evolve` added its
    # headers as columns and loaded its rows with id and name empty.
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "staff.csv").write_bytes(b"id,name\n1,Ada\n")
    (tmp_path / "data" / "prices.csv").write_bytes(b"product,price\nWidget,5\n")
    yaml = PROJECT.format(path="data/*.csv, drift: evolve", columns="{id: integer, name: string}")
    (tmp_path / "sluice.yaml").write_text(yaml)
    assert sluice("run", "p", "-p", str(tmp_path)).returncode == 3
    (entry,) = json.loads(sluice("quarantine", "list", "-p", str(tmp_path), "--json").stdout)
    assert entry["unit"] == "data/prices.csv"
    hint = entry["payload"]["hint"]
    assert hint.startswith("no header of the file maps to a column of table t")
    # the hint's way for a file that is not this source's: narrow path, discard
    (tmp_path / "sluice.yaml").write_text(yaml.replace("data/*.csv", "data/staff*.csv"))
    discard_as_hinted(tmp_path, entry)
    assert sluice("run", "p", "-p", str(tmp_path)).returncode == 0
    with closing(sqlite3.connect(tmp_path / "w.db")) as conn:
        assert conn.execute("SELECT * FROM t").fetchall() == [(1, "Ada")]


def _xlsx() -> bytes:
    """An Excel workbook's container, as Excel writes it: a zip of XML parts."""
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("[Content_Types].xml", "<?xml version='1.0'?><Types/>")
        z.writestr("xl/worksheets/sheet1.xml", "<worksheet/>")
    return out.getvalue()


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (_xlsx(), "a zip archive (an Excel .xlsx workbook is one)"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "a PDF document"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "a PNG image"),
    ],
)
def test_a_binary_file_under_a_csv_name_is_named_and_the_hints_commands_close_it(
    tmp_path: Path, content: bytes, kind: str
) -> None:
    # A workbook renamed .csv was "line 1 is not valid utf-8 ... set csv.encoding to
    # cp1252", which would have loaded its bytes as text.
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "staff.csv").write_bytes(content)
    yaml = PROJECT.format(path="data/*.csv", columns="{id: integer, name: string}")
    (tmp_path / "sluice.yaml").write_text(yaml)
    assert sluice("run", "p", "-p", str(tmp_path)).returncode == 3
    (entry,) = json.loads(sluice("quarantine", "list", "-p", str(tmp_path), "--json").stdout)
    assert entry["reasons"] == [f"the file is {kind}, not CSV"]
    (tmp_path / "data" / "staff.csv").write_bytes(b"id,name\n1,Ada\n")
    assert sluice("run", "p", "-p", str(tmp_path)).returncode == 0
    discard_as_hinted(tmp_path, entry)
    assert json.loads(sluice("quarantine", "list", "-p", str(tmp_path), "--json").stdout) == []


def test_a_parquet_file_under_a_csv_name_loads_with_the_format_the_hint_names(
    tmp_path: Path,
) -> None:
    out_file = tmp_path / "t.parquet"
    pl.DataFrame({"id": [1, 2], "name": ["Ada", "Grace"]}).write_parquet(out_file)

    def pasted(yaml: str, entries: list[dict[str, Any]]) -> str:
        setting = entries[0]["payload"]["hint"].split("set ")[1].split(" on the source")[0]
        return yaml.replace("path: data/*.csv", f"path: data/*.csv, {setting}")

    entries, rows = refused_then_fixed(
        tmp_path,
        {"data/export.csv": out_file.read_bytes()},
        "data/*.csv",
        "{id: integer, name: string}",
        pasted,
        "SELECT id, name FROM t ORDER BY id",
    )
    assert entries[0]["reasons"] == ["the file is a Parquet file, not CSV"]
    assert rows == [(1, "Ada"), (2, "Grace")]


def test_a_delimiter_against_excels_sep_line_sets_the_file_aside_and_the_hint_loads_it(
    tmp_path: Path,
) -> None:
    entries, rows = refused_then_fixed(
        tmp_path,
        {"data/x.csv": b"sep=;\r\nid;name\r\n1;Ada\r\n2;Grace\r\n"},
        'data/*.csv, csv: {delimiter: ","}',
        "{id: integer, name: string}",
        # the hint, followed: the setting it names, then the replay
        lambda yaml, _: yaml.replace('delimiter: ","', 'delimiter: ";"'),
        "SELECT id, name FROM t ORDER BY id",
    )
    (entry,) = entries
    assert entry["reasons"][0].startswith("line 1 says the delimiter is ';'")
    assert "set csv.delimiter to ';' on source 's'" in entry["payload"]["hint"]
    assert rows == [(1, "Ada"), (2, "Grace")]


def test_a_json_document_with_its_records_inside_is_set_aside_and_the_hint_loads_it(
    tmp_path: Path,
) -> None:
    body = {"meta": {"count": 2}, "data": {"items": [{"id": 1, "name": "Ada"}, {"id": 2}]}}
    entries, rows = refused_then_fixed(
        tmp_path,
        {"data/export.json": json.dumps(body, indent=2).encode()},
        "data/*.json",
        "{id: integer, name: string}",
        lambda yaml, _: yaml.replace("data/*.json}", "data/*.json, records: data.items}"),
        "SELECT id, name FROM t ORDER BY id",
    )
    (entry,) = entries
    assert entry["payload"]["hint"].startswith("set records: data.items on source 's'")
    assert rows == [(1, "Ada"), (2, None)]


def test_a_missing_value_marker_is_refused_and_loads_as_null_once_listed_in_null_values(
    tmp_path: Path,
) -> None:
    # Public files write a missing number as N/A or -: the reason names the setting, and
    # the replay reads the kept rows as the file would be read now.
    entries, rows = refused_then_fixed(
        tmp_path,
        {"data/counts.csv": b"id,visitors,opened\n1,N/A,2024-01-05\n2,5,-\n3,7,2024-02-01\n"},
        "data/*.csv",
        "{id: integer, visitors: integer, opened: date}",
        lambda yaml, _: yaml.replace(
            "path: data/*.csv}", """path: data/*.csv, csv: {null_values: ["", "N/A", "-"]}}"""
        ),
        "SELECT id, visitors, opened FROM t ORDER BY id",
    )
    assert [(e["line"], e["reasons"][0].split(";")[0]) for e in entries] == [
        (2, "visitors: 'N/A' is not a valid integer"),
        (3, "opened: '-' is not a valid date (formats tried: %Y-%m-%d)"),
    ]
    assert all("csv.null_values" in e["reasons"][0] for e in entries)
    assert rows == [(1, None, "2024-01-05"), (2, 5, None), (3, 7, "2024-02-01")]


def test_mysqls_zero_dates_are_refused_and_load_as_null_once_listed_in_null_values(
    tmp_path: Path,
) -> None:
    # A MySQL export writes a missing date as 0000-00-00: no day, so refused, and the
    # reason now says it may mark a missing value, as it says of N/A.
    listed = 'csv: {null_values: ["", "0000-00-00", "0000-00-00 00:00:00"]}'
    entries, rows = refused_then_fixed(
        tmp_path,
        {
            "data/orders.csv": b"id,placed,shipped_at\n1,2024-01-05,0000-00-00 00:00:00\n"
            b"2,0000-00-00,2024-01-06 10:00:00\n"
        },
        "data/*.csv",
        "{id: integer, placed: date, shipped_at: datetime}",
        lambda yaml, _: yaml.replace("path: data/*.csv}", f"path: data/*.csv, {listed}}}"),
        "SELECT id, placed, shipped_at FROM t ORDER BY id",
    )
    assert [e["line"] for e in entries] == [2, 3]
    assert all("csv.null_values" in e["reasons"][0] for e in entries)
    assert rows == [
        (1, "2024-01-05", None),
        (2, None, "2024-01-06 10:00:00.000000+00:00"),
    ]


def test_json_lines_named_json_are_set_aside_and_load_once_the_format_is_set(
    tmp_path: Path,
) -> None:
    entries, rows = refused_then_fixed(
        tmp_path,
        {"data/export.json": b'{"id": 1, "name": "Ada"}\n{"id": 2, "name": "Grace"}\n'},
        "data/*.json",
        "{id: integer, name: string}",
        lambda yaml, _: yaml.replace("data/*.json}", "data/*.json, format: jsonl}"),
        "SELECT id, name FROM t ORDER BY id",
    )
    (entry,) = entries
    assert entry["reasons"][0] == "cannot parse JSON: Extra data (line 2, column 1)"
    assert "set format: jsonl on source 's'" in entry["payload"]["hint"]
    assert rows == [(1, "Ada"), (2, "Grace")]


def test_json_lines_with_no_record_are_set_aside_and_the_hints_commands_close_it(
    tmp_path: Path,
) -> None:
    # No setting reads such a file: the hint says to put a fixed one in its place, which
    # the next run loads as a new file, and to discard the entry.
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.jsonl").write_bytes(b"null\n[1, 2]\n")
    (tmp_path / "sluice.yaml").write_text(
        PROJECT.format(path="data/*.jsonl", columns="{id: integer}")
    )
    out = sluice("run", "p", "-p", str(tmp_path), "--json")
    assert out.returncode == 3, out.stdout + out.stderr
    (entry,) = json.loads(sluice("quarantine", "list", "-p", str(tmp_path), "--json").stdout)
    assert entry["reasons"][0].startswith("no line is a JSON object: line 1: line is null")
    hint = entry["payload"]["hint"]
    assert "the next `sluice run` loads it as a new file" in hint
    (tmp_path / "data" / "a.jsonl").write_bytes(b'{"id": 1}\n{"id": 2}\n')
    again = sluice("run", "p", "-p", str(tmp_path), "--json")
    assert again.returncode == 0, again.stdout + again.stderr
    assert json.loads(again.stdout)["totals"]["loaded"] == 2
    discarded = sluice("quarantine", "discard", str(entry["id"]), "-p", str(tmp_path))
    assert discarded.returncode == 0, discarded.stdout + discarded.stderr
    listed = sluice("quarantine", "list", "-p", str(tmp_path), "--json").stdout
    assert json.loads(listed) == []


def test_an_id_excel_saved_in_scientific_notation_is_refused_and_the_reason_closes_it(
    tmp_path: Path,
) -> None:
    # A supplier list kept in Excel: its General cells saved 123456789012 as 1.23457E+11.
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "suppliers.csv").write_bytes(
        b"account,name\r\n1.23457E+11,Acme Ltd\r\n123456789013,Beta plc\r\n"
    )
    yaml = PROJECT.format(path="data/*.csv", columns="{account: integer, name: string}")
    (tmp_path / "sluice.yaml").write_text(yaml)
    assert sluice("run", "p", "-p", str(tmp_path)).returncode == 3
    listed = sluice("quarantine", "list", "-p", str(tmp_path), "--json")
    (entry,) = json.loads(listed.stdout)
    reason = entry["reasons"][0]
    assert reason.startswith("account: '1.23457E+11' is not a valid integer; it is written as")
    # the reason's way out: the fixed line in a file of its own under the header, a run,
    # then the entry discarded, each command as the reason names it
    assert "in a file of their own under the header) with `sluice run PIPELINE`" in reason
    (tmp_path / "data" / "suppliers-fixed.csv").write_bytes(
        b"account,name\r\n123456789012,Acme Ltd\r\n"
    )
    run = reason.split("with `")[1].split("`")[0].replace("PIPELINE", "p").split()
    assert sluice(*run[1:], "-p", str(tmp_path)).returncode == 0
    discard = reason.split("then `")[1].split("`")[0].replace("ID", str(entry["id"])).split()
    assert sluice(*discard[1:], "-p", str(tmp_path)).returncode == 0
    with closing(sqlite3.connect(tmp_path / "w.db")) as conn:
        rows = conn.execute("SELECT account, name FROM t ORDER BY account").fetchall()
    assert rows == [(123456789012, "Acme Ltd"), (123456789013, "Beta plc")]
    listed = sluice("quarantine", "list", "-p", str(tmp_path), "--json")
    assert json.loads(listed.stdout) == []


def test_dates_refused_name_the_format_they_are_written_in_and_load_once_it_is_pasted(
    tmp_path: Path,
) -> None:
    # An Oracle export (DD-MON-YY) and a US report (month first, 12-hour clock).
    def formats_named(yaml: str, entries: list[dict[str, Any]]) -> str:
        for column, declared in (("placed", "date"), ("shipped", "datetime")):
            reason = next(r for r in entries[0]["reasons"] if r.startswith(column))
            listed = reason.split("(formats: ")[1].split(")")[0].split(" or ")[-1]
            yaml = yaml.replace(
                f"{column}: {declared}", f"{column}: {{type: {declared}, formats: {listed}}}"
            )
        return yaml

    files = {
        "data/orders.csv": b"id,placed,shipped\n1,05-JAN-24,1/5/2024 10:00:00 PM\n"
        b"2,28-FEB-24,2/28/2024 9:30:00 AM\n"
    }
    entries, rows = refused_then_fixed(
        tmp_path,
        files,
        "data/*.csv",
        "{id: integer, placed: date, shipped: datetime}",
        formats_named,  # the month-first one: the file's 2/28/2024 says which
        "SELECT id, placed, shipped FROM t ORDER BY id",
    )
    assert [e["line"] for e in entries] == [2, 3]
    assert "it is written as '%d-%b-%y'" in entries[0]["reasons"][0]
    assert "'%m/%d/%Y %I:%M:%S %p' (month first)" in entries[0]["reasons"][1]
    assert "it is written as '%m/%d/%Y %I:%M:%S %p':" in entries[1]["reasons"][1]
    python = [
        (datetime.strptime("05-JAN-24", "%d-%b-%y"), datetime(2024, 1, 5, 22)),
        (datetime.strptime("28-FEB-24", "%d-%b-%y"), datetime(2024, 2, 28, 9, 30)),
    ]
    assert rows == [
        (n, p.date().isoformat(), f"{s.isoformat(sep=' ')}.000000+00:00")
        for n, (p, s) in enumerate(python, start=1)
    ]


def test_a_minus_after_the_digits_is_refused_and_loads_through_the_amount_step_named(
    tmp_path: Path,
) -> None:
    # An SAP line-item export (German settings): credits as 1.234,56- with a minus after.
    entries, rows = refused_then_fixed(
        tmp_path,
        {"data/fbl3n.csv": b"doc;amount\n4711;1.234,56-\n4712;99,00\n4713;0,50-\n"},
        'data/*.csv, csv: {delimiter: ";", decimal: ","}',
        "{doc: integer, amount: decimal}",
        step_named("is read by the step "),
        "SELECT doc, CAST(amount AS TEXT) FROM t ORDER BY doc",
    )
    assert [e["line"] for e in entries] == [2, 4]
    assert all("money text ($5, 5 €, (5.00), 5.00-, 10K)" in e["reasons"][0] for e in entries)
    assert rows == [(4711, "-1234.56"), (4712, "99"), (4713, "-0.5")]


def test_a_statistical_tables_markers_and_flags_load_through_the_fixes_their_reasons_name(
    tmp_path: Path,
) -> None:
    # An ONS-style table: suppressed cells as [x], a provisional figure 89 (p), a
    # footnoted 567*, a rate as 12.5%.
    table = (
        b"area_code,area_name,value\r\nE06000001,Hartlepool,1234\r\n"
        b"E06000002,Middlesbrough,89 (p)\r\nE06000003,Redcar,[x]\r\n"
        b"E06000004,Stockton,12.5%\r\nE06000005,Darlington,567*\r\n"
    )

    def as_the_reasons_say(yaml: str, entries: list[dict[str, Any]]) -> str:
        steps = []
        for entry in entries:
            reason = entry["reasons"][0]
            if "csv.null_values" in reason:
                value = entry["payload"]["value"]
                yaml = yaml.replace("*.csv}", f'*.csv, csv: {{null_values: ["", "{value}"]}}}}')
            else:
                step = reason.split("add the step ")[1].split(", then `")[0]
                steps += [step] if step not in steps else []
        return with_step("\n      - ".join(steps))(yaml, entries)

    entries, rows = refused_then_fixed(
        tmp_path,
        {"data/table.csv": table},
        "data/*.csv",
        "{area_code: string, area_name: string, value: float}",
        as_the_reasons_say,
        "SELECT area_code, value FROM t ORDER BY area_code",
    )
    assert [e["line"] for e in entries] == [3, 4, 5, 6]
    assert rows == [
        ("E06000001", 1234.0),
        ("E06000002", 89.0),
        ("E06000003", None),
        ("E06000004", 12.5),
        ("E06000005", 567.0),
    ]


def test_a_decimal_with_more_places_is_refused_and_loads_rounded_through_the_step_named(
    tmp_path: Path,
) -> None:
    # Exchange rates to seven places and a double's text (0.1 + 0.2) in a decimal column:
    # refused with no way forward; the step the reason names rounds them to the six
    # places the column keeps, half to even, on the text of a run and of a replay.
    entries, rows = refused_then_fixed(
        tmp_path,
        {"data/rates.csv": b"id,rate\n1,1.0873456\n2,0.30000000000000004\n3,1.25\n4,0.0000025\n"},
        "data/*.csv",
        "{id: integer, rate: decimal}",
        step_named("add the step "),
        "SELECT id, rate FROM t ORDER BY id",
    )
    assert [e["line"] for e in entries] == [2, 3, 5]
    assert all("more places after the point than the 6" in e["reasons"][0] for e in entries)
    assert rows == [(1, 1.087346), (2, 0.3), (3, 1.25), (4, 0.000002)]  # SQLite's REAL


def test_a_databases_null_marker_is_refused_and_loads_as_null_once_listed(
    tmp_path: Path,
) -> None:
    # MySQL's `SELECT ... INTO OUTFILE` and PostgreSQL's text COPY write NULL as \N: it
    # was refused with no word of what it marks.
    entries, rows = refused_then_fixed(
        tmp_path,
        {"data/dump.csv": b"id,visits,seen\n1,\\N,2024-01-05\n2,4,\\N\n3,\\N,\\N\n"},
        "data/*.csv",
        "{id: integer, visits: integer, seen: date}",
        lambda yaml, _: yaml.replace(
            "path: data/*.csv}", """path: data/*.csv, csv: {null_values: ["", '\\N']}}"""
        ),
        "SELECT id, visits, seen FROM t ORDER BY id",
    )
    assert [e["line"] for e in entries] == [2, 3, 4]
    assert all("csv.null_values" in r for e in entries for r in e["reasons"])
    assert rows == [(1, None, "2024-01-05"), (2, 4, None), (3, None, None)]


def test_nan_in_a_decimal_column_is_refused_and_loads_as_null_through_the_step_it_names(
    tmp_path: Path,
) -> None:
    # numpy's savetxt writes a missing number as nan, in a column declared decimal too
    entries, rows = refused_then_fixed(
        tmp_path,
        {"data/m.csv": b"id,amount\n1,nan\n2,1.25\n3,-Infinity\n"},
        "data/*.csv",
        "{id: integer, amount: decimal}",
        step_named("with the step "),
        "SELECT id, amount FROM t ORDER BY id",
        replay_exit=3,  # -Infinity marks no missing value: it stays refused
    )
    assert [e["line"] for e in entries] == [2, 4]
    assert "NaN and infinities are no decimal" in entries[0]["reasons"][0]
    assert rows == [(1, None), (2, 1.25)]
