"""Rich rendering of runs: the end-of-run summary, lists of runs, a run's log (the
live progress is :mod:`sluice.cli.progress`).

Every value from input (file names, reasons, columns, cells) goes in through
:func:`~sluice.cli.terminal.safe`: markup and control characters escaped.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from sluice.cli.terminal import safe
from sluice.dburl import dialect_name
from sluice.status import RunStatus

if TYPE_CHECKING:  # the engine is imported by the commands that use it (start-up time)
    from sluice.engine.report import RunReport


STAGES = ("extract", "transform", "load")


def _wall(seconds: float, run_seconds: float) -> float:
    """A stream's seconds within the run's (a report of before ``elapsed`` summed its
    stages, which overlap)."""
    return min(seconds, run_seconds) if run_seconds > 0 else seconds


def summary(report: RunReport | Mapping[str, Any], warehouse_url: str | None = None) -> Group:
    """The table a user reads at the end of a run, and where to look next (from the
    report, or the document of one: a run's stored report)."""
    from sluice.engine.report import RunReport, listed_skips

    if not isinstance(report, RunReport):
        report = RunReport.model_validate(report)
    t = Table(
        title=f"run {report.run_id} · {report.pipeline} · {report.status}",
        title_justify="left",
    )
    for col in ("stream", "read", "loaded", "quarantined", "filtered", "files", "seconds"):
        # at 80 columns the numbers stay whole; a long stream name and the files' notes fold
        words = col in ("stream", "files")
        t.add_column(
            col,
            justify="left" if col == "stream" else "right",
            overflow="fold",
            no_wrap=not words,
            min_width=6 if words else None,
        )
    for name, s in report.streams.items():
        extra = []
        if s.quarantined_files:
            extra.append(f"{len(s.quarantined_files)} set aside")
        if s.skipped:
            extra.append(f"{s.skipped:,} skipped")
        shown = f"{len(s.files)}" + (f" ({', '.join(extra)})" if extra else "")
        c = s.counts
        t.add_row(
            name,
            f"{c.read:,}",
            f"{c.loaded:,}",
            f"{c.quarantined:,}",
            f"{c.filtered:,}",
            shown,
            f"{_wall(s.elapsed or sum(s.seconds.values()), report.seconds):.2f}",
        )
    tot = report.totals
    t.add_row(
        "[b]total",
        f"[b]{tot.read:,}",
        f"[b]{tot.loaded:,}",
        f"[b]{tot.quarantined:,}",
        f"[b]{tot.filtered:,}",
        "",
        f"[b]{report.seconds:.2f}",
    )
    parts: list[Any] = [t]
    notes: list[str] = []
    busy = {k: sum(s.seconds.get(k, 0.0) for s in report.streams.values()) for k in STAGES}
    if any(busy.values()):
        notes.append(
            "[dim]seconds: wall time; the stages overlap (busy: "
            + ", ".join(f"{k} {v:.2f}" for k, v in busy.items())
            + ")[/]"
        )
    if tot.filtered_by:
        notes.append(
            "filtered by rule: " + ", ".join(f"{k} ({v})" for k, v in tot.filtered_by.items())
        )
    for name, s in report.streams.items():
        http = s.http
        if http:
            codes = ", ".join(f"{k}: {v}" for k, v in http["statuses"].items())
            notes.append(
                f"{name}: {http['requests']:,} requests ({codes}), {http['retries']:,} retried, "
                f"up to {http['max_concurrency']} at once"
            )
        for q in s.quarantined_files:
            notes.append(f"[yellow]set aside[/] {safe(q['file'])} ({name}): {safe(q['reason'])}")
            if q["hint"]:
                notes.append(f"  [dim]hint:[/] {safe(q['hint'])}")
        for d in s.drift:  # loaded under `drift: evolve`
            notes.append(f"[yellow]drift[/] {safe(d['file'])} ({name}): {safe(d['note'])}")
        listed = listed_skips(s.skipped_files)
        for k in listed:
            notes.append(f"[dim]skipped {safe(k['file'])}: {safe(k['reason'])}[/]")
        unlisted = s.skipped - len(listed)
        if unlisted > 0:
            notes.append(f"[dim]and {unlisted:,} more skipped files ({name})[/]")
    for w in report.warnings:  # nothing failed, but the user should know
        notes.append(f"[yellow]warning[/] {safe(w['stream'])}: {safe(w['message'])}")
        if w["hint"]:
            notes.append(f"  [dim]hint:[/] {safe(w['hint'])}")
    for rule in report.rules:  # stated, so no default passes unnoticed
        notes.append(f"[dim]rule: {safe(rule)}[/]")
    for e in report.errors:
        where = ", ".join(f"{k} {v}" for k, v in (e.get("where") or {}).items())
        notes.append(
            f"[red]error:[/] {safe(e['message'])}" + (f" ({safe(where)})" if where else "")
        )
        if e.get("hint"):
            notes.append(f"  [dim]hint:[/] {safe(e['hint'])}")
    if tot.quarantined:
        notes.append(
            f"{tot.quarantined:,} row(s) quarantined with reasons: "
            f"[b]sluice quarantine list --run {report.run_id}[/]"
        )
    delivery = report.delivery
    if delivery is not None:
        codes = ", ".join(f"{k}: {v}" for k, v in delivery["statuses"].items())
        notes.append(
            f"delivered to {safe(report.destination)}: {delivery['requests']:,} POSTs "
            f"({codes}), {delivery['retries']:,} retried"
        )
        notes.append(f"prove it: [b]sluice audit {report.run_id}[/]")
        return Group(*parts, *map(line, notes))
    if report.status == RunStatus.FAILED:
        return Group(*parts, *map(line, notes))
    latest = report.mode == "snapshot"
    notes.append(
        f"data: {report.destination} table [b]{report.table}[/]"
        + (f" (newest load per source: [b]{report.table}_latest[/])" if latest else "")
    )
    notes.append(f"look at it: [b]sluice preview {safe(report.pipeline)}[/]")
    if warehouse_url and dialect_name(warehouse_url) == "sqlite":
        path = warehouse_url.split("sqlite:///", 1)[-1]
        rel = report.table + ("_latest" if latest else "")
        notes.append(f"  or: sqlite3 {safe(path)} 'SELECT * FROM {rel} LIMIT 10'")
    return Group(*parts, *map(line, notes))


#: below this many columns `sluice runs` folds its table (it is 125 wide unfolded)
WIDE = 126


def zoned(at: datetime, timespec: str = "seconds") -> str:
    """A time as ISO 8601 with its UTC offset (a time without a zone is UTC: the state
    store's SQLite keeps none)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.isoformat(timespec=timespec)


def line(markup: str) -> Text:
    """A line of output that is never wrapped (a terminal folds it for the eye, a copy
    keeps it whole): it may hold a command or a run id to paste."""
    text = Text.from_markup(markup, overflow="ignore")
    text.no_wrap = True
    return text


def runs_table(rows: list[dict[str, Any]], width: int) -> Table:
    """``sluice runs``: one line per run from ``WIDE`` columns up; in fewer (80...), two
    lines per run: its id over its start time, its pipeline and kind over its status,
    rows read over rows loaded. Ids and times are never wrapped."""
    if width >= WIDE:
        cols = list(rows[0]) if rows else ["run_id", "kind", "pipeline", "status", "started_at"]
        return rows_table("runs", cols, [tuple(r.values()) for r in rows])
    t = Table(
        title="runs",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        row_styles=["", "dim"],
    )
    t.add_column("run_id\nstarted", no_wrap=True)
    t.add_column("pipeline (kind)\nstatus", overflow="fold")
    t.add_column("read\nloaded", justify="right", no_wrap=True)
    t.add_column("quar.", justify="right", no_wrap=True)
    t.add_column("secs", justify="right", no_wrap=True)

    def n(v: Any) -> str:
        return "" if v is None else f"{v:,}"

    for r in rows:
        started = r["started_at"].replace("T", " ").replace("+00:00", " UTC")
        secs = "" if r["seconds"] is None else f"{r['seconds']:.1f}"
        t.add_row(
            f"{r['run_id']}\n{started}",
            f"{safe(r['pipeline'])} ({safe(r['kind'])})\n{safe(r['status'])}",
            f"{n(r['read'])}\n{n(r['loaded'])}",
            n(r["quarantined"]),
            secs,
        )
    return t


def log_lines(events: list[dict[str, Any]]) -> Group:
    """A run's log, one line per event (time with its zone, level, message), unwrapped."""
    out: list[Any] = ["log"]
    for e in events:
        out.append(line(f"{e['at']} {safe(e['level'])} {safe(e['message'])}"))
    return Group(*out)


def rows_table(title: str, columns: list[str], rows: list[tuple[Any, ...]]) -> Table:
    t = Table(title=title, title_justify="left")
    for c in columns:
        # ids and times are copied into the next command: never wrap them
        t.add_column(
            safe(c), overflow="fold", no_wrap=c in ("id", "run_id", "started_at", "at", "status")
        )
    for r in rows:  # a Text is laid out already (its lines made by sluice)
        t.add_row(*("" if v is None else v if isinstance(v, Text) else safe(str(v)) for v in r))
    return t


def records(title: str, columns: list[str], rows: list[tuple[Any, ...]]) -> Group:
    """One small column/value table per row: for tables too wide for the terminal."""
    out: list[Any] = [title]
    for i, r in enumerate(rows, start=1):
        t = Table(title=f"row {i}", title_justify="left", show_header=False, box=None)
        t.add_column(style="dim", no_wrap=True)
        t.add_column(overflow="fold")
        for c, v in zip(columns, r, strict=True):
            t.add_row(safe(c), "" if v is None else safe(str(v)))
        out.append(t)
    return Group(*out)
