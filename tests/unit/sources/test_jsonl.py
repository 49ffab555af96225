"""JSON Lines: blocks after the first are read with the first one's schema, unless a
key, a spaced key or a stray ``":`` says that would skip something."""

from __future__ import annotations

import codecs
import io
import json
import threading
import time
from typing import Any

import polars as pl
import pytest

from sluice.batch import LINE
from sluice.sources.jsonl_reader import read_jsonl, scan


def read(text: str, block: int = 4096) -> pl.DataFrame:
    data = text.encode()
    _, batches = read_jsonl(
        lambda: io.BytesIO(data), stream="s", unit="u", block_size=block, flatten=True
    )
    frames = [b.data for b in batches()]
    return pl.concat(frames, how="diagonal_relaxed")


def records(n: int, **extra: Any) -> list[dict[str, Any]]:
    return [{"id": i, "who": {"name": f"n{i}", "zip": i if i % 2 else f"Z{i}"}} for i in range(n)]


def test_a_key_first_seen_in_a_later_block_is_read_not_skipped() -> None:
    rows = records(300)
    rows[250]["who"]["nick"] = "late"  # far past the first 4 KiB block
    rows[260]["extra"] = {"deep": 1}
    out = read("\n".join(json.dumps(r) for r in rows) + "\n")
    assert out.height == 300
    got = {r["id"]: r for r in out.iter_rows(named=True)}
    assert got["250"]["who_nick"] == "late"
    assert got["260"]["extra_deep"] == "1"
    assert got["3"]["who_zip"] == "3" and got["4"]["who_zip"] == "Z4"  # mixed: text


def test_spaced_keys_null_keys_and_colons_in_values_are_all_read() -> None:
    rows = [json.dumps(r) for r in records(300)]
    rows[200] = '{"id": 200, "who" : {"name": "a\\":b", "zip": null}, "new" : 5}'
    rows[201] = '{"id":201,"who":{"name":"x","zip":null},"other":"v"}'
    out = read("\n".join(rows) + "\n")
    got = {r["id"]: r for r in out.iter_rows(named=True)}
    assert got["200"]["who_name"] == 'a":b' and got["200"]["new"] == "5"
    assert got["201"]["other"] == "v" and got["201"]["who_zip"] is None


def test_a_null_or_empty_object_beside_a_new_key_does_not_hide_it() -> None:
    # The known-schema read counts the keys it parsed: an object that came as null or
    # as {} holds no values, and a key beside it the schema lacks is still read.
    rows = [json.dumps(r) for r in records(300)]
    rows[250] = '{"id":250,"who":null,"surprise":"x"}'
    rows[251] = '{"id":251,"who":{},"late":{"deep":null}}'
    rows[252] = '{"id":252,"who":{"name":null,"zip":null}}'
    out = read("\n".join(rows) + "\n")
    got = {r["id"]: r for r in out.iter_rows(named=True)}
    assert got["250"]["surprise"] == "x" and got["250"]["who_name"] is None
    assert "late_deep" in out.columns and got["251"]["late_deep"] is None
    assert got["252"]["who_zip"] is None and got["253"]["who_name"] == "n253"
    assert out.height == 300


def test_line_numbers_count_blank_lines_across_blocks() -> None:
    rows = [json.dumps(r) for r in records(200)]
    text = "\n".join(rows[:150]) + "\n\n  \n" + "\n".join(rows[150:]) + "\n"
    out = read(text, block=2048)
    lines = dict(zip(out.get_column("id").to_list(), out.get_column(LINE).to_list(), strict=True))
    assert lines["0"] == 1 and lines["149"] == 150 and lines["150"] == 153


def test_scan_counts_keys_and_nulls() -> None:
    seen = scan(b'{"a":1,"b":null,"c": null}\n\n{"a":"x\\":y"}\n')
    assert (seen.keys, seen.nulls, seen.spaced, seen.lines.tolist()) == (5, 2, False, [0, 2])
    assert scan(b'{"a" :1}\n').spaced


def test_blocks_say_whether_a_value_can_hold_a_nul() -> None:
    # JSON writes NUL only as \u0000: a block without that escape skips the NUL check.
    clean = "".join(json.dumps(r) + "\n" for r in records(300))
    dirty = clean + json.dumps({"id": 300, "who": {"name": "lin\x00us", "zip": 1}}) + "\n"

    def flags(text: str) -> list[bool]:
        data = text.encode()
        _, batches = read_jsonl(
            lambda: io.BytesIO(data), stream="s", unit="u", block_size=2048, flatten=True
        )
        return [b.nul_free for b in batches()]

    assert len(flags(clean)) > 1 and all(flags(clean))
    assert "\\u0000" in dirty and flags(dirty)[-1] is False
    # Other escapes (a quote, a slash, another \u) hold no NUL: the block is still free.
    escaped = clean + json.dumps({"id": 301, "who": {"name": 'say "hi" \u00e9/'}}) + "\n"
    escaped = escaped.replace("/", "\\/")
    assert "\\" in escaped and all(flags(escaped))
    assert read(dirty).filter(pl.col("id") == "300").item(0, "who_name") == "lin\x00us"


def test_the_blocks_read_for_the_header_are_not_read_again() -> None:
    """The first records give the header; the rows go on from them: the file is opened
    and its first block parsed once. A second pass (batches() again) reads it anew."""
    text = "\n\n" + "".join(json.dumps(r) + "\n" for r in records(300))  # blank lines first
    opened: list[int] = []

    def opener() -> io.BytesIO:
        opened.append(1)
        return io.BytesIO(text.encode())

    columns, batches = read_jsonl(opener, stream="s", unit="u", block_size=2048, flatten=True)
    assert columns == ["id", "who_name", "who_zip"] and len(opened) == 1
    first = pl.concat([b.data for b in batches()], how="diagonal_relaxed")
    assert len(opened) == 1  # the rows went on from the header's blocks
    assert first.height == 300 and first.get_column(LINE).to_list() == list(range(3, 303))
    again = pl.concat([b.data for b in batches()], how="diagonal_relaxed")
    assert len(opened) == 2 and again.equals(first)


def _scanners(before: frozenset[threading.Thread] = frozenset()) -> list[threading.Thread]:
    """Prefetch threads alive now, other than ``before`` (another test's, still ending)."""
    return [
        t for t in threading.enumerate() if t.name.startswith("sluice-prefetch") and t not in before
    ]


def test_a_reader_stopped_early_leaves_no_thread_behind() -> None:
    """The next block is read and scanned on a thread while this one is parsed; a
    consumer that stops after one batch (a preview, a failed load) stops that thread."""
    data = "".join(json.dumps(r) + "\n" for r in records(2000)).encode()
    before = frozenset(_scanners())  # the header is read at once: its scan starts here
    _, batches = read_jsonl(
        lambda: io.BytesIO(data), stream="s", unit="u", block_size=2048, flatten=True
    )
    it = batches()
    assert next(it).data.height > 0
    assert _scanners(before)  # the scan runs ahead
    it.close()
    deadline = time.monotonic() + 5
    while _scanners(before) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _scanners(before)


def test_a_read_error_on_the_scanning_thread_reaches_the_reader() -> None:
    class Broken(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            if self.tell() > 4096:
                raise OSError("Input/output error")
            return super().read(size)

    data = "".join(json.dumps(r) + "\n" for r in records(2000)).encode()
    _, batches = read_jsonl(
        lambda: Broken(data), stream="s", unit="u", block_size=2048, flatten=True
    )
    with pytest.raises(OSError, match="Input/output error"):
        for _ in batches():
            pass


def test_the_known_schema_read_gives_what_inference_gives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # randomuser-shaped records, every block after the first read with the first one's
    # schema (each line decoded to its struct), against every block inferred on its own.
    # Numbers in text fields (1.50, 1e5, -0.0, 2**64), escapes, nulls, blank and CRLF
    # lines; record 150 has an object where the first block had text, and its block
    # goes the slow way in both. A field of floats only (ratio: 0.0, 1.0, 2.0) reads
    # as the same text both ways.
    rows = []
    for i in range(300):
        rows.append(
            json.dumps(
                {
                    "gender": ["female", "male", None][i % 3],
                    "name": {"title": "Mx", "first": f"Zoë\u00e9{i}", "last": 'O"Neil\\n'},
                    "location": {
                        "postcode": [1.50, 1e5, -0.0, 2**64, "NW1 6XE", None][i % 6],
                        "coordinates": {"latitude": "-20.7021", "longitude": (i + 0.5) / 7},
                    },
                    "flag": i % 2 == 0,
                    "ratio": float(i % 3),
                    "id": {"name": None, "value": None} if i % 5 else {"name": "SSN", "value": i},
                }
            )
        )
    rows[150] = rows[150].replace('"gender": "female"', '"gender": {"odd": 1}')
    assert '"odd"' in rows[150]
    text = "\n".join(r + ("\r" if i % 7 == 0 else "") for i, r in enumerate(rows))
    text = text.replace('\n{"gender": null', '\n\n{"gender": null', 5) + "\n"

    import sluice.sources.jsonl_reader as reader

    known = reader.parse_known
    fast_blocks: list[bool] = []

    def counted(block: bytes, schema: Any, seen: Any, *rest: Any) -> pl.DataFrame | None:
        frame = known(block, schema, seen, *rest)
        fast_blocks.append(frame is not None)
        return frame

    monkeypatch.setattr(reader, "parse_known", counted)
    fast = read(text, block=2048)
    assert fast_blocks.count(False) == 1  # record 150's block
    assert fast_blocks.count(True) > 20
    monkeypatch.setattr(reader, "parse_known", lambda block, schema, seen, *rest: None)
    slow = read(text, block=2048)
    assert fast.height == 300
    assert fast.sort(LINE).equals(slow.select(fast.columns).sort(LINE))


def test_numbers_keep_the_digits_written_in_every_block() -> None:
    # A field with a fraction in one record is inferred Float64: its integers came out
    # as "12.0" and 2**53 + 1 rounded, in the first block only. Checked against the
    # exact values Python's json reads (as Decimal, so nothing is rounded on our side).
    from decimal import Decimal

    written = ["9007199254740993", "12", "1.50", "2.0", "1e3", "-0.1", "123456789012345678"]
    lines = []
    for i in range(400):
        literal = written[i % len(written)]
        lines.append(f'{{"id":{i},"amount":{literal},"who":{{"score":{literal}}}}}')
    out = read("\n".join(lines) + "\n", block=2048)
    assert out.height == 400
    for row in out.iter_rows(named=True):
        want = json.loads(lines[int(row["id"])], parse_float=Decimal, parse_int=Decimal)
        assert Decimal(row["amount"]) == want["amount"], row
        assert Decimal(row["who_score"]) == want["who"]["score"], row
    # The same number reads as the same text in the first block and in a later one.
    by_literal: dict[str, set[str]] = {}
    for row in out.iter_rows(named=True):
        by_literal.setdefault(written[int(row["id"]) % len(written)], set()).add(row["amount"])
    assert all(len(texts) == 1 for texts in by_literal.values()), by_literal
    assert by_literal["12"] == {"12"} and by_literal["9007199254740993"] == {"9007199254740993"}


def test_a_utf8_byte_order_mark_is_skipped_as_in_a_csv() -> None:
    # PowerShell 5 writes UTF-8 with one: the file was set aside ("TapeError at character 0")
    text = '{"id":1,"name":"Zoë"}\r\n\r\n{"id":2,"name":"Grace"}\r\n'
    data = codecs.BOM_UTF8 + text.encode()
    _, batches = read_jsonl(
        lambda: io.BytesIO(data), stream="s", unit="u", block_size=4096, flatten=True
    )
    out = pl.concat([b.data for b in batches()])
    python = [json.loads(line) for line in data.decode("utf-8-sig").splitlines() if line]
    assert out.select("id", "name").rows() == [(str(r["id"]), r["name"]) for r in python]
    assert out.get_column(LINE).to_list() == [1, 3]


@pytest.mark.parametrize("part", [None, 3], ids=["decoded-whole", "decoded-in-parts"])
def test_lines_that_are_no_json_object_are_rejected_as_python_reads_them(
    part: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One bad line set the whole file aside, naming the first line of its 4 MiB block.
    # Each line is now what Python's json makes of it: an object is a record, anything
    # else is a reject with its line and reason, as a CSV's ragged row; the rest loads.
    # The same when a block's records are decoded in parts (a bad line fails its part).
    if part is not None:
        import sluice.sources.jsonl_reader as reader

        monkeypatch.setattr(reader, "DECODE_PART", part)
        monkeypatch.setattr(reader.pl, "thread_pool_size", lambda: 4)
    lines = [json.dumps(r) for r in records(400)]
    lines[3] = "null"
    lines[150] = '{"id": 150, "who": {"name": "x"}}{"id": 151}'  # two on one line
    lines[151] = "[1, 2]"
    lines[300] = '{"id": 300, "who": NaN}'  # Python reads NaN; JSON has none
    lines[399] = '{"id": 399, "who": {"name": "cut'  # a truncated last line
    text = "\n".join(lines) + "\n"
    data = text.encode()
    _, batches = read_jsonl(
        lambda: io.BytesIO(data), stream="s", unit="u", block_size=2048, flatten=True
    )
    got = list(batches())
    loaded = pl.concat([b.data for b in got], how="diagonal_relaxed")
    rejects = [r for b in got for r in b.rejects]

    def no_constant(name: str) -> None:
        raise ValueError(name)

    def is_record(line: str) -> bool:
        try:
            return isinstance(json.loads(line, parse_constant=no_constant), dict)
        except ValueError:
            return False

    assert loaded.get_column(LINE).to_list() == [
        n for n, line in enumerate(lines, start=1) if is_record(line)
    ]
    assert [(r.line, r.text) for r in rejects] == [
        (n, line) for n, line in enumerate(lines, start=1) if not is_record(line)
    ]
    assert [r.reason for r in rejects] == [
        "line is null, not a JSON object",
        "line is not valid JSON: Extra data (column 34)",
        "line is an array, not a JSON object",
        "line is not valid JSON: NaN is not JSON",
        "line is not valid JSON: Unterminated string starting at (column 29)",
    ]


def test_a_file_whose_lines_are_no_records_is_set_aside_naming_the_first() -> None:
    from sluice.errors import SourceError

    data = b"\n[1]\nnull\n"
    with pytest.raises(SourceError) as info:
        read_jsonl(lambda: io.BytesIO(data), stream="s", unit="u", block_size=4096, flatten=True)
    assert info.value.message == (
        "no line is a JSON object: line 2: line is an array, not a JSON object"
    )
    assert "sluice quarantine discard ID" in (info.value.hint or "")


def test_a_line_naming_a_key_twice_is_rejected_as_python_and_polars_differ_on_it() -> None:
    # Polars kept the first value ("b"), Python's json and JavaScript the last ("c"),
    # and the record loaded as "b" without a word; now the line is quarantined with the
    # reason. A ":" inside a text value, and keys nested in objects and in lists, are
    # no trouble; a key named twice in a nested object is.
    lines = [json.dumps(r) for r in records(300)]
    lines[7] = '{"id": 7, "who": {"name": "b", "zip": 1}, "id": 8}'
    lines[120] = '{"id": 120, "who": {"name": "say \\":\\" twice", "zip": "\\":"}}'
    lines[200] = '{"id": 200, "who": {"name": "b", "name": "c", "zip": null}}'
    lines[250] = '{"id": 250, "who": {"name": "x", "zip": null}, "tags": [{"k": 1}]}'
    data = ("\n".join(lines) + "\n").encode()
    _, batches = read_jsonl(
        lambda: io.BytesIO(data), stream="s", unit="u", block_size=2048, flatten=True
    )
    got = list(batches())
    loaded = pl.concat([b.data for b in got], how="diagonal_relaxed")
    rejects = {r.line: r.reason for b in got for r in b.rejects}
    assert rejects == {
        8: "line names the key 'id' twice, and JSON readers keep either value: write it once",
        201: "line names the key 'name' twice, and JSON readers keep either value: write it once",
    }
    assert loaded.height == 298
    python = {json.loads(line)["id"]: json.loads(line) for line in lines}
    said = loaded.filter(pl.col(LINE) == 121).row(0, named=True)
    assert said["who_name"] == python[120]["who"]["name"]


def test_a_block_decoded_in_parts_reads_as_python_reads_each_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 500 records in blocks of ~100, those after the first (read with its schema)
    # decoded in parts of at least 7 on a pool of 4 threads (a block is split between
    # Polars' threads; a part under DECODE_PART records is not worth one): every record
    # in its place, as one decode of each block gives it and as Python's json reads it.
    # Escapes, non-ASCII text, nulls, an empty object and blank lines among them.
    import sluice.sources.jsonl_reader as reader

    lines = []
    for i in range(500):
        who = {"first": f"Zoë{i}", "last": 'O"Neil\\n' if i % 3 else None, "n": i}
        lines.append(json.dumps({"id": i, "who": who if i % 11 else {}, "tz": "+5:30"}))
    text = "\n".join(line + ("\n" if i % 97 == 0 else "") for i, line in enumerate(lines)) + "\n"
    monkeypatch.setattr(reader.pl, "thread_pool_size", lambda: 4)
    decoded: list[int] = []
    whole = reader._decode

    def counted(records: pl.Series, dtype: pl.Struct) -> pl.Series:
        decoded.append(len(records))
        return whole(records, dtype)

    monkeypatch.setattr(reader, "_decode", counted)
    known = reader.parse_known
    fast: list[bool] = []  # blocks read by the known schema (not the slow way after)

    def read_fast(block: bytes, schema: Any, seen: Any, *rest: Any) -> pl.DataFrame | None:
        frame = known(block, schema, seen, *rest)
        fast.append(frame is not None)
        return frame

    monkeypatch.setattr(reader, "parse_known", read_fast)
    monkeypatch.setattr(reader, "DECODE_PART", 10**9)
    in_one = read(text, block=8192)
    monkeypatch.setattr(reader, "DECODE_PART", 7)
    decoded.clear()
    fast.clear()
    in_parts = read(text, block=8192)
    assert sum(n >= 4 * 7 for n in decoded) >= 3  # blocks decoded in 4 parts
    assert fast and all(fast)
    assert in_parts.height == 500 and in_parts.equals(in_one)
    for row in in_parts.iter_rows(named=True):
        want = json.loads(lines[int(row["id"])])
        assert row["who_first"] == want["who"].get("first")
        assert row["who_last"] == want["who"].get("last")
        assert row["tz"] == want["tz"]
    # line numbers count the blank lines after records 0, 97, 194, ...
    assert in_parts.get_column(LINE).to_list() == [i + 1 + len(range(0, i, 97)) for i in range(500)]
