"""JSON read with each fraction's digits kept as written.

Python's ``json`` reads ``1.50`` and ``12345678901234567.89`` as floats: their text
becomes ``1.5`` and ``1.2345678901234568e+16``, and a decimal column stored the second
rounded. :func:`loads` reads a fraction as a :class:`JsonFloat`, a float (arithmetic,
comparisons and ``json.dumps`` work as on any float) that keeps the text it was read
from, which is what a record's value becomes (:func:`number_text`). Integers are exact
in Python already.
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


def loads(data: str | bytes) -> Any:
    """``json.loads`` with every fraction a :class:`JsonFloat`."""
    return json.loads(data, parse_float=JsonFloat)


def number_text(value: float) -> str:
    """A float's text as a record holds it: as written where it was read from JSON."""
    return value.text if isinstance(value, JsonFloat) else repr(value)
