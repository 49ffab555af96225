"""JSON Lines records that name a key twice: ``{"id": 2, "name": "b", "name": "c"}``.

JSON leaves such a record's meaning to the reader: Polars keeps the first value, Python's
``json`` and JavaScript the last, and the record loaded as "b" without a word. A line
naming a key twice is quarantined with that reason, as a line that is no JSON object is.

Finding one costs a count: every key is a ``":`` in the block's bytes, and a block whose
records hold fewer keys than that (:func:`keys_held`) has a key named twice, or a ``":``
inside a text value, which is no trouble. Only then are the keys counted per line, and
only a line holding more than its record is read again, by Python's ``json``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl

from sluice.batch import LINE


def keys_held(frame: pl.DataFrame) -> pl.Series | None:
    """How many keys with a value other than null each record of ``frame`` (as Polars
    read them, objects as structs) holds, objects included; None when a list holds
    objects (their keys are not counted here)."""
    exprs: list[pl.Expr] = []

    def walk(expr: pl.Expr, dtype: Any) -> bool:
        dtype = dtype() if isinstance(dtype, type) else dtype
        if isinstance(dtype, (pl.List, pl.Array)):
            return "Struct" not in str(dtype)
        exprs.append(expr.is_not_null().cast(pl.UInt32))
        if isinstance(dtype, pl.Struct):
            return all(walk(expr.struct.field(f.name), f.dtype) for f in dtype.fields)
        return True

    if not all(walk(pl.col(n), d) for n, d in frame.schema.items() if n != LINE):
        return None
    if not exprs:
        return pl.Series([0] * frame.height, dtype=pl.UInt32)
    return frame.select(pl.sum_horizontal(exprs)).to_series()


def names_a_key_twice(block: bytes, lines: np.ndarray, held: pl.Series) -> bool:
    """Whether a line of ``block`` (``lines``: the 0-based indexes of its records'
    lines; ``held``: :func:`keys_held` of their records) names a key twice."""
    arr = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(arr == 10)
    starts = np.concatenate(([0], ends + 1))
    colons = np.flatnonzero(arr == 58)
    colons = colons[colons > 0]
    tight = colons[arr[colons - 1] == 34]
    after = np.concatenate((arr, np.zeros(6, dtype=np.uint8)))
    null = np.zeros(tight.size, dtype=bool)
    for word in (b"null", b" null"):
        hit = np.ones(tight.size, dtype=bool)
        for i, ch in enumerate(word, start=1):
            hit &= after[tight + i] == ch
        null |= hit
    per_line = np.bincount(
        np.searchsorted(starts, tight[~null], side="right") - 1, minlength=starts.size
    )
    for k in np.flatnonzero(per_line[lines] > held.to_numpy()).tolist():
        i = int(lines[k])
        end = int(ends[i]) if i < ends.size else arr.size
        if twice_named(block[int(starts[i]) : end]) is not None:
            return True
    return False


def pairs_hook() -> tuple[Callable[[list[tuple[str, Any]]], dict[str, Any]], list[str]]:
    """An ``object_pairs_hook`` for ``json.loads``, and the list it says a key named
    twice in (the first one)."""
    said: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in items:
            if key in seen and not said:  # no values: the line may hold what PII hides
                said.append(
                    f"line names the key {key!r} twice, and JSON readers keep either "
                    "value: write it once"
                )
            seen[key] = value
        return seen

    return pairs, said


def twice_named(line: bytes) -> str | None:
    """Why ``line`` is refused for a key it names twice, or None."""
    pairs, said = pairs_hook()
    try:
        json.loads(line, object_pairs_hook=pairs)
    except ValueError:
        return None
    return said[0] if said else None
