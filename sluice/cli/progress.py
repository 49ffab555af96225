"""Progress of ``sluice run`` while it goes: a live table on a terminal, a line (or a
JSON document) on stderr every few seconds elsewhere (CI logs, ``--json``, a pipe).

Per stream: its stage (``planning``: the run checks its files against the ledger;
``waiting``: another stream goes first; ``extract``: a unit opened, its first rows not read yet;
``load``: rows read, transformed and written at once; then ``merge``, ``replace`` or
``commit`` while the warehouse finishes; ``done``), its rows and rows/s, and, when the
sizes are known (files), the bytes read of the stream's files, the percent and an ETA
(of the file in progress when the run could not tell the others' sizes). The bytes are
the rows' in-memory size, an estimate of what they took of the file (within about 10%
on CSV), so a file's percent stops at 99 until every row is sent.

A run carried out elsewhere (on Celery workers) is told from its state store
(:meth:`Tracker.update`): its streams' stages, rows and bytes read (each running part
tells its own about once a second), and how many of their parts ended.

``SLUICE_PROGRESS_EVERY`` (seconds, default 5) sets how often a line is written.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from sluice.cli.options import ProgressMode as Mode
from sluice.cli.terminal import safe

EVERY = 5.0  # seconds between two lines without a terminal
FINISHING = frozenset({"merge", "replace", "commit", "done"})


@dataclass
class _Stream:
    stage: str = ""
    rows: int = 0
    rows_at: float = 0.0  # when its rows last grew
    began: float | None = None  # its first unit opened
    unit: str = ""
    unit_began: float = 0.0
    read: int = 0  # bytes of the unit in progress (an estimate)
    size: int = 0  # of the unit in progress; 0: not known
    total: int = 0  # bytes of every unit the stream will load; 0: not known
    before: int = 0  # bytes of its units that ended before the one in progress
    parts: int = 0  # a run told in parts (on Celery workers): how many; 0: not one
    parts_ended: int = 0


def clock(seconds: float) -> str:
    """``1:05``, ``1:02:03``."""
    s = int(seconds)
    h, rest = divmod(s, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def of(done: float, size: float, sep: str = " / ") -> str:
    """``45.3 / 178.1 MB``: the unit the size reads best in (kB, MB, GB)."""
    scale, unit = next(((f, u) for f, u in ((1e9, "GB"), (1e6, "MB")) if size >= f), (1e3, "kB"))
    return f"{done / scale:,.1f}{sep}{size / scale:,.1f} {unit}"


class Tracker:
    """What the engine tells a run's progress (``__call__`` and ``bytes_read``), and what
    a display shows of it (:meth:`snapshot`)."""

    def __init__(self, streams: list[str]) -> None:
        self.start = time.perf_counter()
        self.streams = {s: _Stream() for s in streams}
        self.lock = threading.Lock()

    def __call__(self, stream: str, stage: str, rows: int) -> None:
        now = time.perf_counter()
        with self.lock:
            s = self.streams.setdefault(stream, _Stream())
            first = s.began is None
            if first:
                s.began = now
            if stage == "extract":  # a new unit: the one before it has ended
                if not first:
                    s.before += s.size
                s.unit_began, s.read, s.size = now, 0, 0
            if rows != s.rows:
                s.rows_at = now
            s.stage, s.rows = stage, rows

    def bytes_read(self, stream: str, unit: str, read: int, size: int) -> None:
        with self.lock:
            s = self.streams.setdefault(stream, _Stream())
            s.unit, s.read, s.size = unit, read, size

    def update(
        self,
        stream: str,
        stage: str,
        rows: int,
        parts: tuple[int, int] | None = None,
        read: tuple[int, int] | None = None,
    ) -> None:
        """A stream as a run carried out elsewhere tells it (a snapshot, not an event):
        its stage (``queued``: not begun), rows so far, ``parts`` (ended, all) and
        ``read``: (bytes read, of the stream's bytes; 0: not known), its percent and
        ETA then over all of them, as :meth:`planned` makes them."""
        now = time.perf_counter()
        with self.lock:
            s = self.streams.setdefault(stream, _Stream())
            if s.began is None and stage != "queued":
                s.began = now
            if rows != s.rows:
                s.rows_at = now
            s.stage, s.rows = stage, rows
            if parts is not None:
                s.parts_ended, s.parts = parts
            if read is not None:  # one "unit": the whole stream
                s.read, s.size = read
                s.total, s.before, s.unit_began = s.size, 0, s.began or now

    def planned(self, stream: str, size: int) -> None:
        """The bytes of every unit ``stream`` will load (0: not known): its percent and
        ETA are then the stream's, over all its files."""
        with self.lock:
            self.streams.setdefault(stream, _Stream()).total = size

    def snapshot(self) -> list[dict[str, Any]]:
        """Per stream: stream, stage, rows, rows_per_s, elapsed (since it began); when
        its unit's size is known: unit (for a run in parts: none), bytes, size, percent and
        eta (seconds, or None); for a run in parts: parts_ended and parts."""
        now = time.perf_counter()
        out = []
        with self.lock:
            # before its first unit opens, a stream waits for the run to plan (hash its
            # files against the ledger), or for the streams before it
            idle = "waiting" if any(s.began for s in self.streams.values()) else "planning"
            for name, s in self.streams.items():
                elapsed = now - s.began if s.began is not None else 0.0
                # rows/s while rows came: a long merge after the last one does not lower it
                reading = s.rows_at - s.began if s.began is not None else 0.0
                doc: dict[str, Any] = {
                    "stream": name,
                    "stage": s.stage if s.began is not None else s.stage or idle,
                    "rows": s.rows,
                    "rows_per_s": round(s.rows / reading) if reading > 0 else 0,
                    "elapsed": round(elapsed, 1),
                }
                if s.size > 0:
                    finished = s.stage in FINISHING
                    done = s.size if finished else min(s.read, int(s.size * 0.99))
                    size, spent = s.size, now - s.unit_began
                    if s.total >= s.before + s.size:  # the stream's, over all its files
                        done, size = s.before + done, s.total
                        spent = elapsed
                    eta = None
                    going = not finished and s.stage != "failed"
                    if going and done > 0 and spent > 0:
                        eta = round((size - done) / (done / spent), 1)
                    if s.unit:  # none for a run told in parts: its bytes are the stream's
                        doc["unit"] = s.unit
                    doc.update(
                        bytes=done,
                        size=size,
                        percent=round(100 * done / size, 1),
                        eta=eta,
                    )
                if s.parts:
                    doc.update(parts_ended=s.parts_ended, parts=s.parts)
                out.append(doc)
        return out

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start


class LiveProgress(Tracker):
    """A live table on the terminal, redrawn four times a second (so the clock goes on
    while the warehouse merges or commits); fits 80 columns."""

    def __init__(self, console: Console, streams: list[str], title: str = "running") -> None:
        super().__init__(streams)
        self.title = title
        self.live = Live(
            console=console, get_renderable=self.render, refresh_per_second=4, transient=True
        )

    def __enter__(self) -> LiveProgress:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.__exit__(None, None, None)

    def render(self) -> Table:
        title = f"{printable(self.title)} · {clock(self.elapsed)}"
        t = Table(
            title=escape(title),
            title_justify="left",
            box=box.SIMPLE_HEAD,
            pad_edge=False,
            min_width=cell_len(title),  # a title wider than the columns, on one line
        )
        shown = self.snapshot()
        # a run in parts shows them (and its bytes only if some stream knows them)
        in_parts = any("parts" in s for s in shown)
        sized = not in_parts or any("size" in s for s in shown)
        t.add_column("stream", overflow="fold")
        t.add_column("stage", no_wrap=True)
        cols = ["rows", "rows/s"] + ["parts"] * in_parts + ["read", "%", "ETA"] * sized
        for col in cols:
            t.add_column(col, justify="right", no_wrap=True)
        for s in shown:
            cells = [f"{s['rows']:,}", f"{s['rows_per_s']:,}"]
            if in_parts:
                cells.append(f"{s['parts_ended']}/{s['parts']}" if "parts" in s else "")
            if sized:
                has = "size" in s
                cells += [
                    of(s["bytes"], s["size"]) if has else "",
                    f"{s['percent']:.0f}%" if has else "",
                    clock(s["eta"]) if has and s["eta"] is not None else "",
                ]
            t.add_row(safe(s["stream"]), s["stage"], *cells)
        return t


class ProgressLines(Tracker):
    """Without a terminal: every ``every`` seconds, one line per stream on stderr
    (``json``: one JSON document per stream, JSON Lines), and a last one at the end."""

    def __init__(self, streams: list[str], *, as_json: bool, every: float) -> None:
        super().__init__(streams)
        self.as_json, self.every = as_json, every
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="sluice-progress", daemon=True)

    def __enter__(self) -> ProgressLines:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        if self.as_json:  # where each stream ended (the summary says it in words)
            self.write()

    def _run(self) -> None:
        while not self.stop.wait(self.every):
            self.write()

    def write(self) -> None:
        elapsed = self.elapsed
        lines = []
        for s in self.snapshot():
            if s["stage"] in ("planning", "waiting"):
                continue
            if self.as_json:
                at = datetime.now(UTC).isoformat(timespec="milliseconds")
                doc = {"event": "progress", "ts": at, "run_elapsed": round(elapsed, 1), **s}
                lines.append(json.dumps(doc))
            else:
                lines.append(self.line(elapsed, s))
        if lines:
            with contextlib.suppress(OSError):  # a closed pipe: nothing to say
                sys.stderr.write("\n".join(lines) + "\n")
                sys.stderr.flush()

    @staticmethod
    def line(elapsed: float, s: dict[str, Any]) -> str:
        """``progress 0:10 source1: load, 460,000 rows, 46,000 rows/s, 82.0 of 178.1 MB
        (46%), ETA 0:12``."""
        text = (
            f"progress {clock(elapsed)} {printable(s['stream'])}: {s['stage']}, "
            f"{s['rows']:,} rows, {s['rows_per_s']:,} rows/s"
        )
        if "size" in s:
            text += f", {of(s['bytes'], s['size'], ' of ')} ({s['percent']:.0f}%)"
            if s["eta"] is not None:
                text += f", ETA {clock(s['eta'])}"
        if "parts" in s:
            text += f", {s['parts_ended']} of {s['parts']} part{'s' * (s['parts'] != 1)}"
        return text


def printable(text: str) -> str:
    from sluice.cli.terminal import printable as shown

    return shown(text, lines=False)


def every() -> float:
    try:
        return max(0.1, float(os.environ.get("SLUICE_PROGRESS_EVERY", EVERY)))
    except ValueError:
        return EVERY


@contextlib.contextmanager
def watching(
    mode: Mode, console: Console, streams: list[str], *, as_json: bool, title: str = "running"
) -> Iterator[Tracker | None]:
    """The progress display ``mode`` asks for (``auto``: live on a terminal without
    ``--json``, lines otherwise), around a run; None for ``none``. ``title``: the live
    table's."""
    if mode == Mode.auto:
        mode = Mode.live if console.is_terminal and not as_json else Mode.lines
    if mode == Mode.none:
        yield None
    elif mode == Mode.live:
        with LiveProgress(console, streams, title) as live:
            yield live
    else:
        with ProgressLines(streams, as_json=mode == Mode.json, every=every()) as lines:
            yield lines
