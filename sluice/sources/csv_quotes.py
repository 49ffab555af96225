"""Rows a quote ran over: which lines they took, and a quote never closed at the end.

A quote left open (``2,"Bob,ok`` in a file of plain rows) makes every line after it
part of one field until the next quote. PyArrow, like Python's csv, reads on: the row
then has too few fields and is quarantined, and its reason says which lines it took, so
that rows which vanished into it are not a mystery. A quote opened in the last column
and never closed is worse: the row has as many fields as the header and every line to
the end of the file is one value. Python's csv in strict mode says "unexpected end of
data" there; that row is quarantined too, rather than loaded with the lines it ate.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from typing import IO

from sluice.config import CsvOptions

#: bytes read at a time while looking for a row's first line
_CHUNK = 1 << 20
#: a line break, as PyArrow and Python's csv take them: `\r\n`, a lone `\r` (old Mac
#: exports) or `\n`
_BREAK = "\r\n|\r|\n"
_BREAK_TEXT = re.compile(_BREAK)
_BREAK_BYTES = re.compile(_BREAK.encode())


def breaks(text: str) -> int:
    """How many line breaks ``text`` holds."""
    return len(_BREAK_TEXT.findall(text))


def _after_lines(rows: IO[bytes], n: int) -> bytes | None:
    """The bytes of ``rows`` read past its first ``n`` line breaks, or None if it has
    fewer."""
    buf = b""
    while True:
        chunk = rows.read(_CHUNK)
        buf += chunk
        if n <= 0:
            return buf
        # a `\r` at the end may be the first half of a `\r\n`: it waits for the next read
        end = len(buf) - 1 if chunk and buf.endswith(b"\r") else len(buf)
        found = len(_BREAK_BYTES.findall(buf, 0, end))
        if found >= n:
            for m in _BREAK_BYTES.finditer(buf, 0, end):
                n -= 1
                if n == 0:
                    return buf[m.end() :]
        if not chunk:
            return None
        n, buf = n - found, buf[end:]


def _first_record(text: str, opts: CsvOptions, strict: bool) -> list[str]:
    rows = csv.reader(
        io.StringIO(text, newline=""),
        delimiter=opts.delimiter,
        quotechar=opts.quote,
        strict=strict,
    )
    return next(rows, [])


def never_closed(text: str, opts: CsvOptions) -> bool:
    """Whether the record ``text`` ends inside a quoted field, as Python's csv reads it."""
    try:
        _first_record(text, opts, strict=True)
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False


def span(text: str, line: int, opts: CsvOptions) -> str:
    """What a record over several lines did, for a reason: empty for a one-line record.

    The first field holding a line break opens on the record's first line (no break
    comes before it) and closes as many lines further as it holds breaks.
    """
    spanned = breaks(text.rstrip("\r\n"))
    if not spanned:
        return ""
    last = line + spanned
    fields = _first_record(text, opts, strict=False)
    held = next((f for f in fields if breaks(f)), "")
    if never_closed(text, opts):
        return (
            f"a quote opened on line {line} is never closed, so lines {line}-{last}, "
            "to the end of the file, read as one row"
        )
    closes = line + breaks(held)
    return (
        f"a quote opened on line {line} closes on line {closes}, so lines {line}-{last} "
        "read as one row"
    )


def unclosed_tail(
    open_rows: Callable[[], tuple[IO[bytes], int] | None],
    line: int,
    opts: CsvOptions,
    limit: int,
) -> str | None:
    """The text from physical ``line`` to the end of the file if it is one record whose
    quote is never closed, else None.

    ``open_rows`` opens the file's rows as UTF-8 with the line the first starts on. It
    reads the file again up to ``line``: the caller asks only when the file's last row
    spans lines, which is rare, and PyArrow gives no byte offsets to seek to.
    """
    opened = open_rows()
    if opened is None:
        return None
    rows, first_line = opened
    with rows:
        rest = _after_lines(rows, line - first_line)
        if rest is None:
            return None
        rest += rows.read(limit + 1 - len(rest)) if len(rest) <= limit else b""
    if len(rest) > limit:
        return None
    text = rest.decode("utf-8", errors="replace")
    return text if never_closed(text, opts) else None
