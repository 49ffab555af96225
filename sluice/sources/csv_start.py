"""Where a CSV's rows start: the lines skipped, the header record, the first row's line.

Python's csv module reads the header, so a header may span lines (spreadsheet exports
write ``"License\\nNumber"``); the rows are then handed to PyArrow as the bytes right
after the header record, whatever physical lines it spans. Before the header come
``skip_rows`` physical lines, then any blank records (empty lines, or lines of
nothing but blanks and delimiters, as a sheet's empty top row exports), which are
skipped as ``csv.DictReader`` skips blank rows. Line numbers are physical lines as an
editor shows them: ``\\n``, ``\\r\\n`` and a lone ``\\r`` each end one.

Every file is read as UTF-8 from here on: a UTF-8 BOM is dropped, and any other
encoding is transcoded as it is read.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, NamedTuple, cast

from sluice.config import CsvOptions
from sluice.errors import SourceError, Where
from sluice.sources.streams import Prefixed, Transcoded, read_full
from sluice.sources.text_codecs import text_encoding

_EOL = re.compile(rb"\r\n|\n|\r")
_BOM = codecs.BOM_UTF8


#: a UTF-16 byte order mark, as the first bytes of the file and as an 8-bit encoding
#: (latin-1, cp1252) reads them: Excel's "Unicode text" export starts with one
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_UTF32_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)
_UTF16_BOMS_READ_AS_8_BIT = ("\xff\xfe", "\xfe\xff")


def utf16_hint(start: bytes | str, encoding: str, stream: str, then: str) -> str | None:
    """The hint for a file that starts with a UTF-16 (or, in its bytes, a UTF-32) byte
    order mark (``start``: its first bytes, or its first header as an 8-bit ``encoding``
    read it) while the source reads it as another encoding; None for any other file."""
    name = codecs.lookup(encoding).name
    if name.startswith(("utf-16", "utf-32")):
        return None
    if isinstance(start, bytes) and start.startswith(_UTF32_BOMS):
        return (
            "the file starts with a UTF-32 byte order mark: set csv.encoding to utf-32 on "
            f"source {stream!r}; then {then}"
        )
    boms = _UTF16_BOMS if isinstance(start, bytes) else _UTF16_BOMS_READ_AS_8_BIT
    if not start.startswith(boms):  # type: ignore[arg-type]
        return None
    if start[2:4] in (b"\x00\x00", "\x00\x00"):  # UTF-32's mark begins as UTF-16's does
        return None
    return (
        'the file starts with a UTF-16 byte order mark (as Excel\'s "Unicode text" '
        f"export does): set csv.encoding to utf-16 on source {stream!r}, and csv.delimiter "
        f'to "\\t" if its columns are separated by tabs; then {then}'
    )


def as_utf8(raw: IO[bytes], encoding: str) -> IO[bytes]:
    """``raw`` as UTF-8 bytes without a BOM."""
    if codecs.lookup(encoding).name in ("utf-8", "utf-8-sig"):
        head = read_full(raw, len(_BOM))
        return cast(IO[bytes], Prefixed(b"" if head == _BOM else head, raw))
    return cast(IO[bytes], Transcoded(raw, text_encoding(encoding)))


class _Lines:
    """The physical lines of a stream, each with its line end, and the bytes after them."""

    def __init__(self, raw: IO[bytes], limit: int, where: str) -> None:
        self.raw, self.limit, self.where = raw, limit, where
        self.buf, self.pos, self.eof = b"", 0, False
        self.number = 0  # lines taken so far

    def take(self) -> bytes:
        """The next line, ``b""`` at the end."""
        scanned = self.pos  # a long line is searched once, not again at every read
        while True:
            m = _EOL.search(self.buf, scanned)
            # a '\r' at the end of what is read may be the start of a '\r\n'
            if m is not None and (m.end() < len(self.buf) or m.group() != b"\r" or self.eof):
                line, self.pos = self.buf[self.pos : m.end()], m.end()
                self.number += 1
                return line
            if self.eof:
                line, self.pos = self.buf[self.pos :], len(self.buf)
                self.number += bool(line)
                return line
            if len(self.buf) - self.pos > self.limit:
                raise SourceError(
                    f"line {self.number + 1} is longer than csv.max_row_bytes "
                    f"({self.limit:,} bytes) before the rows start",
                    where=Where(file=self.where, line=self.number + 1),
                    hint=f"raise csv.max_row_bytes on the source (now {self.limit:,})",
                )
            # reads grow with the line, so a long one costs linear time
            chunk = self.raw.read(max(1 << 16, len(self.buf) - self.pos))
            self.eof = not chunk
            self.buf = self.buf[self.pos :] + chunk
            scanned = max(0, len(self.buf) - len(chunk) - 1)  # a '\r' may end the last
            self.pos = 0

    def untake(self, line: bytes) -> None:
        """Give back the line :meth:`take` just returned (it is still in the buffer)."""
        self.pos -= len(line)
        self.number -= bool(line)

    def rest(self, head: bytes = b"") -> IO[bytes]:
        """``head``, then every byte not taken yet."""
        return cast(IO[bytes], Prefixed(head + self.buf[self.pos :], self.raw))


@dataclass
class Start:
    record: list[str]  # the header (or, without one, the first row: it gives the width)
    rows: IO[bytes]  # UTF-8 bytes from the first row on; closing it closes the file
    first_line: int  # the physical line the first row starts on
    #: the first row after a header, as Python's csv reads it (None: no header, or no
    #: row it could read); its width tells a file whose lines end with a delimiter
    first_row: list[str] | None = None


class Undecodable(SourceError):
    """A byte the declared encoding cannot decode; :func:`undecodable` says where."""


class Undecoded(NamedTuple):
    """Where :func:`undecodable` found the first byte it could not decode."""

    line: int  # physical line, as :class:`_Lines` counts them
    column: int  # of the byte in the line, from 1
    text: bytes  # the line's bytes
    #: the bytes before it held text beyond ASCII that the encoding did decode (a UTF-8
    #: file with one stray byte: another encoding would garble the rest)
    decoded_beyond_ascii: bool


def undecodable(raw: IO[bytes], encoding: str) -> Undecoded | None:
    """The first byte ``encoding`` cannot decode, or None (``raw`` is closed)."""
    line, buf, eof = 1, b"", False
    beyond = False
    with raw:
        while not eof:
            chunk = raw.read(1 << 20)
            eof = not chunk
            buf += chunk
            ends = list(_EOL.finditer(buf))
            if not eof:  # decode whole lines only; a '\r' at the end may start '\r\n'
                ends = [m for m in ends if m.end() < len(buf)]
                if not ends:
                    continue
            cut = ends[-1].end() if ends and not eof else len(buf)
            done, buf = buf[:cut], buf[cut:]
            try:
                done.decode(text_encoding(encoding))
            except UnicodeDecodeError as exc:
                before = list(_EOL.finditer(done, 0, exc.start))
                start = before[-1].end() if before else 0
                m = _EOL.search(done, exc.start)
                return Undecoded(
                    line + len(before),
                    exc.start - start + 1,
                    done[start : m.start() if m else None],
                    beyond or not done[: exc.start].isascii(),
                )
            beyond = beyond or not done.isascii()
            line += len(ends) if not eof else len(list(_EOL.finditer(done)))
    return None


def is_blank(record: list[str]) -> bool:
    return not any(field.strip() for field in record)


_EXCEL_SEP = re.compile(rb"(?i)sep=(.)(?:\r\n|\n|\r)?")


def excel_sep(line: bytes) -> str | None:
    """The delimiter a line names as Excel's first line does (``sep=;``), or None."""
    m = _EXCEL_SEP.fullmatch(line)
    return m.group(1).decode("ascii", "replace") if m else None


def declared_delimiter(raw: IO[bytes], encoding: str) -> str | None:
    """The delimiter the file's first line names (Excel's ``sep=;``), or None; ``raw``
    is closed. A file that does not decode is None here: the header search says where."""
    with raw:
        try:
            head = read_full(as_utf8(raw, encoding), 8)  # `sep=;\r\n` and a byte
        except UnicodeDecodeError:
            return None
    return excel_sep(head.splitlines(keepends=True)[0]) if head else None


def find_start(raw: IO[bytes], opts: CsvOptions, where: str, limit: int) -> Start | None:
    """The header record and the rows after it; None (``raw`` closed) for a file with
    nothing but blank lines. ``limit``: the longest line or record to look through."""
    lines = _Lines(as_utf8(raw, opts.encoding), limit, where)
    try:
        if not opts.skip_rows:  # Excel's `sep=;` line is no header (read_csv read it)
            first = lines.take()
            if excel_sep(first) != opts.delimiter:
                lines.untake(first)
        for _ in range(opts.skip_rows):
            if not lines.take():
                raw.close()
                return None
        while True:
            taken: list[bytes] = []
            record = _record(lines, taken, opts)
            if record is None:
                raw.close()
                return None
            if not is_blank(record):
                break
    except BaseException as exc:
        raw.close()
        if isinstance(exc, UnicodeDecodeError):  # the caller finds the line (read_csv)
            raise Undecodable(str(exc), where=Where(file=where)) from None
        if isinstance(exc, csv.Error):
            hint = f"check csv.encoding (now {opts.encoding!r}) and csv.delimiter"
            if "field limit" in str(exc):
                hint = (
                    f"Python's csv module reads fields of at most {csv.field_size_limit():,} "
                    "characters in the header (or, with csv.header: false, the first row); "
                    "is a quote in it never closed?"
                )
            raise SourceError(
                f"cannot read the header: {exc}",
                where=Where(file=where, line=lines.number or 1),
                hint=hint,
            ) from None
        raise
    if opts.header:
        first_line = lines.number + 1
        peeked: list[bytes] = []
        try:
            first_row = _record(lines, peeked, opts)
        except UnicodeDecodeError as exc:
            raw.close()
            raise Undecodable(str(exc), where=Where(file=where)) from None
        except (csv.Error, SourceError):  # the reader meets it again and says so
            first_row = None
        # The row's lines are handed back: the rows still start at first_line.
        return Start(record, lines.rest(b"".join(peeked)), first_line, first_row)
    return Start(record, lines.rest(b"".join(taken)), lines.number - len(taken) + 1)


def top_records(
    raw: IO[bytes], opts: CsvOptions, lines_at_most: int
) -> list[tuple[int, list[str]]]:
    """The records of the file's first ``lines_at_most`` physical lines, each with the
    line it starts on, as Python's csv reads them from the first line (``skip_rows``
    aside): where a header further down is looked for. ``raw`` is closed; what does not
    read (a byte the encoding refuses, a quote never closed) ends the list."""
    lines = _Lines(as_utf8(raw, opts.encoding), 1 << 20, "")
    found: list[tuple[int, list[str]]] = []

    def feed() -> Iterator[str]:
        while lines.number < lines_at_most and (line := lines.take()):
            yield line.decode("utf-8")

    with raw:
        try:
            reader = csv.reader(feed(), delimiter=opts.delimiter, quotechar=opts.quote)
            start = 1
            for record in reader:
                found.append((start, record))
                start = lines.number + 1
        except (csv.Error, SourceError, UnicodeDecodeError):
            pass
    return found


def _record(lines: _Lines, taken: list[bytes], opts: CsvOptions) -> list[str] | None:
    """The next record, read by Python's csv module; ``taken`` gets its lines."""

    def feed() -> Iterator[str]:
        while line := lines.take():
            taken.append(line)
            yield line.decode("utf-8")

    return next(csv.reader(feed(), delimiter=opts.delimiter, quotechar=opts.quote), None)
