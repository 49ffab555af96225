"""One file, or one zip member, as a unit: its bytes, fingerprint, copy and reader.

A unit's fingerprint (the ledger's content hash) and its dead-letter copy are of its
bytes as stored: a compressed file is hashed and kept compressed, a zip member as
the archive inflates it. Its reader inflates what is compressed as it reads and hands
the rows over by format (:mod:`~sluice.sources.csv_reader`,
:mod:`~sluice.sources.jsonl_reader`, Parquet through PyArrow).
"""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

import numpy as np
import polars as pl
import pyarrow as pa

from sluice import digests
from sluice.batch import LINE, Batch
from sluice.config import CsvOptions, FileSourceConfig
from sluice.errors import SourceError, Where
from sluice.httpclient.stats import HttpStatsRecord
from sluice.schema import ignored, normalize_header
from sluice.sources import archive, localfiles
from sluice.sources.base import RecordCopy
from sluice.sources.csv_reader import read_csv, with_declared_delimiter
from sluice.sources.csv_start import top_records
from sluice.sources.json_reader import read_json
from sluice.sources.jsonl_reader import read_jsonl
from sluice.sources.streams import HEAD, ByteReader, Limited, content, plain_name, sniff


@dataclass
class FileUnit:
    """One file, or one member of a zip archive (``archive.zip!member.csv``)."""

    name: str
    path: Path
    size: int
    fmt: str
    config: FileSourceConfig
    stream: str
    member: str | None = None
    #: set when the unit was found broken while listing (an unsafe archive, a corrupt
    #: member): opening it raises this, so the engine quarantines it like any
    #: unreadable file
    error: SourceError | None = None
    #: the ledger fingerprint of a zip member that cannot be read whole
    digest: str | None = None
    #: what must outlive the unit (the temporary folder of a download)
    keep: object = None
    #: the source's folder the file was found under: it is opened from there without
    #: following links (None: a download, a file sluice wrote itself)
    folder: Path | None = None

    def open_file(self) -> IO[bytes]:
        """The file (the archive, for a member), opened without following links."""
        return open_local(self.path, self.folder, self.name.split("!")[0])

    def open_stored(self) -> IO[bytes]:
        """The unit's bytes as stored: the file, or the zip member as the archive
        inflates it (under ``max_unzipped_bytes``)."""
        if self.member is None:
            return self.open_file()
        f = self.open_file()
        try:
            raw = zipfile.ZipFile(f).open(self.member)  # noqa: SIM115 (closed with the stream)
        except BaseException:
            f.close()
            raise
        limit = self.config.max_unzipped_bytes
        member = cast(IO[bytes], _Member(raw, f))
        return cast(IO[bytes], Limited(member, limit, self.name, "zip member"))

    def open_bytes(self) -> IO[bytes]:
        """The unit's content: inflated as it is read when it is compressed."""
        return content(self.open_stored(), self.name, self.config.max_unzipped_bytes)

    def fingerprint(self) -> str:
        if self.digest is not None:
            return self.digest
        if self.member is None:  # perhaps hashed ahead (`sluice run`, see sluice.digests)
            return digests.sha256(self.path, self.open_stored)
        return digests.of_stream(self.open_stored)

    def copy_to(self, dest: Path) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self.open_stored() as src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
        except archive.BROKEN as exc:  # a corrupt member: no copy rather than half of one
            dest.unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise
            raise SourceError(f"cannot copy {self.name}: {exc}") from None

    @property
    def checkpoint(self) -> None:
        return None  # a file is loaded whole, by content hash: no cursor

    @property
    def vanished(self) -> dict[str, Any]:
        return {}  # a file's header is read once: drift is found there

    def http_stats(self) -> HttpStatsRecord | None:
        return None

    def record_copy(self) -> RecordCopy | None:
        return None  # a file is kept as its bytes (copy_to)

    def open(self) -> FileReader:
        if self.error is not None:
            raise self.error
        return FileReader(self)


class FileReader:
    """A file's header and its rows, by format: CSV, JSON Lines, JSON, Parquet."""

    may_be_empty = False  # a file with no columns has no header: the engine says so
    #: a CSV file's delimiter as read (Excel's ``sep=;`` line names it); None: no CSV
    delimiter: str | None = None
    _csv: CsvOptions | None = None

    def __init__(self, unit: FileUnit) -> None:
        self.unit = unit
        cfg = unit.config
        if unit.fmt == "csv":
            opts = cfg.csv
            if (
                plain_name(unit.name).lower().endswith(".tsv")
                and "delimiter" not in opts.model_fields_set
            ):
                opts = opts.model_copy(update={"delimiter": "\t"})
            opts = with_declared_delimiter(unit.open_bytes, opts, unit.stream, unit.name)
            self.delimiter, self._csv = opts.delimiter, opts
            self.columns, self._batches = read_csv(
                unit.open_bytes,
                opts,
                stream_name=unit.stream,
                unit=unit.name,
                block_size=cfg.batch_bytes,
                named=lambda header: _named(cfg, header),
            )
        elif unit.fmt == "parquet":
            self.columns, self._batches = self._parquet()
        elif unit.fmt == "json":
            self.columns, self._batches = read_json(
                unit.open_bytes,
                stream=unit.stream,
                unit=unit.name,
                records=cfg.records,
                flatten=cfg.flatten,
            )
        else:
            self.columns, self._batches = self._jsonl()

    def batches(self) -> Iterator[Batch]:
        return self._batches()

    def top_records(self, lines_at_most: int = 50) -> list[tuple[int, list[str]]]:
        """A CSV file's first records, each with its line, from its first line (for the
        hint of a header that is further down); none for other formats or without a
        header row."""
        if self._csv is None or not self._csv.header:
            return []
        return top_records(self.unit.open_bytes(), self._csv, lines_at_most)

    def _numbered(self, tables: Iterator[pa.RecordBatch]) -> Iterator[Batch]:
        start = 1
        for rb in tables:
            data = pl.DataFrame(pl.from_arrow(_decoded(rb)))
            lines = np.arange(start, start + data.height, dtype=np.int64)
            start += data.height
            yield Batch(self.unit.stream, self.unit.name, data.with_columns(pl.Series(LINE, lines)))

    def _parquet_bytes(self) -> IO[bytes] | pa.BufferReader:
        """Parquet needs random access: a zip member (a forward-only stream) is read
        into memory, through the ``max_unzipped_bytes`` limit. Compressed Parquet is
        refused: its columns are compressed already."""
        with self.unit.open_stored() as f:
            codec = sniff(f.read(HEAD))
        if codec is not None:
            raise SourceError(
                f"the Parquet file is {codec}-compressed",
                where=Where(file=self.unit.name),
                hint="decompress it first: Parquet files are read as they are written",
            )
        if self.unit.member is None:
            return self.unit.open_stored()
        with self.unit.open_stored() as f:
            return pa.BufferReader(f.read())

    def _parquet(self) -> tuple[list[str], Callable[[], Iterator[Batch]]]:
        # Imported here: pyarrow.parquet loads Arrow's S3, GCS, Azure and HDFS
        # filesystems, ~8 MB of resident code and 11 ms that a CSV load never uses.
        import pyarrow.parquet as pq

        try:
            with self._parquet_bytes() as f:
                columns = list(pq.ParquetFile(f).schema_arrow.names)
        except (pa.ArrowInvalid, OSError) as exc:
            raise SourceError(
                f"not a Parquet file: {exc}", where=Where(file=self.unit.name)
            ) from None

        def batches() -> Iterator[Batch]:
            with self._parquet_bytes() as f:
                yield from self._numbered(pq.ParquetFile(f).iter_batches(batch_size=65_536))

        return columns, batches

    def _jsonl(self) -> tuple[list[str], Callable[[], Iterator[Batch]]]:
        cfg = self.unit.config
        return read_jsonl(
            self.unit.open_bytes,
            stream=self.unit.stream,
            unit=self.unit.name,
            block_size=cfg.batch_bytes,
            flatten=cfg.flatten,
        )


def _decoded(rb: pa.RecordBatch) -> pa.RecordBatch:
    """Dictionary-encoded columns (pandas' categories) as the values they hold: Polars
    reads them as categories, which hold their text only for as long as a string cache
    lives, and which it casts to no number."""
    if not any(pa.types.is_dictionary(t) for t in rb.schema.types):
        return rb
    columns = [c.dictionary_decode() if pa.types.is_dictionary(c.type) else c for c in rb.columns]
    return pa.RecordBatch.from_arrays(columns, names=rb.schema.names)


def open_local(path: Path, folder: Path | None, shown: str) -> IO[bytes]:
    """A file found under the source's ``folder``, opened without following links
    (``folder`` None: a download, a file sluice wrote itself)."""
    if folder is None:
        return open(path, "rb")
    return localfiles.open_regular(path, folder, shown)


class _Member(ByteReader):
    """A zip member's stream that closes the archive's file with it."""

    def __init__(self, raw: IO[bytes], archive: IO[bytes]) -> None:
        super().__init__(raw)
        self.archive = archive

    def _chunk(self, n: int) -> bytes:
        assert self.raw is not None
        return self.raw.read(n)

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.archive.close()


def hash_units_ahead(units: Iterable[object]) -> None:
    """Start hashing the local files among ``units`` on a thread of their own (see
    :mod:`sluice.digests`): a run plans its units one at a time, and each file's
    fingerprint is then made, or under way, when its turn comes. A Celery part of four
    files hashed each on its load's thread: 1.1 s of a worker's 31 s for 120 files."""
    digests.ahead(
        u.path
        for u in units
        if isinstance(u, FileUnit) and u.member is None and u.digest is None and u.error is None
    )


def _named(cfg: FileSourceConfig, header: str) -> bool:
    """Whether the source's config names ``header`` (mapped, a synonym, or ignored)."""
    name = normalize_header(header)
    said = [h for h in cfg.columns.values() if h is not None]
    said += [h for names in cfg.synonyms.values() for h in names]
    return any(normalize_header(h) == name for h in said) or ignored(header, cfg.ignore)
