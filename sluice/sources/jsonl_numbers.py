"""JSON Lines numbers as written: digits a double does not keep, numbers no reader holds.

Polars reads a JSON number with a fraction or an exponent through a double, and its text
is then the double's: ``12345678901234567890.5`` became "12345678901234567000" and
``9007199254740993.5`` "9007199254740994", loaded so into a decimal column without a
word. A number of 15 significant digits or fewer comes out as the same number; of
random ones with more that a double changed, every one came out as a text of
:data:`LONG` characters or more (a double's shortest text has up to 17 digits). One
that does not is a double's own text padded with noise (``0.10000000000000001``, which
is the double 0.1), or a number very near one of 15 digits. So only long texts are
looked at: one found as it is in its line was written so (most doubles are written as
their shortest text, as Polars writes them); the others are read again from their line
by Python's ``json``, which hands over a number's text as written
(:func:`sluice.jsonnumbers.loads`). A number too small
for a double (``1e-400``) reads as 0 and is not found (checking every zero would read
most lines twice).

A number past what a double holds (``1e400``) or than Polars reads as an integer
(past 2**127) fails the block; :func:`unreadable` names such a line's number, and the
line is quarantined with that reason (Python's ``json`` would read ``1e400`` as
infinity).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import polars as pl

from sluice import jsonnumbers

#: the shortest text of a double (as Polars writes it) looked at for digits it lost: of
#: 20,000 random numbers of 16 to 22 digits, 16,856 lost some, and each of those came
#: out 14 characters or longer
LONG = 14
_AT, _LINE = "__row", "__line"
#: the integers Polars reads (Int128)
_INT_RANGE = (-(2**127), 2**127 - 1)


#: a column of numbers: the path of its field in a record, and whether it was read as
#: a double (else an integer, whose text is exact unless a later record has a fraction)
Leaf = tuple[tuple[str, ...], bool]


def number_leaves(
    schema: pl.Schema | dict[str, pl.DataType], *, flatten: bool, sep: str = "_"
) -> dict[str, Leaf]:
    """The columns an inferred ``schema`` read numbers into (named as
    :func:`~sluice.sources.jsonl_reader.flat_text` names them), each a :data:`Leaf`."""
    found: dict[str, Leaf] = {}

    def walk(path: tuple[str, ...], dtype: Any) -> None:
        dtype = dtype() if isinstance(dtype, type) else dtype
        if isinstance(dtype, pl.Struct) and flatten and dtype.fields:
            for f in dtype.fields:
                walk((*path, f.name), f.dtype)
        elif dtype.is_numeric():
            found[sep.join(path)] = (path, dtype.is_float())

    for name, dtype in schema.items():
        walk((name,), dtype)
    return found


def as_written(
    text: pl.DataFrame, leaves: dict[str, Leaf], lines: Callable[[], list[bytes]]
) -> pl.DataFrame:
    """``text`` (a block's records, each value as text) with the numbers of ``leaves``
    that a double may have changed read again, as written, from their ``lines`` (the
    records' lines, in order; asked for only when one is needed)."""
    columns = [c for c in leaves if c in text.columns and text.schema[c] == pl.String]
    if not columns or not text.height:
        return text
    # A length is read from each value's view, no pass over the text. A double's long
    # text may look whole (12345678901234567000); in a column of integers only a
    # fraction or an exponent says a double was read (a long integer is exact).
    doubles = [
        (pl.col(c).str.len_bytes() >= LONG)
        & (pl.lit(leaves[c][1]) | pl.col(c).str.contains("[.eE]"))
        for c in columns
    ]
    long = pl.any_horizontal([pl.col(c).str.len_bytes() >= LONG for c in columns])
    candidates = text.select(columns).with_row_index(_AT).filter(long)
    if not candidates.height:
        return text
    candidates = candidates.filter(pl.any_horizontal(doubles))
    if not candidates.height:
        return text
    # A text found as it is in its line was written so (most doubles are written as
    # their shortest text, as Polars writes them): only the others are read again.
    rows = candidates.get_column(_AT)
    kept = pl.Series(lines(), dtype=pl.Binary).gather(rows).cast(pl.String)
    found = candidates.with_columns(kept.alias(_LINE)).select(
        _AT, *[pl.col(_LINE).str.contains(_token(pl.col(c))).alias(c) for c in columns]
    )
    changed = found.filter(~pl.all_horizontal(pl.col(columns).fill_null(True)))
    fixed: dict[str, tuple[list[int], list[str]]] = {c: ([], []) for c in columns}
    lines_at = dict(zip(rows.to_list(), kept.to_list(), strict=True))
    for i in changed.get_column(_AT).to_list():
        try:
            record = jsonnumbers.loads(lines_at[i])
        except ValueError:  # Polars read it; Python's json does not: as Polars read it
            continue
        for c in columns:
            value = _at(record, leaves[c][0])
            if isinstance(value, jsonnumbers.JsonFloat):
                fixed[c][0].append(i)
                fixed[c][1].append(value.text)
    changes = [
        text.get_column(c).scatter(at, pl.Series(values, dtype=pl.String))
        for c, (at, values) in fixed.items()
        if at
    ]
    return text.with_columns(changes) if changes else text


def _token(text: pl.Expr) -> pl.Expr:
    """A regex of ``text`` (a number's) as a whole value in a line of JSON, not the
    start of a longer number (``-38.8413`` in ``-38.8413134260``)."""
    escaped = text.str.replace_all(".", "\\.", literal=True).str.replace_all(
        "+", "\\+", literal=True
    )
    return pl.concat_str(pl.lit(r"[:\[,\s]"), escaped, pl.lit(r"[,}\]\s]"))


def _at(record: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(record, dict):
            return None
        record = record.get(key)
    return record


def unreadable(line: bytes) -> str | None:
    """Why Polars cannot read ``line``'s numbers, or None: one past a double's range
    (``1e400``) or an integer past 2**127."""
    said: list[str] = []

    def real(text: str) -> float:
        number = float(text)
        if math.isinf(number) and not said:
            said.append(f"{text}, past what a double holds (magnitudes to 1.8e308)")
        return number

    def whole(text: str) -> int:
        number = int(text)
        if not _INT_RANGE[0] <= number <= _INT_RANGE[1] and not said:
            said.append(f"{_short(text)}, an integer past what is read (2**127)")
        return number

    try:
        json.loads(line, parse_float=real, parse_int=whole)
    except ValueError:
        return None  # not JSON: said otherwise
    if not said:
        return None
    return f"line holds the number {said[0]}: write it as a string (in quotes) to load its text"


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."
