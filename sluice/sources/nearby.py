"""Why a path pattern matched no file, in a clause a user can act on.

A typo in a glob, a missing folder and a wrong-case extension (``*.csv`` against
``DATA.CSV``: globs are case-sensitive) all look the same from the outside: nothing was
read. :func:`explain` looks around the pattern: the folder that does not exist and the
names close to it, the files the pattern matches when case is ignored, or what the
folder holds.
"""

from __future__ import annotations

import difflib
import fnmatch
import os
import re
from pathlib import Path

_WILD = re.compile(r"[*?\[]")
SHOWN = 5  # names listed at most
SCANNED = 10_000  # entries looked at, at most, for a case-insensitive match


def explain(pattern: str, root: Path) -> str:
    """What is near ``pattern`` (relative to ``root``, or absolute), which matched nothing."""
    full = Path(pattern) if Path(pattern).is_absolute() else root / pattern
    parts = full.parts
    fixed = next((i for i, p in enumerate(parts) if _WILD.search(p)), len(parts))
    base = Path(*parts[:fixed])
    if fixed == len(parts):  # no wildcard: one path
        if base.is_dir():
            every = _shown(base / "*", root)
            return f"{_shown(base, root)} is a folder: write {every} to read its files"
        return _missing(base, root)
    if not base.is_dir():
        return _missing(base, root)
    rest = parts[fixed:]
    depth = None if "**" in rest else len(rest)
    regex = re.compile(fnmatch.translate(str(Path(*rest))), re.IGNORECASE)
    hits = [p for p in _files(base, depth) if regex.match(str(p.relative_to(base)))]
    if hits:
        return (
            f"{_listed([_shown(p, root) for p in hits])} "
            f"match{'es' if len(hits) == 1 else ''} when case is ignored (paths are "
            "case-sensitive)"
        )
    names = sorted(e.name + ("/" if e.is_dir() else "") for e in base.iterdir())
    if not names:
        return f"the folder {_shown(base, root)} is empty"
    return f"{_shown(base, root)} holds {_listed(names)}"


def _missing(path: Path, root: Path) -> str:
    """The first part of ``path`` that does not exist, and the names close to it."""
    have = path
    while not have.exists() and have != have.parent:
        have = have.parent
    gone = path.parts[len(have.parts)] if len(path.parts) > len(have.parts) else path.name
    what = "folder" if len(path.parts) > len(have.parts) + 1 or path.suffix == "" else "file"
    said = f"there is no {what} {_shown(have / gone, root)}"
    if not have.is_dir():
        return said
    names = sorted(e.name for e in have.iterdir())
    lower = {n.lower(): n for n in names}
    close = [lower[gone.lower()]] if gone.lower() in lower else []  # a wrong case
    close = close or [
        lower[n] for n in difflib.get_close_matches(gone.lower(), list(lower), SHOWN, 0.6)
    ]
    if close:
        return f"{said}; did you mean {_listed([_shown(have / n, root) for n in close])}?"
    if names:
        return f"{said}; {_shown(have, root)} holds {_listed(names)}"
    return said


def _files(base: Path, depth: int | None) -> list[Path]:
    """Files under ``base``, at most ``depth`` levels down (None: any), at most
    :data:`SCANNED` entries looked at."""
    out: list[Path] = []
    seen = 0
    for folder, dirs, files in os.walk(base):
        level = len(Path(folder).relative_to(base).parts)
        if depth is not None and level >= depth - 1:
            dirs[:] = []
        if depth is None or level == depth - 1:
            out += [Path(folder) / f for f in files]
        seen += len(dirs) + len(files)
        if seen > SCANNED:
            break
    return sorted(out)


def _listed(names: list[str]) -> str:
    more = f" (and {len(names) - SHOWN} more)" if len(names) > SHOWN else ""
    return ", ".join(names[:SHOWN]) + more


def _shown(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)
