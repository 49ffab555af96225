"""Why a file's header drifted when the file was read wrong, and what reads it right.

A header that matches nothing may be no header at all: a UTF-16 file read as 8-bit
text, a delimiter that is not the file's, a title above the header, a file with no
header row, another dataset's file. Under ``drift: evolve`` each would add garbage
columns to the table, so such a file is set aside under every policy (see
:meth:`~sluice.engine.opener.UnitOpener._drift`), and its hint names the setting that
reads it (each is pasted in a test and the file replayed).
"""

from __future__ import annotations

import re

from sluice.config import FileSourceConfig
from sluice.engine.context import RunContext
from sluice.sources.base import Reader
from sluice.sources.csv_reader import unique_headers
from sluice.sources.csv_start import utf16_hint
from sluice.transforms import MappingPlan, plan_mapping


def misread_hint(
    ctx: RunContext,
    stream: str,
    source: FileSourceConfig,
    reader: Reader,
    plan: MappingPlan,
    follow: str,
) -> str | None:
    """The hint for a header read wrong, or None for real drift. ``follow``: the
    command that loads the file once its config is fixed."""
    headers = reader.columns
    if headers and (utf16 := utf16_hint(headers[0], source.csv.encoding, stream, follow)):
        return utf16
    delimiter = _delimiter_hint(list(headers), plan.unexpected, source.csv.delimiter)
    if delimiter:
        return (
            f"the header looks delimited by {delimiter!r}: set csv.delimiter on source "
            f"{stream!r}, then {follow}"
        )
    if plan.missing and (below := _header_below(ctx, stream, source, reader)):
        return f"{below}, then {follow}"
    if not plan.rename and (row := _header_is_a_row(ctx, stream, source, reader)):
        return f"{row}, then {follow}"
    if not plan.rename and plan.missing:
        # Other data (a stray export in the folder): `evolve` would add its headers
        # as columns and load its rows with every column of the table empty.
        table = ctx.pipe.table.name
        return (
            f"no header of the file maps to a column of table {table}: if it is not "
            f"this source's data, narrow path on source {stream!r} and close this "
            "entry with `sluice quarantine discard ID` (`sluice quarantine list` shows "
            f"its ID); if it is, map its headers (sources.{stream}.columns or "
            f"synonyms), then {follow}"
        )
    return None


def _header_is_a_row(
    ctx: RunContext, stream: str, source: FileSourceConfig, reader: Reader
) -> str | None:
    """The hint for a CSV without a header row, whose first row was read as one: no
    column maps from it, and a field of it is a value (a number, a date) where the
    row below holds one too."""
    top = getattr(reader, "top_records", None)
    if top is None or source.csv.skip_rows:
        return None
    records = [r for _, r in top(20) if any(f.strip() for f in r)]
    at = next((i for i, r in enumerate(records) if _as_read(r, reader.columns)), None)
    if at is None or at + 1 >= len(records):
        return None
    header, row = records[at], records[at + 1]
    both = [
        i
        for i, (h, v) in enumerate(zip(header, row, strict=False))
        if _VALUE.fullmatch(h.strip()) and _VALUE.fullmatch(v.strip())
    ]
    if not both:
        return None
    shown = (getattr(reader, "delimiter", None) or source.csv.delimiter).join(header)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    first = next(iter(ctx.pipe.table.columns))
    return (
        f"the header read, {shown}, looks like a row: its field {both[0] + 1} "
        f"({header[both[0]]!r}) is a value, as in the row below. If the file has no "
        f"header row, set csv.header: false on source {stream!r} and map its columns "
        f"by place in sources.{stream}.columns (e.g. {first}: column_1)"
    )


def _as_read(record: list[str], columns: list[str]) -> bool:
    """Whether ``record`` is the header the reader read as ``columns``: its names, less
    the blank ones it left out (a spreadsheet's empty columns)."""
    headers = unique_headers(record)
    kept = [h for h, raw in zip(headers, record, strict=True) if raw.strip() or h in columns]
    return kept == columns


def _header_below(
    ctx: RunContext, stream: str, source: FileSourceConfig, reader: Reader
) -> str | None:
    """``csv.skip_rows`` for a CSV whose header is further down than where it was
    read (a title or a note above it, as reports export): the first record of the
    file's first lines that every column maps from."""
    top = getattr(reader, "top_records", None)
    if top is None:
        return None
    for line, record in top():
        while record and not record[-1].strip():
            record = record[:-1]  # an export's empty cells past the last header
        headers = unique_headers(record)
        if not record or _as_read(record, reader.columns):
            continue
        if plan_mapping(headers, ctx.pipe, source, ctx.project.synonyms).missing:
            continue
        declared = getattr(reader, "delimiter", None) or source.csv.delimiter
        shown = declared.join(record)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        said = f"the header looks to be on line {line} ({shown}): set csv.skip_rows: {line - 1}"
        if declared != source.csv.delimiter:
            # skip_rows skips Excel's `sep=` line as any other: say its delimiter too
            said += f" and csv.delimiter: {declared!r}"
        return f"{said} on source {stream!r}"
    return None


#: a field that is a value, not a name: a number (``12``, ``-1,234.5``) or a date
_VALUE = re.compile(r"[+-]?[0-9][0-9.,]*|[0-9]{1,4}[-/.][0-9]{1,2}[-/.][0-9]{1,4}")


def _delimiter_hint(headers: list[str], unexpected: list[str], delimiter: str) -> str | None:
    """The delimiter a file seems to use when its whole header came out as one column.

    Only a one-column header counts: a real extra column whose name merely contains a
    ``;`` is ordinary drift, not a wrong delimiter.
    """
    if len(headers) == 1 and unexpected == headers:
        for candidate in (";", "\t", "|", ","):
            if candidate != delimiter and unexpected[0].count(candidate) >= 1:
                return candidate
    return None
