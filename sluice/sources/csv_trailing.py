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


def past_the_trail(data: pl.DataFrame, opts: CsvOptions) -> tuple[pl.DataFrame, list[Reject]]:
    """``data`` without its trailing field, and the rows that hold a value there: the
    other lines end with the delimiter, so the value has no column (it is not dropped)."""
    trail = pl.col(TRAIL)
    held = data.select(trail.is_not_null() & (trail.str.strip_chars() != "")).to_series()
    if not held.any():
        return data.drop(TRAIL), []
    rejects = []
    fields = [c for c in data.columns if c != LINE]
    for row in data.filter(held).iter_rows(named=True):
        text = _joined([row[c] or "" for c in fields], opts)
        said = (
            f"row has a value past the last column ({row[TRAIL]!r}), where the file's "
            "lines end with an empty field (a trailing delimiter)"
        )
        rejects.append(Reject(row[LINE], text, said))
    return data.filter(~held).drop(TRAIL), rejects


def blank_columns(raw: list[str], first_row: list[str] | None) -> list[int]:
    """The places of ``raw`` (a header record) whose header is blank and whose first row
    is empty there (see the module): an unnamed column that holds values from the first
    row on (a pandas index) is a column, under the name ``column_N``. None when every
    header is blank: that is no header, and the file's own checks say so."""
    first = first_row or []
    blank = [
        i for i, h in enumerate(raw) if not h.strip() and (i >= len(first) or not first[i].strip())
    ]
    return [] if len(blank) == len(raw) else blank


def past_the_blanks(
    data: pl.DataFrame, blanks: dict[str, int], opts: CsvOptions, stream: str
) -> tuple[pl.DataFrame, list[Reject]]:
    """``data`` without its blank-header columns (name -> place, from 1), and the rows
    that hold a value under one: such a value has no column to go to (it is not
    dropped). The reason names the mapping that makes the column one."""
    held = {
        name: pl.col(name).is_not_null() & (pl.col(name).str.strip_chars() != "") for name in blanks
    }
    flags = data.select(pl.any_horizontal(*held.values()).alias("held")).to_series()
    if not flags.any():
        return data.drop(*blanks), []
    rejects = []
    fields = [c for c in data.columns if c != LINE]
    for row in data.filter(flags).iter_rows(named=True):
        text = _joined([row[c] or "" for c in fields], opts)
        under = [n for n in blanks if (row[n] or "").strip()]
        values = ", ".join(f"{row[n]!r} in column {blanks[n]}" for n in under)
        said = (
            f"row has a value under a blank header ({values}), where the file's first row "
            f"is empty: it has no column to load into (to load it, map it: "
            f"sources.{stream}.columns: {{COLUMN: {under[0]}}})"
        )
        rejects.append(Reject(row[LINE], text, said))
    return data.filter(~flags).drop(*blanks), rejects


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
    return pl.concat([data.select(added.columns), added]).sort(LINE)


def _joined(fields: list[str], opts: CsvOptions) -> str:
    """A row's fields written back as one CSV line (for a quarantine entry's text)."""
    out = io.StringIO()
    csv.writer(out, delimiter=opts.delimiter, quotechar=opts.quote, lineterminator="").writerow(
        fields
    )
    return out.getvalue()
