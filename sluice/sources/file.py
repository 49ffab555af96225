"""The ``file`` source: CSV, JSON Lines and Parquet from local paths, globs and zips.

Zip members are streamed straight out of the archive (never unpacked to disk); a
member that cannot be read (its name climbs out of the archive, it is corrupt, its
format cannot be told, it inflates past ``max_unzipped_bytes``) is set aside alone
(see :mod:`sluice.sources.archive`). CSV and JSON Lines may be compressed (``x.csv.gz``,
``.bz2``, ``.xz``, ``.zst``, also as zip members or downloads): they are inflated as
they are read, under the same limit (see :mod:`sluice.sources.streams`).

A unit's fingerprint (the ledger's content hash) and its dead-letter copy are of its
bytes as stored: a compressed file is hashed and kept compressed, a zip member as
the archive inflates it.

Files are found and opened without following symbolic links below the source's
folder, and only regular files are read (see :mod:`sluice.sources.localfiles`); a
path refused is a warning of the run, never a unit: it is not read, loaded or copied.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import shutil
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, cast

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from sluice.batch import LINE, Batch
from sluice.config import FileSourceConfig
from sluice.errors import ConfigError, SourceError, Where
from sluice.sources import archive, localfiles
from sluice.sources.base import SourceContext, register
from sluice.sources.csv_reader import read_csv
from sluice.sources.download import download
from sluice.sources.jsonl_reader import read_jsonl
from sluice.sources.nearby import explain
from sluice.sources.streams import (
    HEAD,
    ByteReader,
    Limited,
    content,
    named_codec,
    plain_name,
    sniff,
)

FORMATS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}


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
        return _open(self.path, self.folder, self.name.split("!")[0])

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
        digest = hashlib.sha256()
        with self.open_stored() as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
        return digest.hexdigest()

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

    def open(self) -> FileReader:
        if self.error is not None:
            raise self.error
        return FileReader(self)


class FileReader:
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
            self.columns, self._batches = read_csv(
                unit.open_bytes,
                opts,
                stream_name=unit.stream,
                unit=unit.name,
                block_size=cfg.batch_bytes,
            )
        elif unit.fmt == "parquet":
            self.columns, self._batches = self._parquet()
        else:
            self.columns, self._batches = self._jsonl()

    def batches(self) -> Iterator[Batch]:
        return self._batches()

    def _numbered(self, tables: Iterator[pa.RecordBatch]) -> Iterator[Batch]:
        start = 1
        for rb in tables:
            data = pl.DataFrame(pl.from_arrow(rb))
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


@register("file")
class FileSource:
    """Lists the files matching ``path`` (globs allowed), expanding zip archives; or
    downloads the file at ``url`` first."""

    def __init__(
        self,
        stream: str,
        config: FileSourceConfig,
        root: Path,
        context: SourceContext,
    ) -> None:
        self.stream, self.config, self.root, self.context = stream, config, root, context
        #: each file :meth:`files` found -> the source's folder it is opened from
        self.folders: dict[Path, Path] = {}
        #: what the paths matched that is not read (a link, a FIFO), and why
        self.refused: list[localfiles.Refused] = []

    def _format(self, name: str, shown: str | None = None) -> str:
        """The format the source sets, else the one the name tells under any
        compression suffix (``x.csv.gz`` is csv)."""
        fmt = self.config.format or FORMATS.get(PurePosixPath(plain_name(name)).suffix.lower())
        if fmt is None:
            paths = ", ".join(repr(p) for p in self.config.paths) or repr(self.config.url)
            raise ConfigError(
                f"cannot tell the format of {PurePosixPath(name).name!r} from its extension "
                f"(read by their extension: {' '.join(FORMATS)})",
                hint=(
                    f"narrow the path of source {self.stream!r} (now {paths}) to the data "
                    "files, or set format: csv, jsonl or parquet on it"
                ),
                where=Where(file=shown or name),
            )
        if fmt == "parquet" and named_codec(name):
            raise ConfigError(
                f"{name!r} is compressed Parquet: only csv and jsonl are read compressed",
                hint="decompress it first: Parquet files are read as they are written",
                where=Where(key=f"sources.{self.stream}.path"),
            )
        return fmt

    def files(self) -> list[Path]:
        """The regular files the paths match, none through a link; what they match
        and is refused (a link, a FIFO) goes to :attr:`refused`."""
        found: dict[Path, Path] = {}  # file -> the folder it was found under
        refused: list[localfiles.Refused] = []
        for pattern in self.config.paths:
            full = pattern if Path(pattern).is_absolute() else str(self.root / pattern)
            folder, parts = localfiles.split(full)
            for p in sorted(localfiles.expand(folder, parts, refused), key=str):
                why = localfiles.refusal(p)
                if why is None:
                    found.setdefault(p, folder)
                elif why:
                    refused.append(localfiles.Refused(p, why))
        self.folders = found
        self.refused = list({r.path: r for r in refused if r.path not in found}.values())
        return list(found)

    def _warn_refused(self) -> None:
        """A path refused is never silent: a warning naming it, why, and the fix."""
        for r in self.refused:
            self.context.warn(
                f"{_shown(r.path, self.root)} {r.why}",
                f"{localfiles.FIX}; then `sluice run {self.context.pipeline}`",
            )

    def units(self) -> Iterator[FileUnit]:
        if self.config.url is not None:
            got = download(self.config, self.context.log)
            paths = [got.path]
            found = list(self._units(paths, label=self.config.url))
            for unit in found:
                unit.keep = got  # the temporary file lives as long as its units
        else:
            paths = self.files()
            self._warn_refused()
            found = list(self._units(paths))
        self._enough(found, paths)
        yield from found

    def _enough(self, found: list[FileUnit], paths: list[Path]) -> None:
        """Finding nothing is never silent: a warning, or under ``min_files`` a failure."""
        wanted = self.config.min_files
        if len(found) >= max(wanted, 1):
            return
        stream, pipeline = self.stream, self.context.pipeline
        refused = self.refused
        if refused and not found and not paths and not wanted:
            return  # the warnings of the refused paths say why nothing was read
        if found:
            why = _listed([u.name for u in found])
        elif refused and not paths:
            why = f"{len(refused)} path(s) matched but refused: " + _listed(
                [f"{_shown(r.path, self.root)} {r.why}" for r in refused]
            )
        elif paths:  # archives, none with a member to read
            why = "; ".join(
                f"no member of {self.config.url or _shown(p, self.root)} matches members "
                f"{self.config.members!r} (it holds {_listed(self._member_names(p))})"
                for p in paths
            )
        else:
            why = "; ".join(
                f"no file matches {p!r}: {explain(p, self.root)}" for p in self.config.paths
            )
        key = "members" if paths and not found else "path"
        again = f"`sluice run {pipeline} --source {stream}`"
        if len(found) < wanted:
            raise SourceError(
                f"source {stream!r} found {len(found) or 'no'} file{'' if len(found) == 1 else 's'}"
                f", fewer than min_files ({wanted}): {why}",
                hint=f"put the files in place or fix {key} of source {stream!r} in "
                f"sluice.yaml, then {again}",
            )
        self.context.warn(
            f"read nothing: {why}",
            f"fix {key} of source {stream!r} in sluice.yaml, then {again}; with min_files: 1 "
            "on the source, finding no file fails the run",
        )

    def _folder(self, path: Path) -> Path | None:
        return self.folders.get(path)

    def _units(self, paths: list[Path], label: str | None = None) -> Iterator[FileUnit]:
        for path in paths:
            shown = label or _shown(path, self.root)
            if path.suffix.lower() != ".zip":
                yield FileUnit(
                    shown,
                    path,
                    os.lstat(path).st_size,
                    self._format(path.name, shown),
                    self.config,
                    self.stream,
                    folder=self._folder(path),
                )
                continue
            yield from self._members(path, shown)

    def _members(self, path: Path, shown: str) -> Iterator[FileUnit]:
        """One unit per member matching ``members``; a member that cannot be read is a
        unit that raises its reason when opened (set aside alone, the others load), and
        so is a whole archive that cannot be read at all."""
        folder = self._folder(path)
        try:
            f = _open(path, folder, shown)
        except (SourceError, OSError) as exc:  # swapped for a link since it was listed
            err = exc if isinstance(exc, SourceError) else SourceError(str(exc))
            yield FileUnit(shown, path, 0, "zip", self.config, self.stream, error=err)
            return
        with f:
            yield from self._read_members(f, path, folder, shown)

    def _read_members(
        self, f: IO[bytes], path: Path, folder: Path | None, shown: str
    ) -> Iterator[FileUnit]:
        try:
            infos = archive.listed(f, shown, self.config.max_unzipped_bytes)
        except SourceError as exc:
            yield FileUnit(
                shown, path, os.lstat(path).st_size, "zip", self.config, self.stream, error=exc
            )
            return
        again = f"`sluice run {self.context.pipeline}`"
        for info in infos:
            if not fnmatch.fnmatch(info.filename, self.config.members):
                continue
            name = f"{shown}!{info.filename}"
            error = archive.problem(f, info, name, again)
            broken = error is not None and error.message.startswith("zip member is corrupt")
            fmt = "?"
            if error is None:
                try:
                    fmt = self._format(info.filename, name)
                except ConfigError as exc:  # one member: set aside, not the whole run
                    error = SourceError(exc.message, where=exc.where, hint=self._odd_member())
            yield FileUnit(
                name,
                path,
                info.file_size,
                fmt,
                self.config,
                self.stream,
                member=info.filename,
                error=error,
                digest=archive.digest(info) if broken else None,
                folder=folder,
            )

    def _odd_member(self) -> str:
        stream, members = self.stream, self.config.members
        return (
            f"the other members were read. If it is not data, narrow members of source "
            f"{stream!r} (now {members!r}) and drop the entry with `sluice quarantine "
            "discard ID` (`sluice quarantine list` shows its ID); if it is, set format: "
            "csv, jsonl or parquet on the source, then `sluice quarantine replay`"
        )

    def _member_names(self, path: Path) -> list[str]:
        try:
            with _open(path, self._folder(path), str(path)) as f, zipfile.ZipFile(f) as z:
                return [i.filename for i in z.infolist() if not i.is_dir()]
        except (zipfile.BadZipFile, OSError, SourceError):
            return []


def _open(path: Path, folder: Path | None, shown: str) -> IO[bytes]:
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


def _listed(names: list[str]) -> str:
    if not names:
        return "nothing"
    return ", ".join(names[:5]) + (f" (and {len(names) - 5} more)" if len(names) > 5 else "")


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
