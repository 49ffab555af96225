"""JSON documents: a list of records, or one at a path inside an object."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from pathlib import Path

import pytest

from sluice.batch import LINE
from sluice.errors import SourceError
from tests.unit.sources.test_csv import read_file, write

RECORDS = [
    {
        "id": 1,
        "name": "Zoë",
        "address": {"city": "London"},
        "tags": ["a", "b"],
        "n": 9007199254740993,
    },
    {"id": 2, "name": None, "address": {"city": "NYC", "zip": "10001"}, "n": 1.50},
    {"id": 3, "address": None, "n": -0.5, "ok": True},
]


def test_a_list_of_records_reads_as_pythons_json_reads_it(tmp_path: Path) -> None:
    content = json.dumps(RECORDS, indent=2, ensure_ascii=False).encode()
    columns, data, rejects = read_file(write(tmp_path, content, "f.json"), flatten=True)
    # every key of every record, in the order first seen; nested objects flattened
    assert columns == ["id", "name", "address_city", "tags", "n", "address_zip", "address", "ok"]
    assert rejects == [] and data.get_column(LINE).to_list() == [1, 2, 3]  # place in the list
    python = json.loads(content, parse_float=Decimal)
    rows = data.to_dicts()
    assert [r["id"] for r in rows] == [str(r["id"]) for r in python]
    assert [Decimal(r["n"]) for r in rows] == [r["n"] for r in python]  # every digit kept
    assert rows[0]["name"] == "Zoë" and rows[1]["name"] is None and "name" not in RECORDS[2]
    assert rows[0]["tags"] == '["a","b"]' and rows[2]["ok"] == "true"
    assert (rows[1]["address_zip"], rows[0]["address_zip"]) == ("10001", None)


def test_records_at_a_path_compressed_and_with_a_byte_order_mark(tmp_path: Path) -> None:
    body = {"meta": {"page": 1}, "data": {"items": RECORDS}}
    content = gzip.compress(b"\xef\xbb\xbf" + json.dumps(body).encode())
    path = write(tmp_path, content, "f.json.gz")
    columns, data, _ = read_file(path, records="data.items")
    assert columns[:3] == ["id", "name", "address"] and data.height == 3
    assert json.loads(data.get_column("address")[1]) == {"city": "NYC", "zip": "10001"}
    # without the path, the hint names it
    with pytest.raises(SourceError) as info:
        read_file(path)
    assert info.value.message == (
        "the JSON document holds an object at its top, not a list of records"
    )
    assert (info.value.hint or "").startswith("set records: data.items on source 's'")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'[{"id": 1},\n {"id": 2,}]', "cannot parse JSON: Expecting property name enclosed"),
        (b"[1, 2, 3]", "the JSON document holds a list of values at its top, not a list"),
        (b'{"id": 1}\n{"id": 2}\n', "cannot parse JSON: Extra data (line 2, column 1)"),
        (b'["caf\xe9"]', "cannot read JSON: byte 6 is not UTF-8"),
    ],
)
def test_what_is_not_a_list_of_records_says_what_it_is(
    tmp_path: Path, content: bytes, message: str
) -> None:
    with pytest.raises(SourceError) as info:
        read_file(write(tmp_path, content, "f.json"))
    assert info.value.message.startswith(message), info.value.message
    assert info.value.hint
