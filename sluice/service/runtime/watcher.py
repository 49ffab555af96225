"""File-drop triggers for ``sluice serve``: a new or changed file in a watched folder runs
its pipeline.

Each pipeline with ``watch: FOLDER`` (relative to the project) is polled with
``os.scandir`` every ``interval`` seconds, subfolders included. A file counts when it
matches one of the pipeline's file source paths (any file, if it has none), and is not
hidden or a partial download (``.part``, ``.tmp``, ``.crdownload``, ``~``).

A file is submitted once its size and modification time have not changed for
``quiet`` seconds, so a file still being copied is not read half-written. One poll
submits one run per pipeline, however many files went quiet; the run reads every file its
sources match.

What the watcher remembers is a file's size and mtime, not its content: a file touched
again, or the same content dropped under another name, starts another run. That run
loads nothing new: the file ledger knows the content by its hash and skips it. The
ledger, not the watcher, is what makes a file load once.

Only regular files count: a symbolic link (to a file or a folder) or a FIFO dropped in
the folder starts no run and is logged once as a warning (the file source refuses to
read them too: see :mod:`sluice.sources.localfiles`).

Files already in the folder when the watcher starts count as new (``catch_up=True``):
what was dropped while the server was down is loaded by one run at start-up.

A submit refused because the pipeline is running keeps the files pending; they are
submitted again ``retry`` seconds later, not at every poll.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sluice.config import FileSourceConfig, Project
from sluice.service.runtime.periodic import Periodic

log = logging.getLogger("sluice.triggers")

#: (pipeline name, trigger kind) -> run id, or None if refused because it is running
Submit = Callable[[str, str], str | None]
PARTIAL = (".part", ".partial", ".tmp", ".crdownload", ".download", "~")

Signature = tuple[int, int]  # (size, mtime_ns)


@dataclass(frozen=True)
class Triggered:
    """One submit made by a poll."""

    pipeline: str
    files: list[str]  # relative to the project, posix
    run_id: str | None  # None: refused (the pipeline is running) or the submit raised


@dataclass
class _Watch:
    pipeline: str
    folder: Path
    patterns: list[str]
    observed: dict[str, tuple[Signature, float]] = field(default_factory=dict)  # sig, since
    handled: dict[str, Signature] = field(default_factory=dict)
    refused_at: float | None = None
    missing_logged: bool = False
    #: links and other non-files seen in the folder (logged once each)
    not_files: set[str] = field(default_factory=set)


class FolderWatcher:
    def __init__(
        self,
        project: Project,
        submit: Submit,
        *,
        interval: float = 1.0,
        quiet: float = 2.0,
        retry: float = 10.0,
        catch_up: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.project = project
        self.submit = submit
        self.interval = interval
        self.quiet = quiet
        self.retry = retry
        self.clock = clock
        self.watches = [
            _Watch(name, project.root / pipe.watch, _patterns(pipe.sources.values()))
            for name, pipe in project.pipelines.items()
            if pipe.watch
        ]
        self._first = not catch_up  # without catch-up, the first poll only takes stock
        self._periodic = Periodic("sluice-watcher", self.poll, interval)

    @property
    def folders(self) -> dict[str, Path]:
        """The watched folder of each pipeline."""
        return {w.pipeline: w.folder for w in self.watches}

    @property
    def alive(self) -> bool:
        return self._periodic.alive

    def start(self) -> FolderWatcher:
        self._periodic.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._periodic.stop(timeout)

    # ------------------------------------------------------------------ the work

    def poll(self) -> list[Triggered]:
        """Scan every watched folder once; submit the pipelines with new files gone quiet."""
        now = self.clock()
        out = []
        for w in self.watches:
            ready = self._scan(w, now)
            if self._first:
                w.handled.update(ready)
                continue
            if not ready:
                continue
            if w.refused_at is not None and now - w.refused_at < self.retry:
                continue
            files = sorted(ready)
            try:
                run_id = self.submit(w.pipeline, "watch")
            except Exception:
                log.exception("a run of %s for %s could not be submitted", w.pipeline, files)
                w.refused_at = now
                out.append(Triggered(w.pipeline, files, None))
                continue
            if run_id is None:
                log.info("%s is running: %d new file(s) wait for it", w.pipeline, len(files))
                w.refused_at = now
            else:
                w.refused_at = None
                w.handled.update(ready)
            out.append(Triggered(w.pipeline, files, run_id))
        self._first = False
        return out

    def _scan(self, w: _Watch, now: float) -> dict[str, Signature]:
        """Files whose signature has held for ``quiet`` seconds and is not handled."""
        if not w.folder.is_dir():
            if not w.missing_logged:
                log.warning("%s: watched folder %s does not exist", w.pipeline, w.folder)
                w.missing_logged = True
            return {}
        w.missing_logged = False
        present: dict[str, Signature] = {}
        not_files: set[str] = set()
        for path, sig in _files(w.folder):
            rel = _relative(path, self.project.root)
            if w.patterns and not any(fnmatch.fnmatch(rel, p) for p in w.patterns):
                continue
            if sig is None:
                not_files.add(rel)
            else:
                present[rel] = sig
        for rel in sorted(not_files - w.not_files):
            log.warning(
                "%s: %s is a symbolic link or not a regular file: it starts no run and is "
                "not read; copy the file into the folder instead of linking it",
                w.pipeline,
                rel if rel.isprintable() else ascii(rel),  # no escape sequence to the terminal
            )
        w.not_files = not_files
        for gone in set(w.observed) - set(present):
            del w.observed[gone]
            w.handled.pop(gone, None)
        ready = {}
        for rel, sig in present.items():
            seen = w.observed.get(rel)
            if seen is None or seen[0] != sig:
                w.observed[rel] = (sig, now)
                if not self._first:
                    continue
            if w.handled.get(rel) == sig:
                continue
            if self._first or now - w.observed[rel][1] >= self.quiet:
                ready[rel] = sig
        return ready


def _patterns(sources: Iterable[object]) -> list[str]:
    out: list[str] = []
    for src in sources:
        if isinstance(src, FileSourceConfig):
            out.extend(p.replace(os.sep, "/").removeprefix("./") for p in src.paths)
    return out


def _files(folder: Path) -> Iterator[tuple[Path, Signature | None]]:
    """The files under ``folder`` and their signatures; None for what is not a
    regular file (a link, a FIFO): never followed, never read."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith(".") or entry.name.endswith(PARTIAL):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                yield from _files(Path(entry.path))
            elif entry.is_file(follow_symlinks=False):
                st = entry.stat(follow_symlinks=False)
                yield Path(entry.path), (st.st_size, st.st_mtime_ns)
            else:
                yield Path(entry.path), None
        except OSError:  # removed while we looked
            continue


def _relative(path: Path, root: Path) -> str:
    try:
        # the folder resolved, not the file: a link is named as itself, not its target
        return (path.parent.resolve() / path.name).relative_to(root.resolve()).as_posix()
    except ValueError:  # a watched folder outside the project
        return path.as_posix()


__all__ = ["FolderWatcher", "Submit", "Triggered"]
