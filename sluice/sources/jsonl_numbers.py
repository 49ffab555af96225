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
(:func:`sluice.jsonnumbers.loads`). A number too small for a double (``1e-400``)
reads as 0: a zero is read again only where its line holds an exponent of three digits
below zero (:data:`TINY`), in a block that holds ``e-`` at all (:func:`maybe_tiny`), so
a column of plain zeros costs one look at a value's length. A field written in quotes
or null in the first block is read as text in the later ones, and a number there went
through a double as well: such a column is looked at as a column of doubles is, if its
first block held numbers' texts only (:func:`text_of_numbers`).

A number past what a double holds (``1e400``) or than Polars reads as an integer
(past 2**127) fails the block; :func:`unreadable` names such a line's number, and the
line is quarantined with that reason (Python's ``json`` would read ``1e400`` as
infinity).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any, Literal

import polars as pl

from sluice import jsonnumbers

#: the shortest text of a double (as Polars writes it) looked at for digits it lost: of
#: 20,000 random numbers of 16 to 22 digits, 16,856 lost some, and each of those came
#: out 14 characters or longer
LONG = 14
_AT, _LINE, _ZERO, _TINY = "__row", "__line", "__zero", "__tiny"
#: a zero's texts as a double's: ``0``, ``-0`` (and ``0.0`` where inferred)
ZEROS = ("0", "-0", "0.0", "-0.0")
#: in a line, a number that may be too small for a double (below 2.5e-324 it reads as
#: 0): a negative exponent of three digits, or a fraction of 300 zeros before a digit
TINY = r"[eE]-\d{3}|\.0{300}"
#: how a field's value is spaced from its key and what follows it, the most common
#: first (Python's ``json.dumps``, then compact writers)
_SPACED = [(": ", ","), (":", ","), (": ", "}"), (":", "}"), (": ", " "), (":", " ")]
#: a text value's, in quotes: written as it is
_QUOTED = [(': "', '"'), (':"', '"')]
#: the integers Polars reads (Int128)
_INT_RANGE = (-(2**127), 2**127 - 1)


#: how a column was read: numbers through a double; integers (exact, unless a later
#: record has a fraction); text, which a later record may hold a number in (read
#: through a double: ``12345678901234567890.5`` as "12345678901234567000")
Kind = Literal["double", "integer", "text"]
#: a column a number may be read into: the path of its field in a record, and its kind
Leaf = tuple[tuple[str, ...], Kind]
#: a long text that may be a double's (12345678901234567000, -1.2345678901234567e-5)
_NUMBER = r"^-?[0-9][0-9.eE+-]*$"


def number_leaves(
    schema: pl.Schema | dict[str, pl.DataType], *, flatten: bool, sep: str = "_"
) -> dict[str, Leaf]:
    """The columns an inferred ``schema`` read numbers or text into (named as
    :func:`~sluice.sources.jsonl_reader.flat_text` names them), each a :data:`Leaf`."""
    found: dict[str, Leaf] = {}

    def walk(path: tuple[str, ...], dtype: Any) -> None:
        dtype = dtype() if isinstance(dtype, type) else dtype
        if isinstance(dtype, pl.Struct) and flatten and dtype.fields:
            for f in dtype.fields:
                walk((*path, f.name), f.dtype)
        elif dtype.is_numeric():
            found[sep.join(path)] = (path, "double" if dtype.is_float() else "integer")
        elif dtype in (pl.String, pl.Null):
            found[sep.join(path)] = (path, "text")

    for name, dtype in schema.items():
        walk((name,), dtype)
    return found


def text_of_numbers(text: pl.DataFrame, leaves: dict[str, Leaf]) -> dict[str, Leaf]:
    """``leaves`` without the text columns that hold a value other than a number's text
    in ``text`` (the first block's records): a field written in quotes (``"12.50"``) or
    null there may hold a number in a later record, read through a double; a column of
    names or hashes is not looked at again (a search per value and block cost 11 ms a
    block of 34 text columns)."""
    texts = [c for c, (_, kind) in leaves.items() if kind == "text" and c in text.columns]
    if not texts:
        return leaves
    numbers = text.select(
        pl.col(c).cast(pl.String).str.strip_chars().str.contains(_NUMBER).fill_null(True).all()
        for c in texts
    ).row(0, named=True)
    return {c: leaf for c, leaf in leaves.items() if leaf[1] != "text" or numbers.get(c)}


def maybe_tiny(block: bytes) -> bool:
    """Whether ``block`` may hold a number too small for a double (:data:`TINY`): a
    search for two bytes, no pass in Python."""
    return b"e-" in block or b"E-" in block or b"0" * 300 in block


def as_written(
    text: pl.DataFrame,
    leaves: dict[str, Leaf],
    lines: Callable[[], list[bytes]],
    *,
    tiny: bool = True,
) -> pl.DataFrame:
    """``text`` (a block's records, each value as text) with the numbers of ``leaves``
    that a double may have changed read again, as written, from their ``lines`` (the
    records' lines, in order; asked for only when one is needed). ``tiny``: whether the
    block may hold a number too small for a double (:func:`maybe_tiny`), read as 0."""
    schema = text.schema
    columns = [c for c in leaves if schema.get(c) == pl.String]
    if not columns or not text.height:
        return text
    # A length is read from each value's view, no pass over the text. A double's long
    # text may look whole (12345678901234567000); in a column of integers only a
    # fraction or an exponent says a double was read (a long integer is exact). A
    # double's zero may be a number too small for it, where the block may hold one.
    kind = {c: leaves[c][1] for c in columns}
    # Not an integer column's: its zeros are counts, and a look at each one's line cost
    # 0.41 CPU-s per 1M records of two such columns (a later 1e-400 there reads 0).
    zeros = {c: _zero(c) if tiny and kind[c] != "integer" else pl.lit(False) for c in columns}
    suspect = {
        c: (pl.col(c).str.len_bytes() >= LONG) & _doubles_text(c, kind[c]) | zeros[c]
        for c in columns
    }
    long = pl.any_horizontal([(pl.col(c).str.len_bytes() >= LONG) | zeros[c] for c in columns])
    candidates = text.select(columns).with_row_index(_AT).filter(long)
    if not candidates.height:
        return text
    candidates = candidates.filter(pl.any_horizontal(suspect.values()))
    if not candidates.height:
        return text
    # A text found as it is in its line was written so (most doubles are written as
    # their shortest text, as Polars writes them): only the others are read again. A
    # zero's text may be any field's (another may be 0), so a zero is read again where
    # its line holds a number that may be too small. A short text is as written.
    rows = candidates.get_column(_AT)
    kept = pl.Series(_LINE, lines(), dtype=pl.Binary).gather(rows).cast(pl.String)
    # one search of each line, whichever of its fields are zeros
    tiny_line = pl.col(_LINE).str.contains(TINY) if tiny else pl.lit(False)
    frame = candidates.with_columns(kept).with_columns(tiny_line.alias(_TINY))
    unsure = []
    for c in columns:
        at = frame.filter(suspect[c]).with_columns(zeros[c].alias(_ZERO))
        unsure.append(at.filter(pl.col(_ZERO) & pl.col(_TINY)).select(_AT, _LINE))
        others = at.filter(~pl.col(_ZERO))
        unsure.append(_not_written(others, c, text=kind[c] == "text").select(_AT, _LINE))
    changed = pl.concat(unsure).unique(_AT)
    fixed: dict[str, tuple[list[int], list[str]]] = {c: ([], []) for c in columns}
    for i, written in changed.iter_rows():
        try:
            record = jsonnumbers.loads(written)
        except ValueError:  # Polars read it; Python's json does not: as Polars read it
            continue
        for c in columns:
            value = _at(record, leaves[c][0])
            if isinstance(value, jsonnumbers.JsonFloat):  # a text's is not
                fixed[c][0].append(i)
                fixed[c][1].append(value.text)
    changes = [
        text.get_column(c).scatter(at, pl.Series(values, dtype=pl.String))
        for c, (at, values) in fixed.items()
        if at
    ]
    return text.with_columns(changes) if changes else text


def _doubles_text(column: str, kind: Kind) -> pl.Expr:
    """Whether ``column``'s long text may be a double's: any, in a column of doubles; a
    fraction or an exponent, in one of integers; a number's, in one of text (of numbers:
    :func:`text_of_numbers`)."""
    if kind == "double":
        return pl.lit(True)
    return pl.col(column).str.contains("[.eE]" if kind == "integer" else _NUMBER)


def _zero(column: str) -> pl.Expr:
    """Whether ``column``'s text is a double's zero (a length first: one look at a
    value's view for most)."""
    col = pl.col(column)
    return (col.str.len_bytes() <= 4) & col.is_in(ZEROS)


def _not_written(rows: pl.DataFrame, column: str, *, text: bool) -> pl.DataFrame:
    """The ``rows`` whose line does not hold ``column``'s text (a number's) as a whole
    field value: after a key's colon, before the next field or the record's end; not the
    start of a longer number (``-38.8413`` in ``-38.8413134260``). Searched for as plain
    text, one way of spacing after another, each on the rows not yet found: a regex of
    each row's text was compiled once per row, 107 CPU-s for a million records of three
    doubles. A field spaced otherwise (a tab) is read again by Python: only time. In a
    ``text`` column, a value in quotes was written as it is (an id of 20 digits)."""
    for before, after in _QUOTED + _SPACED if text else _SPACED:
        if not rows.height:
            break
        whole = pl.concat_str(pl.lit(before), pl.col(column), pl.lit(after))
        rows = rows.filter(~pl.col(_LINE).str.contains(whole, literal=True))
    return rows


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
