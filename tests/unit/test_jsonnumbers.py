"""JSON fractions that keep the text they were written as."""

from __future__ import annotations

import json
import pickle

import pytest

from sluice.jsonnumbers import JsonFloat, loads, number_text, twice_named


def test_a_fraction_is_a_float_that_keeps_its_text() -> None:
    body = loads(b'{"a": 1.50, "b": [2.5e3, 12345678901234567.89], "c": 7}')
    a, (b, c) = body["a"], body["b"]
    assert isinstance(a, JsonFloat) and a == 1.5 and a * 2 == 3.0
    assert [number_text(v) for v in (a, b, c)] == ["1.50", "2.5e3", "12345678901234567.89"]
    assert body["c"] == 7 and type(body["c"]) is int  # integers are exact already
    assert number_text(0.1) == "0.1"  # any other float: its shortest text
    # it goes where a float goes: back to JSON, through pickle (a worker's arguments)
    assert json.loads(json.dumps(body)) == json.loads(
        '{"a": 1.5, "b": [2500.0, 1.2345678901234568e16], "c": 7}'
    )
    again = pickle.loads(pickle.dumps(a))
    assert again == 1.5 and number_text(again) == "1.50"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('{"id": 1, "name": "a"}', None),
        ('{"id": 1, "id": 1}', "id"),
        ('{"a": {"b": 1, "c": 2, "b": 3}}', "b"),
        ('{"a": [1, {"x": 0}, [{"y": 1, "y": 2}]]}', "y"),
        ('[{"k": 1}, {"k": 2}]', None),
        ('"text"', None),
    ],
)
def test_an_object_naming_a_key_twice_is_found_anywhere_in_a_record(
    text: str, key: str | None
) -> None:
    why = twice_named(loads(text))
    assert (why is None) == (key is None)
    if key is not None:
        assert why is not None and why.startswith(f"record names the key {key!r} twice")
    # Python's json keeps the last value, as before: the record is set aside, not changed
    assert loads(text) == json.loads(text)
