"""A CSV file's totals row: the row under the data that sums it, labelled ``Total``.

Spreadsheets, accounting systems and published reports end their exports with one
(``Total,,1113.50,``, ``Grand total: 5,210``). Read as CSV, it is one more row, and a
loaded one adds the table's sums to it again: the sum of the column doubles, silently.

A totals row here is a row at the end of the file (below it only blank rows, or rows
the parser could not read, as a "Source: ..." note) whose first non-empty field is a
label of :data:`LABELS`; rows above one that are labelled too (``Subtotal`` then
``Total``) are as well. A row so labelled in the middle of a file is data (a category
"Total" in a statistics table), and the last rows are all that is looked at, so a
file costs a few row reads whatever its size.
"""

from __future__ import annotations

import re

import polars as pl

from sluice.batch import LINE

#: first fields that label a totals row (compared in lower case, without a trailing
#: colon, with runs of spaces, hyphens and underscores as one space)
LABELS = frozenset(
    {"total", "totals", "grand total", "grand totals", "subtotal", "sub total", "sum"}
)
#: rows looked at from the end of a file (a sheet may end in many empty rows)
LOOKED_AT = 1000
_SPACES = re.compile(r"[\s_-]+")
#: how a totals row's quarantine reason starts
TOTALS_REASON = "a totals row at the end of the file"


def label(value: str) -> str:
    """``value`` as :data:`LABELS` hold it."""
    return _SPACES.sub(" ", value.strip().lower().rstrip(":").strip())


def totals_rows(data: pl.DataFrame) -> dict[int, tuple[str, str]]:
    """The totals rows at the end of ``data``, the last of a file's rows: line -> (the
    column that labels it, its label as written)."""
    fields = [c for c in data.columns if c != LINE]
    found: dict[int, tuple[str, str]] = {}
    for i in range(data.height - 1, max(-1, data.height - 1 - LOOKED_AT), -1):
        row = data.row(i, named=True)
        first = next(((c, row[c]) for c in fields if row[c] is not None and row[c].strip()), None)
        if first is None:  # a blank row: what is above may still be the totals
            continue
        if label(first[1]) not in LABELS:
            break
        found[int(row[LINE])] = (first[0], first[1].strip())
    return found


def totals_reason(column: str, written: str, stream: str) -> str:
    """Why a totals row is in quarantine, and the commands that close its entry."""
    return (
        f"{TOTALS_REASON} ({written!r} in {column!r}), not data: `sluice quarantine discard ID` "
        f"drops it; csv.totals_row: filter on source {stream!r} filters it on `sluice "
        "quarantine replay` (and later files' totals rows, counted as filtered); if it is "
        f"data, set csv.totals_row: load on source {stream!r}, then `sluice quarantine replay`"
    )


def is_totals_reason(reason: str) -> bool:
    """Whether a quarantine entry's ``reason`` is :func:`totals_reason`'s (a replay
    reads the row again as the totals row it was found to be)."""
    return reason.startswith(TOTALS_REASON)
