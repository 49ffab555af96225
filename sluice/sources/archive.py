"""Zip archives: what is wrong with a whole archive, and what with one member.

A whole archive is refused when it is not a zip or would inflate past
``max_unzipped_bytes`` (a zip bomb): nothing of it is read. Anything else concerns one
member and sets only that member aside, the others load: a path that climbs out of the
archive (``../x.csv``), a bad CRC-32, a member that cannot be inflated (encrypted, an
unknown compression method, truncated data). Members are checked before any byte of
them is used, so a broken one is set aside instead of failing mid-hash or mid-load.
"""

from __future__ import annotations

import hashlib
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import IO

from sluice.errors import SourceError, Where

#: what reading a damaged member raises
BROKEN = (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError, zlib.error)


def listed(path: Path | IO[bytes], shown: str, limit: int) -> list[zipfile.ZipInfo]:
    """The archive's files (folders left out); a :class:`SourceError` for the whole
    archive when it is not a zip or would inflate past ``limit``."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = [i for i in archive.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, OSError) as exc:
        raise SourceError(
            f"not a zip archive: {exc}",
            where=Where(file=shown),
            hint="download or export the archive again",
        ) from None
    total = sum(i.file_size for i in infos)
    if total > limit:
        raise SourceError(
            f"archive would inflate to {total:,} bytes, over the limit of {limit:,}",
            where=Where(file=shown),
            hint="raise max_unzipped_bytes on the source if the archive is trusted",
        )
    return infos


def safe_name(name: str) -> bool:
    p = PurePosixPath(name.replace("\\", "/"))
    return not (p.is_absolute() or ".." in p.parts or (p.parts and ":" in p.parts[0]))


def problem(
    path: Path | IO[bytes], info: zipfile.ZipInfo, name: str, again: str
) -> SourceError | None:
    """What keeps one member from being read, or None. ``again``: the command that
    loads what is new once the archive is replaced."""
    if not safe_name(info.filename):
        return SourceError(
            f"zip member {info.filename!r} points outside the archive; it is not read",
            where=Where(file=name),
            hint="ask the archive's producer for one without such paths; the other "
            "members were read. `sluice quarantine discard ID` drops the entry once "
            "dealt with (`sluice quarantine list` shows its ID)",
        )
    try:
        with zipfile.ZipFile(path) as archive, archive.open(info) as member:
            while member.read(1 << 20):
                pass  # the CRC-32 is checked at the end
    except BROKEN as exc:
        said = str(exc) or type(exc).__name__
        if "Bad CRC-32" in said:
            said = "its CRC-32 does not match: the data is damaged"
        return SourceError(
            f"zip member is corrupt: {said}",
            where=Where(file=name),
            hint=f"the other members were read; put a sound copy of the archive in its "
            f"place, then {again} loads only what it has not loaded yet, and `sluice "
            "quarantine discard ID` closes this entry (`sluice quarantine list` shows its ID)",
        )
    return None


def digest(info: zipfile.ZipInfo) -> str:
    """A ledger fingerprint for a member that cannot be read whole: its name, sizes and
    recorded CRC-32, never the same as a content hash."""
    said = f"broken zip member {info.filename}:{info.CRC}:{info.compress_size}:{info.file_size}"
    return "x" + hashlib.sha256(said.encode()).hexdigest()[1:]
