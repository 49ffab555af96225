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

A grouped report (a spreadsheet's Subtotal command, a pivot table, a ledger by account)
also totals each group under its rows: ``,Parks Total,,2113.50``. Such a row is found
anywhere in the file by its label, the group's value and the word: the value of the
same column in the rows above, then ``Total`` or ``Subtotal`` (or the function Excel's
Subtotal command used: ``Parks Count``, ``Parks Average``; :func:`subtotal_rows`).
"""

from __future__ import annotations

import re

import polars as pl

from sluice.batch import LINE, Reject

#: first fields that label a totals row (compared in lower case, without a trailing
#: colon, with runs of spaces, hyphens and underscores as one space)
LABELS = frozenset(
    {"total", "totals", "grand total", "grand totals", "subtotal", "sub total", "sum"}
    # Excel's Subtotal command by another function writes its grand row so
    | {"grand count", "grand average", "grand max", "grand min", "grand product"}
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
TOTALS, NOTE, SUBTOTAL = "totals row", "note", "subtotal row"
#: how the reasons of footer and subtotal rows start
FOOTER_STARTS = (f"a {TOTALS} {FOOTER_REASON}", f"a {NOTE} {FOOTER_REASON}", f"a {SUBTOTAL} of ")
#: the word after a group's value in its subtotal's label: ``Total`` (a sum, and what
#: pivot tables write), or the function Excel's Subtotal command used (``Parks Count``,
#: ``Parks Average``, ...)
_WORDS = r"(?:[Ss]ub[\s_-]?)?[Tt]otal|Count|Average|Max|Min|Product|StdDevp?|Varp?"
#: a group's label: its value, then the word (``Parks Total``, ``2023 subtotal``)
_GROUP_TOTAL = re.compile(rf"^(?P<group>.*?\S)\s+(?:{_WORDS})$")
#: how the values that may label a subtotal end (narrows many rows in Polars)
_ENDING = rf"(?:{_WORDS})$"
_ENDS = re.compile(_ENDING)
_AT = "__at"
#: rows with an empty field looked at in Python; more are first narrowed by Polars
_FEW = 64


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


class Above:
    """The last non-empty value of each column in the rows read so far: the group a
    subtotal row at the top of a batch closes was named in the batch before."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def groups(self, data: pl.DataFrame, column: str) -> pl.Series:
        """For each row of ``data``, the last non-empty value above it in ``column``."""
        values = data.get_column(column).str.strip_chars().replace("", None)
        return values.shift(1, fill_value=self.values.get(column)).forward_fill()

    def update(self, data: pl.DataFrame, fields: list[str]) -> None:
        last = data.row(-1, named=True)
        if gaps := [c for c in fields if last[c] is None]:  # looked for further up
            last |= data.select(pl.col(gaps).last(ignore_nulls=True)).row(0, named=True)
        self.values |= {c: v.strip() for c in fields if (v := last[c]) is not None and v.strip()}


def subtotal_rows(
    data: pl.DataFrame, above: Above, *, empty_is_null: bool = True
) -> dict[int, tuple[str, str, str]]:
    """The subtotal rows of a grouped report in ``data``: line -> (:data:`SUBTOTAL`,
    the column of its label, the label). A label is a group's value and the word
    (``Parks Total`` under rows whose value there is ``Parks``), or ``Subtotal`` as a
    row's first value, in a row with an empty field (a subtotal sums some columns and
    leaves the rest). ``above`` carries the groups over from the batch before;
    ``empty_is_null``: the reader reads an empty field as null."""
    fields = [c for c in data.columns if c != LINE]
    if not fields or not data.height:
        return {}
    # Rows with an empty field first (most batches have few: their columns' null counts
    # say where to look), then the end of each of their values. A test of every value's
    # end took 0.13-0.19 CPU-s per 1M rows of 16 columns (the bench's file); this takes
    # 0.06-0.08 there, most of it Polars' cost per call.
    gaps: pl.Expr | None
    if empty_is_null:
        counts = data.select(fields).null_count().row(0)
        sparse = [c for c, n in zip(fields, counts, strict=True) if n]
        gaps = pl.any_horizontal(pl.col(sparse).is_null()) if sparse else None
    else:
        gaps = pl.any_horizontal(pl.col(fields).is_null() | (pl.col(fields).str.len_bytes() == 0))
    hits = data.clear() if gaps is None else data.with_row_index(_AT).filter(gaps)
    if hits.height > _FEW:
        hits = hits.filter(pl.any_horizontal(pl.col(fields).str.contains(_ENDING)))
    found: dict[int, tuple[str, str, str]] = {}
    groups: dict[str, pl.Series] = {}
    stacked: dict[str, tuple[int, str]] = {}  # column -> (line, group) of its last subtotal
    for row in hits.iter_rows(named=True):
        filled = [c for c in fields if row[c] is not None and row[c].strip()]
        if len(filled) == len(fields):
            continue
        for c in filled:
            written = row[c].strip()
            if _ENDS.search(written) is None:
                continue
            if c == filled[0] and label(written) in ("subtotal", "sub total"):
                found[int(row[LINE])] = (SUBTOTAL, c, written)
                break
            m = _GROUP_TOTAL.match(written)
            if m is None:
                continue
            if c not in groups:
                groups[c] = above.groups(data, c)
            line = int(row[LINE])
            # A second function's row right under the first (``Blue Max``, ``Blue Min``)
            # names the group the first did, not the row above it.
            if m["group"] == groups[c][row[_AT]] or stacked.get(c) == (line - 1, m["group"]):
                found[line] = (SUBTOTAL, c, written)
                stacked[c] = (line, m["group"])
                break
    above.update(data, fields)
    return found


def footer_reason(kind: str, column: str, written: str, stream: str) -> str:
    """Why a footer or subtotal row is in quarantine, and the commands that close its
    entry."""
    what = f"a totals row {FOOTER_REASON} ({written!r} in {column!r})"
    if kind == NOTE:
        what = f"a note {FOOTER_REASON} ({_short(written)!r})"
    elif kind == SUBTOTAL:
        what = f"a {SUBTOTAL} of the group above it ({written!r} in {column!r})"
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
    return reason.startswith(FOOTER_STARTS)


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."
