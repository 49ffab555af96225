"""Streaming CSV reading with PyArrow: every field as text, every row with its line.

Why PyArrow's reader: it streams bounded blocks and hands ragged rows to a callback
with their record number instead of failing or silently padding them. Those rows
become :class:`Reject` entries. The header is found first by Python's csv module
(:mod:`sluice.sources.csv_start`), and PyArrow reads the rows after it.

PyArrow's block must hold the longest row. Blocks are 1 MiB at most (it reads a few
ahead), so that ordinary files stay small in memory; a longer row makes the file be
read again with 8 MiB blocks, then 64 MiB, up to ``csv.max_row_bytes``, skipping the
records already handed on (PyArrow's ``skip_rows_after_names`` counts records, as its
row numbers do). A row over the limit sets the file aside with a hint naming it.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Callable, Iterator
from typing import IO, Any

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv

from sluice.batch import LINE, Batch, Reject
from sluice.config import CsvOptions
from sluice.errors import SourceError, Where
from sluice.sources.csv_footer import Above, footer_notes, footer_reason, footer_rows, subtotal_rows
from sluice.sources.csv_quotes import breaks, span, unclosed_tail
from sluice.sources.csv_start import (
    Start,
    Undecodable,
    declared_delimiter,
    find_start,
    undecodable,
    utf16_hint,
)
from sluice.sources.csv_trailing import (
    TRAIL,
    blank_columns,
    ends_with_delimiter,
    padded_fields,
    past_the_trail,
    under_a_blank,
    with_rows,
    without_empty,
)
from sluice.sources.signatures import HEAD, binary_kind
from sluice.sources.streams import Prefixed, read_full
from sluice.sources.text_codecs import is_latin_1


def unique_headers(raw: list[str]) -> list[str]:
    """Blank headers get ``column_N``; repeated ones get ``_2``, ``_3`` suffixes.

    Linear: each name remembers the next suffix to try, so 20,000 copies of one name do
    not each walk the suffixes taken before them.
    """
    out: list[str] = []
    seen: set[str] = set()
    next_suffix: dict[str, int] = {}
    for i, h in enumerate(raw, start=1):
        name = h.strip() or f"column_{i}"
        if name in seen:
            base, n = name, next_suffix.get(name, 2)
            while f"{base}_{n}" in seen:
                n += 1
            name = f"{base}_{n}"
            next_suffix[base] = n + 1
        seen.add(name)
        out.append(name)
    return out


#: PyArrow parses this many bytes at a time and reads dozens of blocks ahead, so the
#: block bounds the reader's memory: 1 MiB blocks held ~70 MB, 256 KiB ~40 MB, for
#: the same speed (a 1M-row file: 2.55 against 2.42 CPU-s).
READ_BLOCK = 256 * 1024
#: A row longer than a block: read again with blocks 8 times as large, from 8 MiB.
GROWTH = 8
GROW_FROM = 1 << 20


class _LineTracker:
    """Turns PyArrow's record numbers into the physical line each row starts on.

    PyArrow counts records, not lines: a quoted field may span lines, and rejected
    rows leave gaps. We keep the rejected record numbers and the running count of
    embedded newlines so every row and reject gets the line an editor would show.
    """

    def __init__(self, first_line: int) -> None:
        self.next_record = 1  # PyArrow's numbers: 1 is the first record after the header
        self.extra_lines = first_line - 1
        self.pending: list[tuple[int, str]] = []

    def restart(self) -> int:
        """Forget rejects not handed on yet; the number of records handed on."""
        self.pending = []
        return self.next_record - 1

    def on_invalid(self, number: int, text: str) -> None:
        self.pending.append((number, text))

    def assign(
        self, data: pl.DataFrame, text_cols: list[str]
    ) -> tuple[np.ndarray, list[tuple[int, str, int]]]:
        """Line numbers of ``data``'s rows; ``text_cols``: the columns that may hold newlines."""
        n = data.height
        self.pending.sort()
        # Valid rows take the record numbers the rejected rows did not.
        rejected = {num for num, _ in self.pending}
        numbers = np.empty(n, dtype=np.int64)
        rec, i = self.next_record, 0
        if not rejected:
            numbers[:] = np.arange(rec, rec + n)
            rec += n
        else:
            while i < n:
                if rec not in rejected:
                    numbers[i] = rec
                    i += 1
                rec += 1
        last = rec - 1
        consumed = [(num, text) for num, text in self.pending if num <= last]
        self.pending = [(num, text) for num, text in self.pending if num > last]
        if n == 0 and self.pending:  # a batch of rejects only
            consumed, self.pending = self.pending, []
            last = max(num for num, _ in consumed)
        self.next_record = last + 1

        if text_cols:
            nl = (
                data.select(
                    pl.sum_horizontal(
                        pl.col(c).str.count_matches(r"\r\n|\r|\n").fill_null(0) for c in text_cols
                    )
                )
                .to_series()
                .to_numpy()
            )
        else:
            nl = np.zeros(n, dtype=np.int64)
        rec_all = np.concatenate([numbers, np.array([c[0] for c in consumed], dtype=np.int64)])
        nl_all = np.concatenate([nl, np.array([breaks(c[1]) for c in consumed], np.int64)])
        order = np.argsort(rec_all, kind="stable")
        before = np.cumsum(nl_all[order]) - nl_all[order] + self.extra_lines
        lines = np.empty_like(rec_all)
        lines[order] = rec_all[order] + before
        self.extra_lines += int(nl_all.sum())
        rejects = [(int(lines[n + j]), text, num) for j, (num, text) in enumerate(consumed)]
        return lines[:n], rejects


def read_csv(
    open_stream: Callable[[], IO[bytes]],
    opts: CsvOptions,
    *,
    stream_name: str,
    unit: str,
    block_size: int,
    named: Callable[[str], bool] | None = None,
) -> tuple[list[str], Callable[[], Iterator[Batch]]]:
    """Read the header now; return it and a function streaming the rows. ``opts``: as
    :func:`with_declared_delimiter` gives them. ``named``: whether the source's config
    names a header (a blank header's ``column_N`` it names is a column like any other;
    see :func:`blank_columns`)."""
    limit = opts.max_row_bytes

    def located(exc: Exception) -> SourceError:
        """A byte the encoding cannot decode, with its line (wherever PyArrow or the
        header search met it)."""
        found = undecodable(open_stream(), opts.encoding)
        if found is None:
            return exc if isinstance(exc, SourceError) else _parse_error(str(exc), opts, unit)
        line, column, text, mixed = found
        latin_1 = is_latin_1(opts.encoding)
        if latin_1:  # every byte decodes: the C1 controls shown as the bytes they are
            shown = re.sub("[\x80-\x9f]", lambda m: f"\\x{ord(m[0]):02x}", text.decode("latin-1"))
        else:
            shown = text.decode(opts.encoding, errors="backslashreplace")
        shown = shown if len(shown) <= 80 else shown[max(0, column - 40) :][:80] + "..."
        said = "csv.encoding" if "encoding" in opts.model_fields_set else "csv.encoding not set"
        replay = "`sluice quarantine replay`"
        utf16 = utf16_hint(text, opts.encoding, stream_name, replay) if line == 1 else None
        byte = f"byte 0x{text[column - 1]:02x} at column {column}"
        return SourceError(
            f"line {line} has {byte}, which {opts.encoding} ({said}) reads as an invisible "
            f"control character and Windows' cp1252 as a sign: {shown}"
            if latin_1
            else f"line {line} is not valid {opts.encoding} ({said}): {byte}: {shown}",
            where=Where(file=unit, line=line),
            hint=utf16
            or (_stray_hint(line, stream_name) if mixed and _is_utf8(opts.encoding) else None)
            or _encoding_hint(text, stream_name, replay),
        )

    def find(raw: IO[bytes]) -> Start | None:
        try:
            return find_start(raw, opts, unit, limit)
        except Undecodable as exc:
            raise located(exc) from None

    with open_stream() as f:
        binary = binary_kind(read_full(f, HEAD))
    if binary is not None:
        kind, fix = binary
        raise SourceError(f"the file is {kind}, not CSV", where=Where(file=unit), hint=fix)
    start = find(open_stream())
    if start is None:
        return [], lambda: iter(())
    start.rows.close()
    raw, first_line = start.record, start.first_line
    if (page := _markup(raw)) is not None:
        # Read as CSV, a page's lines load as rows (under drift: evolve, with its first
        # tag for a column): a download that got an error or login page, not the data.
        raise SourceError(
            f"the file is an {page} document, not CSV: {_shown(opts.delimiter.join(raw))}",
            where=Where(file=unit, line=first_line - 1),
            hint=(
                "a download that got an error or sign-in page saves one in its place: "
                if page == "HTML"
                else "sluice reads CSV, JSON Lines, JSON and Parquet: "
            )
            + (
                "put the data in its place (the next `sluice run` loads it as a new file), "
                "then close this entry with `sluice quarantine discard ID` (`sluice "
                "quarantine list` shows its ID)"
            ),
        )
    trailing = opts.header and ends_with_delimiter(raw, start.first_row)
    if trailing and not raw[-1].strip():
        raw = raw[:-1]  # the header's own trailing delimiter names no column
    # Without a header row the first record only gives the width: column_1, column_2...
    if opts.header:
        headers = unique_headers(raw)
    else:
        headers = [f"column_{i}" for i in range(1, len(raw) + 1)]
    width = len(headers)
    # Lines that end with a delimiter are parsed one field wider; that field must be empty.
    parsed = [*headers, TRAIL] if trailing else headers
    # Blank header cells over an empty first row (a spreadsheet's unused columns): no
    # columns, and they must stay empty as the trailing field must.
    places = [
        i
        for i in (blank_columns(raw, start.first_row) if opts.header else [])
        if named is None or not named(headers[i])
    ]
    blanks = {headers[i] for i in places}
    # The columns that must stay empty, each with why a row with a value there is set aside
    empty = {headers[i]: under_a_blank(i + 1, headers[i], stream_name) for i in places}
    if trailing:
        empty[TRAIL] = past_the_trail
    positional = [f"c{i}" for i in range(len(parsed))]
    convert_options = pacsv.ConvertOptions(
        column_types={c: pa.string() for c in positional},
        null_values=opts.null_values,
        strings_can_be_null=True,
        # `""` is as empty as nothing: exports that quote every field must not
        # turn empty values into empty strings that pass `required`.
        quoted_strings_can_be_null=True,
    )

    empties = "" not in opts.null_values  # else an empty field is read as null
    header = (
        tuple(h for h, n in zip(raw, headers, strict=True) if n not in blanks)
        if opts.header
        else None
    )

    def batches() -> Iterator[Batch]:
        tracker = _LineTracker(first_line)
        above = Above()  # the groups a grouped report's subtotal rows close

        def emit(
            data: pl.DataFrame,
            multiline: list[str],
            nul_free: bool = False,
            trimmed: frozenset[str] = frozenset(),
            backslash_free: bool = False,
            last: bool = False,
        ) -> Batch:
            lines, rejected = tracker.assign(data, multiline)
            data = data.with_columns(pl.Series(LINE, lines, dtype=pl.Int64))
            rejects: list[Reject] = []
            if last and multiline and data.height and not tracker.pending:
                data, rejects = _unclosed_at_end(data, multiline)
            rows: list[tuple[int, list[str]]] = []
            for line, text, _ in rejected:
                fields = padded_fields(text, opts, width)
                if fields is None:
                    said = f"row has {_fields(text, opts)} fields, the header has {width}"
                    said += f": {ran}" if (ran := span(text, line, opts)) else ""
                    rejects.append(Reject(line, text, said))
                else:
                    rows.append((line, fields))
            if rows:  # rows with empty fields past the header's: read by Python's csv
                data = with_rows(data, headers, rows, opts)
                nul_free = nul_free and not any("\x00" in f for _, r in rows for f in r)
                backslash_free = backslash_free and not any("\\" in f for _, r in rows for f in r)
                trimmed = frozenset()
            if empty:
                data, held = without_empty(data, empty, opts)
                if held:
                    rejects = sorted([*rejects, *held], key=lambda r: r.line)
                trimmed = trimmed - empty.keys()
            footer: dict[int, str] = {}
            if opts.footer != "load":
                found = subtotal_rows(data, above, empty_is_null=not empties)
                if last:
                    found |= footer_rows(data)
                footer = {n: footer_reason(*what, stream_name) for n, what in found.items()}
                if last:
                    rejects, notes = footer_notes(rejects, data, stream_name)
                    footer |= notes
            return Batch(
                stream_name,
                unit,
                data,
                rejects,
                nul_free,
                trimmed,
                header,
                footer,
                backslash_free=backslash_free,
            )

        def open_rows() -> tuple[IO[bytes], int] | None:
            start = find(open_stream())
            return None if start is None else (start.rows, start.first_line)

        def _unclosed_at_end(
            data: pl.DataFrame, multiline: list[str]
        ) -> tuple[pl.DataFrame, list[Reject]]:
            """The file's last row held back when a quote in it is never closed: it has
            the header's width only because every line to the end became its last value."""
            tail = data.tail(1)
            if not any(breaks(tail.item(0, c) or "") for c in multiline):
                return data, []
            line = int(tail.item(0, LINE))
            text = unclosed_tail(open_rows, line, opts, limit)
            if text is None:
                return data, []
            return data.head(data.height - 1), [Reject(line, text, span(text, line, opts))]

        def on_invalid(row: pacsv.InvalidRow) -> str:
            tracker.on_invalid(int(row.number), row.text)
            return "skip"

        parse_options = pacsv.ParseOptions(
            delimiter=opts.delimiter,
            quote_char=opts.quote,
            newlines_in_values=True,
            ignore_empty_lines=False,
            invalid_row_handler=on_invalid,
        )

        def read(block: int) -> Iterator[Batch]:
            read_options = pacsv.ReadOptions(
                column_names=positional,
                # after a restart: the records handed on already (rejects included)
                skip_rows_after_names=tracker.restart(),
                # PyArrow reads blocks ahead: small blocks keep that bounded, and we
                # gather them into batches of `block_size` bytes for the rest of the run.
                block_size=block,
                encoding="utf8",  # find_start hands on UTF-8
                use_threads=False,  # record numbers of rejected rows need a serial parse
            )
            start = find(open_stream())
            if start is None:  # the file changed under us: nothing to read
                return
            with start.rows as f:
                head = f.read(1)
                if not head:  # a header and nothing after it
                    return
                rows = Prefixed(head, f)
                reader = pacsv.open_csv(rows, read_options, parse_options, convert_options)
                pending: list[pa.RecordBatch] = []
                size = 0
                # One PyArrow block is held back, so that the batch with the file's last
                # row knows it is the last (see _unclosed_at_end).
                held: pa.RecordBatch | None = None
                for record_batch in reader:
                    if held is not None:
                        pending.append(held)
                        size += held.nbytes
                        if size >= block_size:
                            yield emit(*_frame(pending, parsed, empties))
                            pending, size = [], 0
                    held = record_batch
                if held is not None:
                    pending.append(held)
                if pending:
                    yield emit(*_frame(pending, parsed, empties), last=True)
                if tracker.pending:  # rejected rows after the last good one
                    yield emit(pl.DataFrame(schema=dict.fromkeys(parsed, pl.String)), [], last=True)

        block = min(block_size, READ_BLOCK, limit)
        while True:
            try:
                yield from read(block)
                return
            except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
                msg = str(exc).split("\n")[0]
                if "straddl" in msg and block < limit:
                    block = min(limit, max(block, GROW_FROM) * GROWTH)
                    continue
                if isinstance(exc, UnicodeDecodeError) or "UTF8" in msg:
                    raise located(exc) from None
                raise _parse_error(msg, opts, unit) from None

    return [h for h in headers if h not in blanks], batches


def with_declared_delimiter(
    open_stream: Callable[[], IO[bytes]], opts: CsvOptions, stream: str, unit: str
) -> CsvOptions:
    """``opts`` with the delimiter the file's first line names, as Excel writes it
    (``sep=;``) and reads it: that line is no header. A delimiter set on the source
    that is not the file's is refused, not used to misread every line."""
    if opts.skip_rows:
        return opts
    declared = declared_delimiter(open_stream(), opts.encoding)
    if declared is None or declared == opts.delimiter:
        return opts
    if "delimiter" in opts.model_fields_set:
        raise SourceError(
            f"line 1 says the delimiter is {declared!r} (Excel's 'sep={declared}' line), "
            f"but csv.delimiter on source {stream!r} is {opts.delimiter!r}",
            where=Where(file=unit, line=1),
            hint=(
                f"set csv.delimiter to {declared!r} on source {stream!r} (or leave it unset: "
                "the line is then read), then `sluice quarantine replay`"
            ),
        )
    return opts.model_copy(update={"delimiter": declared})


#: how an HTML or XML document starts, as a CSV header would read it
_MARKUP = re.compile(r"\s*<(?:(!doctype\s+html)|(html)|(\?xml))\b", re.IGNORECASE)


def _markup(header: list[str]) -> str | None:
    """``HTML`` or ``XML`` when the header is a document's first tag, else None."""
    m = _MARKUP.match(header[0]) if header else None
    if m is None:
        return None
    return "XML" if m.group(3) else "HTML"


def _shown(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _is_utf8(encoding: str) -> bool:
    return codecs.lookup(encoding).name in ("utf-8", "utf-8-sig")


def _stray_hint(line: int, stream: str) -> str:
    """A UTF-8 file with a byte of another encoding: setting that encoding would read
    every UTF-8 letter before it wrong ("é" as "Ã©"), so the file is what to fix."""
    return (
        f"the file is UTF-8 before line {line} (it has UTF-8 letters there): another "
        f"csv.encoding on source {stream!r} would read those wrong. Fix line {line} in the "
        "file (the next run loads the fixed file as a new one), then close this entry with "
        "`sluice quarantine discard ID` (`sluice quarantine list` shows its ID)"
    )


def _encoding_hint(line: bytes, stream: str, then: str) -> str:
    """Which 8-bit encoding to set for a line that did not decode. cp1252 (Windows')
    and latin-1 read 0xa0-0xff alike; 0x80-0x9f are the euro sign, curly quotes and
    dashes in cp1252 and invisible control characters in latin-1, so a cp1252 export
    read as latin-1 loads wrong characters without a word. cp1252 leaves five bytes
    undefined, which only latin-1 reads."""
    where = f"set csv.encoding on source {stream!r} to"
    try:
        line.decode("cp1252")
    except UnicodeDecodeError:
        return f"{where} latin-1 (the line has a byte cp1252 leaves undefined), then {then}"
    if any(0x80 <= b <= 0x9F for b in line):
        return (
            f"{where} cp1252 (Windows' encoding: its euro sign, curly quotes and dashes "
            f"are control characters in latin-1), then {then}"
        )
    return (
        f"{where} cp1252 or latin-1 (both common for exports from spreadsheets, and they "
        f"read this line alike), then {then}"
    )


def _parse_error(msg: str, opts: CsvOptions, unit: str) -> SourceError:
    hint = "check csv.delimiter and csv.quote in the source's settings"
    if "straddl" in msg:
        limit = opts.max_row_bytes
        msg = (
            f"a row is longer than csv.max_row_bytes ({limit:,} bytes), or a quote is never closed"
        )
        hint = (
            f"raise csv.max_row_bytes on the source (now {limit:,}) if rows this long "
            "are real; else fix the quoting"
        )
    elif "UTF8" in msg or "decode" in msg.lower():
        hint = (
            f"the file is not valid {opts.encoding}: set csv.encoding "
            "(latin-1 and cp1252 are common for exports from spreadsheets)"
        )
    return SourceError(f"cannot parse CSV: {msg}", where=Where(file=unit), hint=hint)


def _frame(
    batches: list[pa.RecordBatch], headers: list[str], empties: bool = True
) -> tuple[pl.DataFrame, list[str], bool, frozenset[str], bool]:
    """The batches as one frame, the columns whose text holds a newline somewhere,
    whether no value holds a NUL byte, the columns already trimmed (``empties``: an
    empty field may be an empty string, not a null), and whether no value holds a
    backslash."""
    # One chunk per column: the scans below then make a few calls per column instead
    # of a few per PyArrow block (256 KiB), and Polars needs no rechunk after.
    table = pa.Table.from_batches(batches).combine_chunks()
    data = pl.DataFrame(pl.from_arrow(table, rechunk=False))
    data.columns = headers
    multiline, nul, trimmed, slash = [], False, [], False
    for i, h in enumerate(headers):
        newline, zero, padded, backslash = _scan(table.column(i).chunks, empties)
        if newline:
            multiline.append(h)
        if not padded:
            trimmed.append(h)
        nul, slash = nul or zero, slash or backslash
    return data, multiline, not nul, frozenset(trimmed), not slash


#: a backslash's byte
_BACKSLASH = np.uint8(92)


def _scan(chunks: list[pa.Array], empties: bool = True) -> tuple[bool, bool, bool, bool]:
    """(a newline, a NUL byte, a value ``trim`` would change, a backslash) somewhere in
    a column.

    A scan of the raw value bytes is far cheaper than a test per value (validation's
    NUL check was 0.45 s of CPU per 1M rows of 16 columns; this is a tenth of that, on
    the parse thread), and most files hold neither. Bytes outside a slice only cost a
    recount or a check that finds nothing. ``trim`` changes a value with a space (or
    any byte that may be one) at either end, and an empty string (it becomes null);
    most columns of most files hold none, and their trim is skipped
    (:attr:`Batch.trimmed`): 0.36 s of CPU per 1M rows of 16 columns. A backslash
    may start a database dump's ``\\N``, which validation looks for only where one is
    (:attr:`Batch.backslash_free`): the look cost 8-10 MB of peak memory in a load.
    ``empties``: the column may hold empty strings (``""`` is not a null value).
    """
    newline = zero = padded = slash = False
    for array in chunks:
        _, offsets, data = array.buffers()
        if data is None or not len(data):  # every value null or empty
            padded = padded or array.null_count < len(array)
            continue
        raw = np.frombuffer(data, dtype=np.uint8)
        # One pass for the usual column, which holds no byte below 14: no NUL (0), no
        # line break (`\n` 10, or `\r` 13, as old Mac exports end lines)
        if (raw < 14).any():
            newline = newline or bool((raw == 10).any() or (raw == 13).any())
            zero = zero or not raw.all()
        if not padded:
            padded = _padded(raw, array, offsets, empties)
        slash = slash or bool((raw == _BACKSLASH).any())
    return newline, zero, padded, slash


def _padded(raw: np.ndarray, array: pa.Array, offsets: pa.Buffer, empties: bool) -> bool:
    """A value of ``array`` (strings over the bytes ``raw``) begins or ends with a byte
    that may be a space: an ASCII control or space, or any byte of a multi-byte
    character (a few are Unicode spaces); or, if ``empties``, is an empty string."""
    width = np.int64 if pa.types.is_large_string(array.type) else np.int32
    bounds: npt.NDArray[np.signedinteger[Any]] = np.frombuffer(offsets, dtype=width)
    bounds = bounds[array.offset : array.offset + len(array) + 1]
    starts, ends = bounds[:-1], bounds[1:]
    # The reader leaves nulls without bytes: more empty slots than nulls is an empty string.
    if empties and int(np.count_nonzero(starts == ends)) > array.null_count:
        return True
    # An empty slot (a null) reads a neighbour's byte: at worst a needless trim.
    # uint8 arithmetic wraps: byte - 33 is 95 or more for bytes below 33 and from 128.
    low, span = np.uint8(33), np.uint8(95)
    if ((raw.take(starts, mode="clip") - low) >= span).any():
        return True
    return bool(((raw.take(ends - 1, mode="clip") - low) >= span).any())


def _fields(text: str, opts: CsvOptions) -> int:
    try:
        return len(next(csv.reader([text], delimiter=opts.delimiter, quotechar=opts.quote)))
    except (csv.Error, StopIteration):
        return text.count(opts.delimiter) + 1
