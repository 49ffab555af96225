"""The ``file`` source: CSV, JSON Lines and Parquet from local paths, globs and zips.

Zip members are streamed straight out of the archive (never unpacked to disk); a
member that cannot be read (its name climbs out of the archive, it is corrupt, its
format cannot be told, it inflates past ``max_unzipped_bytes``) is set aside alone
(see :mod:`sluice.sources.archive`). CSV and JSON Lines may be compressed (``x.csv.gz``,
``.bz2``, ``.xz``, ``.zst``, also as zip members or downloads): they are inflated as
they are read, under the same limit (see :mod:`sluice.sources.streams`).

This module finds the units (:class:`FileSource`); a unit and how it is read are in
:mod:`sluice.sources.file_unit`.

Files are found and opened without following symbolic links below the source's
folder, and only regular files are read (see :mod:`sluice.sources.localfiles`); a
path refused is a warning of the run, never a unit: it is not read, loaded or copied.
"""

from __future__ import annotations

import contextlib
import fnmatch
import glob
import os
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import IO

from sluice import digests
from sluice.config import FileSourceConfig, PipelineConfig
from sluice.errors import ConfigError, SluiceError, SourceError, Where
from sluice.sources import archive, localfiles
from sluice.sources.base import SourceContext, register
from sluice.sources.file_unit import FileUnit, open_local
from sluice.sources.nearby import explain
from sluice.sources.streams import named_codec, plain_name

FORMATS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
}


def format_of(config: FileSourceConfig, name: str) -> str | None:
    """The format the source sets, else the one the name tells under any compression
    suffix (``x.csv.gz`` is csv); None when neither tells."""
    return config.format or FORMATS.get(PurePosixPath(plain_name(name)).suffix.lower())


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

    def kept(self, copy: Path, name: str) -> FileUnit:
        """The file set aside as ``name``, read from its copy: a ``url:`` is not
        downloaded again (upstream may have moved on), a file given with ``--file`` may
        be gone; the copy is what was set aside. Reported under its original name."""
        cfg = self.config.model_copy(update={"path": glob.escape(str(copy)), "url": None})
        unit = next(iter(FileSource(self.stream, cfg, self.root, self.context).units()))
        unit.name = name
        return unit

    def _format(self, name: str, shown: str | None = None) -> str:
        fmt = format_of(self.config, name)
        if fmt is None:
            paths = ", ".join(repr(p) for p in self.config.paths) or repr(self.config.url)
            raise ConfigError(
                f"cannot tell the format of {PurePosixPath(name).name!r} from its extension "
                f"(read by their extension: {' '.join(FORMATS)})",
                hint=(
                    f"narrow the path of source {self.stream!r} (now {paths}) to the data "
                    "files, or set format: csv, jsonl, json or parquet on it"
                ),
                where=Where(file=shown or name),
            )
        if fmt == "parquet" and named_codec(name):
            raise ConfigError(
                f"{name!r} is compressed Parquet: only csv, jsonl and json are read compressed",
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
            # Imported here: httpx (and what it imports) is 0.1-0.2 s of start-up that
            # a run of local files does not need.
            from sluice.sources.download import download

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
            f = open_local(path, folder, shown)
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
            "csv, jsonl, json or parquet on the source, then `sluice quarantine replay`"
        )

    def _member_names(self, path: Path) -> list[str]:
        try:
            with open_local(path, self._folder(path), str(path)) as f, zipfile.ZipFile(f) as z:
                return [i.filename for i in z.infolist() if not i.is_dir()]
        except (zipfile.BadZipFile, OSError, SourceError):
            return []


def _listed(names: list[str]) -> str:
    if not names:
        return "nothing"
    return ", ".join(names[:5]) + (f" (and {len(names) - 5} more)" if len(names) > 5 else "")


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def hash_ahead(pipe: PipelineConfig, root: Path, source: str | None = None) -> None:
    """Start hashing the local files the file sources of ``pipe`` (or ``source`` only)
    match, on a thread of their own (see :mod:`sluice.digests`). What cannot be listed
    is left for the run to find and report."""
    paths: list[Path] = []
    for stream, config in pipe.sources.items():
        if source in (None, stream) and isinstance(config, FileSourceConfig) and not config.url:
            with contextlib.suppress(SluiceError, OSError):
                paths += FileSource(stream, config, root, SourceContext()).files()
    hash_paths_ahead(paths)


def hash_paths_ahead(paths: Iterable[Path], threads: int = 1) -> None:
    """Start hashing the files at ``paths`` on ``threads`` threads of their own (a
    Celery part's, as soon as it is known: its planner wants the first file's digest
    ~10 ms later)."""
    # A zip's members are the units (and hashed as they inflate): not the archive.
    digests.ahead((p for p in paths if p.suffix.lower() != ".zip"), threads)
