"""JSON fractions that keep the text they were written as."""

from __future__ import annotations

import json
import pickle

from sluice.jsonnumbers import JsonFloat, loads, number_text


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
