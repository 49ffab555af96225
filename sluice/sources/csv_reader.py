"""Streaming CSV reading with PyArrow: every field as text, every row with its line.

Why PyArrow's reader: it streams bounded blocks, transcodes latin-1 and friends, skips a
UTF-8 BOM, and hands ragged rows to a callback with their record number instead of
failing or silently padding them. Those rows become :class:`Reject` entries.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterator
from typing import IO

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv

from sluice.batch import LINE, Batch, Reject
from sluice.config import CsvOptions
from sluice.errors import SourceError, Where


def unique_headers(raw: list[str]) -> list[str]:
    """Blank headers get ``column_N``; repeated ones get ``_2``, ``_3`` suffixes."""
    out: list[str] = []
    seen: set[str] = set()
    for i, h in enumerate(raw, start=1):
        name = h.strip() or f"column_{i}"
        base, n = name, 1
        while name in seen:
            n += 1
            name = f"{base}_{n}"
        seen.add(name)
        out.append(name)
    return out


def read_header(stream: IO[bytes], opts: CsvOptions, where: str) -> list[str] | None:
    """The header record (it may hold quoted newlines); None for an empty file."""
    encoding = "utf-8-sig" if codecs.lookup(opts.encoding).name == "utf-8" else opts.encoding
    text = io.TextIOWrapper(stream, encoding=encoding, newline="")
    try:
        for _ in range(opts.skip_rows):
            text.readline()
        reader = csv.reader(text, delimiter=opts.delimiter, quotechar=opts.quote)
        return next(reader, None)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise SourceError(
            f"cannot read the header: {exc}",
            where=Where(file=where, line=opts.skip_rows + 1),
            hint=f"check csv.encoding (now {opts.encoding!r}) and csv.delimiter",
        ) from None
    finally:
        text.detach()


READ_BLOCK = 1 << 20


class _LineTracker:
    """Turns PyArrow's record numbers into the physical line each row starts on.

    PyArrow counts records, not lines: a quoted field may span lines, and rejected
    rows leave gaps. We keep the rejected record numbers and the running count of
    embedded newlines so every row and reject gets the line an editor would show.
    """

    def __init__(self, first_record: int) -> None:
        self.next_record = first_record
        self.extra_lines = 0
        self.pending: list[tuple[int, str]] = []

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
                        pl.col(c).str.count_matches("\n", literal=True).fill_null(0)
                        for c in text_cols
                    )
                )
                .to_series()
                .to_numpy()
            )
        else:
            nl = np.zeros(n, dtype=np.int64)
        rec_all = np.concatenate([numbers, np.array([c[0] for c in consumed], dtype=np.int64)])
        nl_all = np.concatenate([nl, np.array([c[1].count("\n") for c in consumed], np.int64)])
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
) -> tuple[list[str], Callable[[], Iterator[Batch]]]:
    """Read the header now; return it and a function streaming the rows."""
    with open_stream() as f:
        raw = read_header(f, opts, unit)
    if raw is None:
        return [], lambda: iter(())
    # Without a header row the first record only gives the width: column_1, column_2...
    if opts.header:
        headers = unique_headers(raw)
    else:
        headers = [f"column_{i}" for i in range(1, len(raw) + 1)]
    skip = opts.skip_rows + (1 if opts.header else 0)
    positional = [f"c{i}" for i in range(len(headers))]
    width = len(headers)

    read_block = min(block_size, READ_BLOCK)

    def batches() -> Iterator[Batch]:
        tracker = _LineTracker(first_record=skip + 1)

        def on_invalid(row: pacsv.InvalidRow) -> str:
            tracker.on_invalid(int(row.number), row.text)
            return "skip"

        read_options = pacsv.ReadOptions(
            column_names=positional,
            skip_rows=skip,
            # PyArrow reads many blocks ahead: small blocks keep that bounded, and we
            # gather them into batches of `block_size` bytes for the rest of the run.
            block_size=read_block,
            encoding=opts.encoding,
            use_threads=False,  # record numbers of rejected rows need a serial parse
        )
        parse_options = pacsv.ParseOptions(
            delimiter=opts.delimiter,
            quote_char=opts.quote,
            newlines_in_values=True,
            ignore_empty_lines=False,
            invalid_row_handler=on_invalid,
        )
        convert_options = pacsv.ConvertOptions(
            column_types={c: pa.string() for c in positional},
            null_values=opts.null_values,
            strings_can_be_null=True,
            # `""` is as empty as nothing: exports that quote every field must not
            # turn empty values into empty strings that pass `required`.
            quoted_strings_can_be_null=True,
        )

        def emit(data: pl.DataFrame, multiline: list[str]) -> Batch:
            lines, rejected = tracker.assign(data, multiline)
            rejects = [
                Reject(line, text, f"row has {_fields(text, opts)} fields, the header has {width}")
                for line, text, _ in rejected
            ]
            data = data.with_columns(pl.Series(LINE, lines, dtype=pl.Int64))
            return Batch(stream_name, unit, data, rejects)

        with open_stream() as f:
            try:
                reader = pacsv.open_csv(f, read_options, parse_options, convert_options)
                pending: list[pa.RecordBatch] = []
                size = 0
                for record_batch in reader:
                    pending.append(record_batch)
                    size += record_batch.nbytes
                    if size >= block_size:
                        yield emit(*_frame(pending, headers))
                        pending, size = [], 0
                if pending:
                    yield emit(*_frame(pending, headers))
                if tracker.pending:  # rejected rows after the last good one
                    yield emit(pl.DataFrame(schema=dict.fromkeys(headers, pl.String)), [])
            except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
                msg = str(exc).split("\n")[0]
                hint = "check csv.delimiter and csv.quote in the source's settings"
                if "straddl" in msg:
                    hint = (
                        f"a row is longer than {read_block:,} bytes, or a quote is never "
                        "closed: fix the quoting (or raise batch_bytes if it is under 1 MiB)"
                    )
                elif "UTF8" in msg or "decode" in msg.lower():
                    hint = (
                        f"the file is not valid {opts.encoding}: set csv.encoding "
                        "(latin-1 and cp1252 are common for exports from spreadsheets)"
                    )
                raise SourceError(
                    f"cannot parse CSV: {msg}", where=Where(file=unit), hint=hint
                ) from None

    return headers, batches


def _frame(batches: list[pa.RecordBatch], headers: list[str]) -> tuple[pl.DataFrame, list[str]]:
    """The batches as one frame, and the columns whose text holds a newline somewhere."""
    data = pl.DataFrame(pl.from_arrow(pa.Table.from_batches(batches)))
    data.columns = headers
    return data.rechunk(), [h for i, h in enumerate(headers) if _has_newline(batches, i)]


def _has_newline(batches: list[pa.RecordBatch], column: int) -> bool:
    # A scan of the raw value bytes is far cheaper than counting per value, and most
    # files have no quoted newlines at all. Bytes outside a slice only cost a recount.
    for batch in batches:
        data = batch.column(column).buffers()[2]
        if data is not None and (np.frombuffer(data, dtype=np.uint8) == 10).any():
            return True
    return False


def _fields(text: str, opts: CsvOptions) -> int:
    try:
        return len(next(csv.reader([text], delimiter=opts.delimiter, quotechar=opts.quote)))
    except (csv.Error, StopIteration):
        return text.count(opts.delimiter) + 1
