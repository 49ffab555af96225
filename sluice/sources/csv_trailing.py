"""CSV lines that end with a delimiter, rows with empty fields past the header's, and
columns whose header is blank.

Some exports end every line with the delimiter (``id,name,city,``), the header's or
not. Python's csv reads such a line with one more field, empty: it holds nothing and is
no column. A file whose first row shows that shape is parsed one field wider, and that
field must stay empty (a row with a value there is quarantined); any other row with
more fields than the header, all empty past its width, is read by Python's csv.

Spreadsheets saved as CSV write the cells of columns that were formatted but never
filled: ``id,name,,`` over ``1,Ann,,``. A column whose header cell is blank and whose
first row is empty there is no column either: it must stay empty, as a trailing field
must, and a row with a value under it is quarantined, not loaded under a made-up name.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import polars as pl

from sluice.batch import LINE, Reject
from sluice.config import CsvOptions

#: the column a line's trailing delimiter makes, parsed to check it stays empty
TRAIL = "\x00trailing field"


def ends_with_delimiter(header: list[str], first_row: list[str] | None) -> bool:
    """Whether the file's lines end with a delimiter (``id,name,`` as some exports write
    them): the first row ends with an empty field past the header's named ones, the
    header's own trailing delimiter included. Python's csv reads such a line with one
    more field, empty; it holds nothing, and is not taken for a column."""
    if first_row is None or len(first_row) < 2 or first_row[-1].strip():
        return False
    if len(first_row) == len(header) + 1:
        return True
    return len(first_row) == len(header) and len(header) > 1 and not header[-1].strip()


def blank_columns(raw: list[str], first_row: list[str] | None) -> list[int]:
    """The places of ``raw`` (a header record) whose header is blank and whose first row
    is empty there (see the module): an unnamed column that holds values from the first
    row on (a pandas index) is a column, under the name ``column_N``. No place at all
    when every header is blank: that is no header, and the file's own checks say so."""
    first = first_row or []
    blank = [
        i for i, h in enumerate(raw) if not h.strip() and (i >= len(first) or not first[i].strip())
    ]
    return [] if len(blank) == len(raw) else blank


def past_the_trail(value: str) -> str:
    """Why a row with ``value`` in a trailing field is set aside."""
    return (
        f"row has a value past the last column ({value!r}), where the file's lines end "
        "with an empty field (a trailing delimiter)"
    )


def under_a_blank(place: int, name: str, stream: str) -> Callable[[str], str]:
    """Why a row with a value under the blank header at ``place`` (from 1, read as
    ``name``) is set aside: with the mapping that makes that column one."""

    def said(value: str) -> str:
        return (
            f"row has a value under a blank header ({value!r} in column {place}), where "
            f"the file's first row is empty: it has no column to load into (to load it, "
            f"map it: sources.{stream}.columns: {{COLUMN: {name}}})"
        )

    return said


def without_empty(
    data: pl.DataFrame, empty: dict[str, Callable[[str], str]], opts: CsvOptions
) -> tuple[pl.DataFrame, list[Reject]]:
    """``data`` without the columns that must stay empty (a trailing field, blank
    headers; each with why a value there is set aside), and the rows that hold a value
    in one: it has no column to go to, and is not dropped."""
    held = [pl.col(c).is_not_null() & (pl.col(c).str.strip_chars() != "") for c in empty]
    flags = data.select(pl.any_horizontal(held)).to_series()
    if not flags.any():
        return data.drop(*empty), []
    rejects = []
    fields = [c for c in data.columns if c != LINE]
    for row in data.filter(flags).iter_rows(named=True):
        text = _joined([row[c] or "" for c in fields], opts)
        said = "; ".join(say(row[c]) for c, say in empty.items() if (row[c] or "").strip())
        rejects.append(Reject(row[LINE], text, said))
    return data.filter(~flags).drop(*empty), rejects


def padded_fields(text: str, opts: CsvOptions, width: int) -> list[str] | None:
    """The ``width`` fields of a row that has more, all empty past them (a trailing
    delimiter, or two), as Python's csv reads it; None for any other row."""
    try:
        fields = next(csv.reader([text], delimiter=opts.delimiter, quotechar=opts.quote))
    except (csv.Error, StopIteration):
        return None
    while len(fields) > width and not fields[-1].strip():
        fields.pop()
    return fields if len(fields) == width else None


def with_rows(
    data: pl.DataFrame, headers: list[str], rows: list[tuple[int, list[str]]], opts: CsvOptions
) -> pl.DataFrame:
    """``data`` with ``rows`` (line, fields) added in line order; a field in
    ``csv.null_values`` is null, as PyArrow reads it."""
    nulls = set(opts.null_values)
    columns: dict[str, list[str | None]] = {
        h: [None if r[i] in nulls else r[i] for _, r in rows] for i, h in enumerate(headers)
    }
    added = pl.DataFrame(columns, schema=dict.fromkeys(headers, pl.String)).with_columns(
        pl.Series(LINE, [line for line, _ in rows], dtype=pl.Int64)
    )
    # `data`'s other columns (a trailing field) are null in the added rows
    return pl.concat([data, added], how="diagonal").sort(LINE)


def _joined(fields: list[str], opts: CsvOptions) -> str:
    """A row's fields written back as one CSV line (for a quarantine entry's text)."""
    out = io.StringIO()
    csv.writer(out, delimiter=opts.delimiter, quotechar=opts.quote, lineterminator="").writerow(
        fields
    )
    return out.getvalue()
