"""Local files a file source may read: listed and opened without following links.

A drop folder is written by others (a partner's upload, a shared mount): a symbolic
link dropped there (``drop/innocent.csv -> /home/op/secret.csv``) must not make sluice
load, serve or copy into its dead letter a file nobody dropped. So the folder a
source's path names (the part before its first wildcard; a plain path's own folder)
is trusted as configured, even when it is itself a link: the operator wrote it in
sluice.yaml. Below it nothing is followed: a symbolic link (to a file or a folder)
and anything that is not a regular file (a FIFO would hang the run, a device is no
data) are refused with a reason, never read. As no link below the folder is
followed, every file read is really under it.

:func:`expand` is ``glob.glob(recursive=True)`` without following links: ``**``
does not descend into a linked folder (``glob`` does, so a link to ``/`` would walk
the whole disk). :func:`open_regular` opens a listed file one path part at a time from
the folder, each with ``O_NOFOLLOW``, and checks with ``fstat`` that it is a regular
file: a link or FIFO swapped in between the listing and the opening is refused too.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sluice.errors import FileGone, SourceError, Where

_WILD = re.compile(r"[*?\[]")

#: what to do about a refused file, in every warning about one
FIX = (
    "copy the file into the folder instead of linking it (`cp -L LINK FILE` copies what "
    "a link points to); sluice reads only regular files under a source's folder, "
    "never through a symbolic link"
)


@dataclass(frozen=True)
class Refused:
    """A path a pattern matched that is not read, and why."""

    path: Path
    why: str


def split(pattern: str) -> tuple[Path, list[str]]:
    """The trusted folder of an absolute ``pattern`` and the parts matched under it:
    ``/p/drop/**/*.csv`` -> ``/p/drop``, ``["**", "*.csv"]``; a plain path's folder is
    its parent."""
    parts = Path(pattern).parts
    fixed = next((i for i, p in enumerate(parts) if _WILD.search(p)), len(parts))
    fixed = max(1, min(fixed, len(parts) - 1))
    return Path(*parts[:fixed]), list(parts[fixed:])


def expand(folder: Path, parts: list[str], refused: list[Refused]) -> Iterator[Path]:
    """The paths ``parts`` match under ``folder`` as ``glob`` matches them (hidden
    names only by a pattern starting with a dot, ``**`` any number of folders),
    without going through a link; a linked folder in the way is added to ``refused``.
    What is yielded may be anything but a folder reached through a link: the caller
    checks it (:func:`refusal`)."""
    if not parts:
        yield folder
        return
    head, rest = parts[0], parts[1:]
    if head == "**":
        yield from expand(folder, rest, refused)  # no folder at all
        for entry in _entries(folder):
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            if not rest:
                yield path
            if entry.is_dir(follow_symlinks=False):
                yield from expand(path, parts, refused)
            elif _linked_folder(entry):
                refused.append(Refused(path, "is a symbolic link to a folder: not looked into"))
        return
    if _WILD.search(head):
        hidden = head.startswith(".")
        for entry in _entries(folder):
            if (hidden or not entry.name.startswith(".")) and fnmatch.fnmatchcase(entry.name, head):
                yield from _under(Path(entry.path), rest, refused)
    elif os.path.lexists(folder / head):
        yield from _under(folder / head, rest, refused)


def _under(path: Path, rest: list[str], refused: list[Refused]) -> Iterator[Path]:
    if not rest:
        yield path
    elif path.is_symlink():
        if path.is_dir():
            refused.append(Refused(path, "is a symbolic link to a folder: not looked into"))
    elif path.is_dir():
        yield from expand(path, rest, refused)


def _entries(folder: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as it:
            return sorted(it, key=lambda e: e.name)
    except OSError:  # not a folder, gone, unreadable: it matches nothing, as in glob
        return []


def _linked_folder(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_symlink() and entry.is_dir()
    except OSError:
        return False


def refusal(path: Path) -> str | None:
    """Why ``path`` (found by :func:`expand`) is not read, ``""`` for a folder (not a
    file: passed over, as ``glob``'s folders always were), None for a regular file."""
    try:
        st = os.lstat(path)
    except OSError:  # gone since it was listed
        return ""
    if stat.S_ISREG(st.st_mode):
        return None
    if stat.S_ISDIR(st.st_mode):
        return ""
    return f"is {_kind(st.st_mode)}, not a regular file: not read"


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


def open_regular(path: Path, folder: Path, shown: str) -> BinaryIO:
    """``path`` (under ``folder``) opened for reading without following a link in any
    part below ``folder``, and only if it is a regular file; else a SourceError
    naming it as ``shown``."""
    try:
        rel = path.relative_to(folder).parts
    except ValueError:
        raise _refused(shown, "is not under its source's folder") from None
    if not rel or os.open not in os.supports_dir_fd or not _NOFOLLOW:
        try:
            return _checked(os.open(path, os.O_RDONLY | os.O_CLOEXEC | _NONBLOCK), shown)
        except FileNotFoundError:
            raise _gone(shown) from None
    try:
        at = os.open(folder, _DIR)
    except FileNotFoundError:  # the source's folder itself moved away
        raise _gone(shown) from None
    try:
        for part in rel[:-1]:
            try:
                below = os.open(part, _DIR | _NOFOLLOW, dir_fd=at)
            except FileNotFoundError:
                raise _gone(shown) from None
            except OSError as exc:
                raise _refused(
                    shown, f"cannot be opened: a folder on its way {_why(exc)}"
                ) from None
            os.close(at)
            at = below
        try:
            # non-blocking: opening a FIFO must not wait for a writer (fstat refuses it)
            fd = os.open(rel[-1], os.O_RDONLY | os.O_CLOEXEC | _NOFOLLOW | _NONBLOCK, dir_fd=at)
        except FileNotFoundError:
            raise _gone(shown) from None
        except OSError as exc:
            raise _refused(shown, f"cannot be opened: it {_why(exc)}") from None
    finally:
        os.close(at)
    return _checked(fd, shown)


def _why(exc: OSError) -> str:
    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
        return "is a symbolic link or not a folder"
    return f"gave {exc.strerror or exc}"


def _checked(fd: int, shown: str) -> BinaryIO:
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _refused(shown, f"is {_kind(mode)}, not a regular file: not read")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def _gone(shown: str) -> FileGone:
    return FileGone(
        f"{shown}: no such file (it was there when the run listed its files)",
        where=Where(file=shown),
        hint="it was deleted or moved while the run went on; the run's other files load",
    )


def _refused(shown: str, why: str) -> SourceError:
    return SourceError(f"{shown} {why}", where=Where(file=shown), hint=FIX)
