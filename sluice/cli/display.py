"""Rich rendering of runs: the live progress table and the end-of-run summary.

Every value from input (file names, reasons, columns, cells) goes in through
:func:`~sluice.cli.terminal.safe`: markup and control characters escaped.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from sluice.cli.terminal import safe
from sluice.dburl import dialect_name
from sluice.status import RunStatus

if TYPE_CHECKING:  # the engine is imported by the commands that use it (start-up time)
    from sluice.engine.report import RunReport


class LiveProgress:
    """Rows, rows/s and stage per stream, refreshed while the engine works."""

    def __init__(self, console: Console, streams: list[str]) -> None:
        self.console = console
        self.start = time.perf_counter()
        self.rows = dict.fromkeys(streams, 0)
        self.stage = dict.fromkeys(streams, "waiting")
        self.live = Live(self._render(), console=console, refresh_per_second=8, transient=True)

    def __enter__(self) -> LiveProgress:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.__exit__(None, None, None)

    def __call__(self, stream: str, stage: str, rows: int) -> None:
        self.rows[stream] = rows
        self.stage[stream] = stage
        self.live.update(self._render())

    def _render(self) -> Table:
        elapsed = max(time.perf_counter() - self.start, 1e-6)
        t = Table(title="running", title_justify="left", box=None)
        for col in ("stream", "stage", "rows", "rows/s"):
            t.add_column(col, justify="right" if col.startswith("rows") else "left")
        for s, n in self.rows.items():
            t.add_row(s, self.stage[s], f"{n:,}", f"{n / elapsed:,.0f}")
        return t


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
        t.add_column(col, justify="left" if col == "stream" else "right")
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
            f"{sum(s.seconds.values()):.2f}",
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
        return Group(*parts, *notes)
    if report.status == RunStatus.FAILED:
        return Group(*parts, *notes)
    latest = report.mode == "snapshot"
    notes.append(
        f"data: {report.destination} table [b]{report.table}[/]"
        + (f" (newest load per source: [b]{report.table}_latest[/])" if latest else "")
    )
    notes.append(f"look at it: [b]sluice preview {report.pipeline}[/]")
    if warehouse_url and dialect_name(warehouse_url) == "sqlite":
        path = warehouse_url.split("sqlite:///", 1)[-1]
        rel = report.table + ("_latest" if latest else "")
        notes.append(f"  or: sqlite3 {safe(path)} 'SELECT * FROM {rel} LIMIT 10'")
    return Group(*parts, *notes)


def rows_table(title: str, columns: list[str], rows: list[tuple[Any, ...]]) -> Table:
    t = Table(title=title, title_justify="left")
    for c in columns:
        # ids and times are copied into the next command: never wrap them
        t.add_column(safe(c), overflow="fold", no_wrap=c in ("id", "run_id", "started_at", "at"))
    for r in rows:
        t.add_row(*("" if v is None else safe(str(v)) for v in r))
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
