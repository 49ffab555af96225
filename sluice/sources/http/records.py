"""From JSON bodies to rows: pick the record list, flatten nested objects, keep text.

API records are small and few next to files (an API gives hundreds per call), so this
is plain Python per record; the columns come out as text and the table's declared
types are applied by the same casts and validation as for CSV files. That keeps one
behaviour for "12" and 12, and an int/str mix (``postcode``) never breaks a batch.
"""

from __future__ import annotations

import json
from typing import Any

import polars as pl

from sluice.batch import LINE
from sluice.jsonnumbers import number_text

_MISSING = object()


def pick(body: Any, path: str) -> Any:
    """The value at a dotted ``path`` (``data.items``, ``meta.next``) or None."""
    value = body
    for part in [p for p in path.split(".") if p]:
        if isinstance(value, dict):
            value = value.get(part, _MISSING)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
        if value is _MISSING:
            return None
    return value


def flatten(record: dict[str, Any], *, nested: bool = True, sep: str = "_") -> dict[str, Any]:
    """``{"name": {"first": "A"}}`` -> ``{"name_first": "A"}``; lists stay whole."""
    if not nested:
        return record
    out: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict) and value:
            for k, v in value.items():
                walk(f"{prefix}{sep}{k}" if prefix else str(k), v)
        else:
            out[prefix] = value

    walk("", record)
    return out


def text(value: Any) -> str | None:
    """A JSON value as the text a CSV export would hold (objects and lists as JSON)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return number_text(value)  # as the API wrote it
    if isinstance(value, int):
        return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def frame(records: list[dict[str, Any]], first_line: int, columns: list[str]) -> pl.DataFrame:
    """Text columns in ``columns`` order (absent fields are null), plus ``_line``."""
    data = {c: [text(r.get(c)) for r in records] for c in columns}
    out = pl.DataFrame(data, schema=dict.fromkeys(columns, pl.String))
    lines = pl.int_range(first_line, first_line + len(records), dtype=pl.Int64, eager=True)
    return out.with_columns(lines.alias(LINE))
