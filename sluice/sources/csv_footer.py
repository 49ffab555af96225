"""A CSV file's footer: the totals row and the notes under its data.

Spreadsheets, accounting systems and published reports end their exports with a row
that sums the data (``Total,,1113.50,``, ``Grand total: 5,210``) and notes
(``Source: Finance department,,,``). Read as CSV, each is one more row: a loaded totals
row adds the table's sums to it again (the sum of the column doubles, silently), and a
note loads as a supplier called "Source: Finance department". A spreadsheet pads every
row to the header's width, so neither is a ragged row the parser would reject.

The footer is the run of rows at the end of the file (blank rows aside) each of which is
a totals row, whose first non-empty field is a label of :data:`LABELS`, or a note, whose
only non-empty field starts as notes do (:data:`NOTES`). A row so labelled above the
file's last data row is data (a category "Total" in a statistics table), and only the
last rows are looked at, so a file costs a few row reads whatever its size.
"""

from __future__ import annotations

import re

import polars as pl

from sluice.batch import LINE, Reject

#: first fields that label a totals row (compared in lower case, without a trailing
#: colon, with runs of spaces, hyphens and underscores as one space)
LABELS = frozenset(
    {"total", "totals", "grand total", "grand totals", "subtotal", "sub total", "sum"}
)
#: how a note under a table starts (in lower case): its source, a note, a footnote mark
NOTES = re.compile(
    r"^(sources?\b|notes?\b|n\.?b\.|footnotes?\b|\*|†|‡|©|\(c\)|copyright\b|figures\b"
    r"|(?:report )?generated\b|prepared by\b|compiled by\b|printed\b)"
)
#: rows looked at from the end of a file (a sheet may end in many empty rows)
LOOKED_AT = 1000
_SPACES = re.compile(r"[\s_-]+")
#: how a footer row's quarantine reason starts
FOOTER_REASON = "at the end of the file"
TOTALS, NOTE = "totals row", "note"


def label(value: str) -> str:
    """``value`` as :data:`LABELS` hold it."""
    return _SPACES.sub(" ", value.strip().lower().rstrip(":").strip())


def footer_rows(data: pl.DataFrame) -> dict[int, tuple[str, str, str]]:
    """The footer rows at the end of ``data``, the last of a file's rows: line -> (what
    it is, :data:`TOTALS` or :data:`NOTE`; the column of its first value; that value)."""
    fields = [c for c in data.columns if c != LINE]
    found: dict[int, tuple[str, str, str]] = {}
    for i in range(data.height - 1, max(-1, data.height - 1 - LOOKED_AT), -1):
        row = data.row(i, named=True)
        filled = [(c, row[c].strip()) for c in fields if row[c] is not None and row[c].strip()]
        if not filled:  # a blank row: what is above may still be the footer
            continue
        column, first = filled[0]
        if label(first) in LABELS:
            found[int(row[LINE])] = (TOTALS, column, first)
        elif len(filled) == 1 and NOTES.match(first.lower()):
            found[int(row[LINE])] = (NOTE, column, first)
        else:
            break
    return found


def footer_reason(kind: str, column: str, written: str, stream: str) -> str:
    """Why a footer row is in quarantine, and the commands that close its entry."""
    what = f"a totals row {FOOTER_REASON} ({written!r} in {column!r})"
    if kind == NOTE:
        what = f"a note {FOOTER_REASON} ({_short(written)!r})"
    return (
        f"{what}, not data: `sluice quarantine discard ID` drops it; csv.footer: filter "
        f"on source {stream!r} filters it on `sluice quarantine replay` (and later "
        "files' totals rows and notes, counted as filtered); if it is data, set "
        f"csv.footer: load on source {stream!r}, then `sluice quarantine replay`"
    )


def footer_notes(
    rejects: list[Reject], data: pl.DataFrame, stream: str
) -> tuple[list[Reject], dict[int, str]]:
    """``rejects`` (lines the parser could not split, from a file's last rows) with
    those below the last row of ``data`` that are notes (a line of its own, not padded
    to the header's width: "Source: ONS") given the reason of one; and their lines ->
    that reason."""
    below = int(data.select(pl.col(LINE).max()).item() or 0) if data.height else 0
    kept: list[Reject] = []
    notes: dict[int, str] = {}
    for r in rejects:
        text = r.text.strip().strip('"').strip()
        if r.line > below and NOTES.match(text.lower()):
            notes[r.line] = (
                f"a note {FOOTER_REASON} ({_short(text)!r}), not data: `sluice quarantine "
                f"discard ID` drops it, and csv.footer: filter on source {stream!r} filters "
                "later files' totals rows and notes (counted as filtered)"
            )
            r = Reject(r.line, r.text, notes[r.line])
        kept.append(r)
    return kept, notes


def is_footer_reason(reason: str) -> bool:
    """Whether a quarantine entry's ``reason`` is :func:`footer_reason`'s (a replay
    reads the row again as the footer row it was found to be)."""
    return reason.startswith(("a totals row " + FOOTER_REASON, "a note " + FOOTER_REASON))


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."
