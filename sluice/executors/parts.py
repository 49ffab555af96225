"""A run split into parts for Celery workers.

:func:`plan_parts` splits a run: one part per file of a file source, so a drop of 120
files loads on every worker at once; an API source whose pages are numbered and
counted (``page`` with ``total_pages``, ``offset`` with ``total``) into up to
:data:`API_PARTS` page ranges, fan-out details going with their pages; any other API
source (its pages follow a cursor) is one part; and under ``mode: replace`` the whole
run is one part, its table swapped once. A part loads
exactly as a whole run would (:func:`sluice.engine.run.run`): the file ledger, load
ids and the warehouse's load markers make a part that is carried out again load
nothing twice. :func:`~sluice.engine.assemble.assemble` sums the parts' reports into
the run's report, the same document the local executor writes.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from sluice.config import FileSourceConfig, HttpSourceConfig, Project
from sluice.engine.plan import GROUP_BYTES
from sluice.engine.report import RunReport
from sluice.errors import ConfigError
from sluice.sources import SourceContext
from sluice.sources.file import FileSource
from sluice.sources.http.pages import count_pages
from sluice.state.parts import FILES, WHOLE_RUN, Part, Told

API_PARTS = 8  # an API source's pages are split into at most this many parts
PAGES = "pages:"  # a part's target that is a page range: pages:FIRST:END (0-based)
PARTS_ENV = "SLUICE_CELERY_PARTS"
PARTS_WANTED = 32  # small files are packed into parts of about 1/32 of a drop's bytes
#: ... and at most this many bytes (one file may hold more): what the part's run loads
#: in one transaction (a part one file past it loaded that file in a load of its own)
PART_BYTES = GROUP_BYTES
#: ... and their paths in at most this many characters: a part's target is a TEXT
#: column, 65,535 bytes on MySQL (json.dumps writes ASCII: a character is a byte)
TARGET_CHARS = 32_000


def plan_parts(
    project: Project, pipeline: str, file: str | None = None, source: str | None = None
) -> list[Part]:
    """The parts of a run of ``pipeline``, in the order they are queued. ``file`` and
    ``source`` (``sluice run --file/--source``): one part, as the local run would do."""
    pipe = project.pipeline(pipeline)
    if pipe.destination.mode == "replace" or file is not None or source is not None:
        return [Part(WHOLE_RUN, source or WHOLE_RUN, file)]
    parts: list[Part] = []
    for stream, cfg in pipe.sources.items():
        if isinstance(cfg, FileSourceConfig) and cfg.url is None:
            found = FileSource(stream, cfg, project.root, SourceContext())
            files = found.files()
            if len(files) < max(cfg.min_files, 1):  # one part says so (warns, or fails)
                parts.append(Part(stream, stream, None))
                continue
            parts += _file_parts(stream, files)
            # a path refused (a link, a FIFO) is a part too: it is refused there again,
            # and so is a warning of the run, as in a local run
            for i, refused in enumerate(found.refused):
                parts.append(Part(f"{stream}/refused-{i:05d}", stream, str(refused.path), 0))
        elif isinstance(cfg, HttpSourceConfig) and _splittable(cfg):
            parts += _page_parts(stream, cfg)
        else:
            parts.append(Part(stream, stream, None))
    return parts


def _file_parts(stream: str, files: list[Path]) -> list[Part]:
    """A file source's parts: one per file, or consecutive small files packed together.

    A part costs a worker state-store transactions of its own, and the pipeline of
    reading one file while the last one loads stops at its end: a drop of many small
    files loads as fast on the workers as in one process only when a part holds
    several of them. Files are packed until a part holds ``total / wanted`` bytes, and
    never past :data:`PART_BYTES` (a file that would take it past starts the next
    part: an ``append`` loads each part in one transaction), so a run still has about
    ``wanted`` parts to spread over its workers (:func:`parts_wanted`); and until their
    paths fill :data:`TARGET_CHARS`. A file of unknown size (a zip) is a part of its
    own, and no file is ever split.
    """
    sizes = [_size(path) for path in files]
    total = sum(size or 0 for size in sizes)
    want = min(total / parts_wanted(), PART_BYTES)
    parts: list[Part] = []
    group: list[int] = []  # indexes into files

    def close() -> None:
        if not group:
            return
        first, paths = group[0], [str(files[i]) for i in group]
        known = [sizes[i] for i in group]
        size = None if None in known else sum(s or 0 for s in known)
        target = paths[0] if len(paths) == 1 else FILES + json.dumps(paths)
        parts.append(Part(f"{stream}/{first:05d}", stream, target, size))
        group.clear()

    held = chars = 0
    for i, size in enumerate(sizes):
        if size is None:  # a zip: its members' sizes are known only when it is opened
            close()
            group.append(i)
            close()
            held = chars = 0
            continue
        named = len(json.dumps(str(files[i]))) + 2  # its path in the part's target
        if group and (chars + named > TARGET_CHARS or held + size > PART_BYTES):
            close()
            held = chars = 0
        group.append(i)
        held += size
        chars += named
        if held >= want:
            close()
            held = chars = 0
    close()
    return parts


def parts_wanted() -> int:
    """About how many parts a drop of files is packed into: ``SLUICE_CELERY_PARTS``, or
    :data:`PARTS_WANTED`. More workers than that: set it to their total concurrency."""
    raw = os.environ.get(PARTS_ENV, "").strip()
    if not raw:
        return PARTS_WANTED
    try:
        wanted = int(raw)
    except ValueError:
        wanted = 0
    if wanted < 1:
        raise ConfigError(
            f"{PARTS_ENV}={raw!r} is not a number of parts",
            hint=f"set {PARTS_ENV} to a whole number of 1 or more "
            f"(e.g. the workers' total concurrency), or unset it for {PARTS_WANTED}",
        )
    return wanted


def _size(path: Path) -> int | None:
    """A file's bytes, as its unit will tell them; None for a zip (its members' sizes
    are known when the part opens it) or a file gone since it was listed."""
    if path.suffix.lower() == ".zip":
        return None
    try:
        return os.lstat(path).st_size
    except OSError:
        return None


def _splittable(cfg: HttpSourceConfig) -> bool:
    """Pages that can be pulled apart: numbered, with no cursor carried between runs
    (each part would save its own) and no cap on the records (it counts in order)."""
    return cfg.paginate.style in ("page", "offset") and not (cfg.incremental or cfg.max_records)


def _page_parts(stream: str, cfg: HttpSourceConfig) -> list[Part]:
    total = count_pages(cfg)
    if total is None or total < 2:
        return [Part(stream, stream, None)]
    size = -(-total // API_PARTS)
    return [
        Part(f"{stream}/p{first + 1:06d}", stream, f"{PAGES}{first}:{min(first + size, total)}")
        for first in range(0, total, size)
    ]


def page_range(target: str | None) -> tuple[int, int] | None:
    """The pages of a part's target ``pages:FIRST:END``; None for a file or a stream."""
    if not target or not target.startswith(PAGES):
        return None
    first, end = target[len(PAGES) :].split(":")
    return int(first), int(end)


def retryable(report: RunReport) -> bool:
    """Whether every error of a part's report may go away on another attempt (a dropped
    connection, a deadlock): each says so, from its type (``SluiceError.retryable``)."""
    return bool(report.errors) and all(e.get("retryable") is True for e in report.errors)


class PartProgress:
    """A part's progress (what the engine tells a display: see
    :data:`~sluice.engine.context.Progress`), kept here and written on the part's row
    by its once-a-second tick (:func:`~sluice.executors.celery_tasks._tick`, one small
    UPDATE with the cancel check): the rows read so far, the bytes they took (an
    estimate) and, once the part has planned, its units' bytes. A display that follows
    the run (``sluice run`` on Celery) reads them there. A part that ends within its
    first second writes none: its end adds its rows to the run's."""

    def __init__(self) -> None:
        self.rows: dict[str, int] = {}  # per stream (a part of the whole run has several)
        self.read: dict[tuple[str, str], int] = {}  # per unit
        self.sizes: dict[str, int] = {}  # per stream, once the part planned (0: not known)
        self.written: Told | None = None
        self.lock = threading.Lock()

    def __call__(self, stream: str, stage: str, rows: int) -> None:
        with self.lock:
            self.rows[stream] = rows

    def bytes_read(self, stream: str, unit: str, read: int, size: int) -> None:
        with self.lock:
            self.read[(stream, unit)] = read

    def planned(self, stream: str, size: int) -> None:
        with self.lock:
            self.sizes[stream] = size

    def take(self) -> Told | None:
        """What to write now: how far the part got, once a batch was read and when it
        moved since the last write (None: nothing new)."""
        with self.lock:
            if not self.read:
                return None  # no batch yet: the plan's figures stand
            # a part of several streams: the sum of theirs, once each is known
            sizes = self.sizes.values()
            told = (
                sum(self.rows.values()),
                sum(self.read.values()),
                sum(sizes) if sizes and all(sizes) else None,
            )
            if told == self.written:
                return None
            self.written = told
            return told

    def unwritten(self) -> None:
        """The last :meth:`take` was not written (the store blinked): take it again."""
        with self.lock:
            self.written = None
