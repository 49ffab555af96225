"""Rows an HTTP destination did not deliver, quarantined as they were read.

The API answers after the rows left the pipeline, so each unit's processor keeps its
delivered rows' raw fields (PII policies applied, as for any quarantine payload) in a
spool on disk until the load ends, and the frames sent carry each row's line, tagged
with its unit's place in the load (:func:`tag`); the destination strips it from what
it posts and hands it back with each refusal. A refused row is then quarantined with
its raw fields, so a replay runs it through the pipeline's current transforms, not
the record it was turned into.
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from sluice.batch import LINE
from sluice.destinations import LoadResult
from sluice.dtypes import json_ready

if TYPE_CHECKING:
    from sluice.engine.process import UnitProcessor

ALREADY_DELIVERED = "already delivered (ledger)"
SHIFT = 40  # lines of one unit stay below 2**40; the unit's place in the load goes above
LINES = (1 << SHIFT) - 1


class RawSpool:
    """Raw rows by line, on disk (Arrow IPC, one file per batch) until taken."""

    def __init__(self) -> None:
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._parts: list[tuple[Path, int, int]] = []

    def add(self, rows: pl.DataFrame) -> None:
        if not rows.height:
            return
        if self._dir is None:
            self._dir = tempfile.TemporaryDirectory(prefix="sluice-raw-")
        path = Path(self._dir.name) / f"{len(self._parts)}.arrow"
        rows.write_ipc(path)
        lines = rows.get_column(LINE)
        self._parts.append((path, int(lines.min()), int(lines.max())))  # type: ignore[arg-type]

    def take(self, lines: list[int]) -> dict[int, dict[str, Any]]:
        """The raw fields of each of ``lines`` (by line)."""
        found: dict[int, dict[str, Any]] = {}
        for path, low, high in self._parts:
            wanted = [n for n in lines if low <= n <= high]
            if not wanted:
                continue
            # JSON text for a typed source's values (a quarantine payload is JSON)
            part = json_ready(pl.scan_ipc(path).filter(pl.col(LINE).is_in(wanted)).collect())
            for rec in part.iter_rows(named=True):
                found[int(rec.pop(LINE))] = rec
        return found

    def close(self) -> None:
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None
        self._parts = []


def tag(rows: pl.DataFrame, index: int) -> pl.DataFrame:
    """A unit's frame with its place in the load above its lines."""
    return rows.with_columns(pl.col(LINE) + (index << SHIFT)) if index else rows


def apply(result: LoadResult, procs: list[UnitProcessor]) -> None:
    """Count and quarantine what the destination did not deliver now: rows it refused
    (quarantined with its answer and their raw fields) and rows already delivered by an
    earlier run (filtered by the ledger), each against its own unit's counts."""
    refused: dict[int, list[tuple[int | None, dict[str, Any], str]]] = defaultdict(list)
    for record, why in result.rejected:
        tagged = record.get(LINE)
        if tagged is None:  # a destination that does not say: the first unit
            refused[0].append((None, record, why))
        else:
            refused[int(tagged) >> SHIFT].append((int(tagged) & LINES, record, why))
    for index, items in refused.items():
        proc = procs[index]
        proc.counts.loaded -= len(items)
        proc.counts.quarantined += len(items)
        proc.write_quarantine(proc.refused(items))
    skipped = result.skipped
    for proc in procs:  # how many, not which: earlier units first
        c = proc.counts
        take = min(skipped, c.loaded)
        if take:
            c.loaded -= take
            c.filtered += take
            c.filtered_by[ALREADY_DELIVERED] = c.filtered_by.get(ALREADY_DELIVERED, 0) + take
            skipped -= take
    for proc in procs:
        proc.drop_raw()
