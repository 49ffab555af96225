"""JSON read with each fraction's digits kept as written.

Python's ``json`` reads ``1.50`` and ``12345678901234567.89`` as floats: their text
becomes ``1.5`` and ``1.2345678901234568e+16``, and a decimal column stored the second
rounded. :func:`loads` reads a fraction as a :class:`JsonFloat`, a float (arithmetic,
comparisons and ``json.dumps`` work as on any float) that keeps the text it was read
from, which is what a record's value becomes (:func:`number_text`). Integers are exact
in Python already. An object that names a key twice (``{"id": 1, "id": 2}``) is a
:class:`TwiceNamed`: JSON readers keep either value, so a record holding one is set
aside (:func:`twice_named`), not loaded with the value Python happened to keep.
"""

from __future__ import annotations

import json
from typing import Any


class JsonFloat(float):
    """A JSON number with a fraction or an exponent, and the text it was written as."""

    text: str

    def __new__(cls, text: str) -> JsonFloat:
        value = super().__new__(cls, text)
        value.text = text
        return value


class TwiceNamed(dict[str, Any]):
    """A JSON object that named a key twice (its last value kept, as Python's ``json``)."""

    #: the first key named twice
    twice: str


def loads(data: str | bytes) -> Any:
    """``json.loads`` with every fraction a :class:`JsonFloat` and every object that
    names a key twice a :class:`TwiceNamed` (the hook costs about a quarter more time
    than the C reader's own objects)."""
    return json.loads(data, parse_float=JsonFloat, object_pairs_hook=_pairs)


def _pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(items)
    if len(obj) == len(items):
        return obj
    out = TwiceNamed(obj)
    seen: set[str] = set()
    for key, _ in items:
        if key in seen:
            out.twice = key
            break
        seen.add(key)
    return out


def twice_named(value: Any) -> str | None:
    """Why a record read by :func:`loads` is set aside for a key one of its objects
    names twice, or None."""
    stack = [value] if isinstance(value, dict | list) else []
    while stack:
        item = stack.pop()
        if isinstance(item, TwiceNamed):
            return (
                f"record names the key {item.twice!r} twice, and JSON readers keep either "
                "value: write it once"
            )
        values = item.values() if isinstance(item, dict) else item
        stack.extend(v for v in values if isinstance(v, dict | list))
    return None


def number_text(value: float) -> str:
    """A float's text as a record holds it: as written where it was read from JSON."""
    return value.text if isinstance(value, JsonFloat) else repr(value)
