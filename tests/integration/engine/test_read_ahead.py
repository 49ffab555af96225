"""Reading ahead of a destination that takes batches in bursts (DuckDB compresses what a
load wrote every ~600,000 rows, and takes nothing meanwhile): the engine goes on reading
and validating up to the destination's ``read_ahead_bytes`` of input."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from sluice.destinations.duckdb import DuckdbDestination
from sluice.engine.process import UnitProcessor

ROWS = 8000
BATCH_BYTES = 4096  # the smallest batch: ~160 rows, so the file is ~50 batches
PROJECT = """
warehouse: duckdb:///{warehouse}
pipelines:
  p:
    sources:
      s:
        type: file
        path: people.csv
        batch_bytes: {batch_bytes}
    table:
      name: people
      columns:
        id: {{type: integer, required: true}}
        name: string
"""


def test_a_duckdb_load_is_read_ahead_while_duckdb_holds_a_batch(
    make_project: Any, run_project: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stepped: list[int] = []
    step = UnitProcessor._step

    def counting(self: UnitProcessor, batch: Any) -> Any:
        stepped.append(batch.data.height)
        return step(self, batch)

    # DuckDB holding its first batch (as it does while it compresses): how far the
    # reading gets meanwhile. One batch ahead of it, the engine stops at 5 (each of its
    # threads and hand-offs holds one).
    seen_at_first: list[int] = []
    write = DuckdbDestination._write

    def holding(self: DuckdbDestination, *args: Any) -> int:
        if not seen_at_first:
            deadline = time.monotonic() + 10
            while len(stepped) < 20 and time.monotonic() < deadline:
                time.sleep(0.01)
            seen_at_first.append(len(stepped))
        return write(self, *args)

    monkeypatch.setattr(UnitProcessor, "_step", counting)
    monkeypatch.setattr(DuckdbDestination, "_write", holding)
    csv = "id,name\n" + "".join(f"{i},person number {i:05d}\n" for i in range(ROWS))
    root = make_project(
        PROJECT.format(warehouse=tmp_path / "w.duckdb", batch_bytes=BATCH_BYTES),
        {"people.csv": csv.encode()},
    )
    out = run_project(root)
    assert out.status == "succeeded"
    assert len(stepped) >= 40 and sum(stepped) == ROWS
    assert seen_at_first[0] >= 20
    assert out.counts("s").loaded == ROWS
