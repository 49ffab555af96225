"""The one object passed between plugins: a bounded slice of rows of one stream.

``data`` is a Polars frame whose columns are the source's own fields plus ``_line``
(where each row starts in its file, for error messages and quarantine entries).
``rejects`` are rows the parser could not read at all (a ragged CSV row): they are
counted as read and quarantined, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

LINE = "_line"


@dataclass(frozen=True)
class Reject:
    """A row the parser could not turn into fields."""

    line: int
    text: str
    reason: str


@dataclass
class Batch:
    stream: str
    unit: str
    data: pl.DataFrame
    rejects: list[Reject] = field(default_factory=list)
    #: the reader saw every byte of the batch's text and none was NUL (``\x00``), so
    #: validation need not look for one; False: not known
    nul_free: bool = False
    #: columns (by the source's names) whose every value is already trimmed: none
    #: starts or ends with a space or is an empty string, so a ``trim`` step leaves
    #: them as they are; empty: not known
    trimmed: frozenset[str] = frozenset()
    #: the file's header record as it reads (a CSV with a header row): a row that holds
    #: it again is no data (files joined with their headers); None: not known
    header: tuple[str, ...] | None = None
    #: the file's footer rows (a CSV's ``Total`` row and notes under its data): line ->
    #: why it is not loaded (see :mod:`sluice.sources.csv_footer`); the source's
    #: ``csv.footer`` says what becomes of them
    footer: dict[int, str] = field(default_factory=dict)
    #: the reader saw every byte of the batch's text and none was a backslash, so it
    #: holds no ``\\N`` (a database dump's missing value) to look for; False: not known
    backslash_free: bool = False

    @property
    def rows_read(self) -> int:
        return self.data.height + len(self.rejects)
