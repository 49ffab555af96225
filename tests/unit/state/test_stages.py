"""A stream's stages as a local run records them after each file: one transaction."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from sluice.engine.report import Counts
from sluice.engine.tally import record_stages
from sluice.state.store import StateStore


def test_a_files_three_stages_are_recorded_in_one_transaction_and_then_updated(
    tmp_path: Path,
) -> None:
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    commits: list[int] = []
    sa.event.listen(store.engine, "commit", lambda conn: commits.append(1))
    try:
        run_id = store.start_run("p")

        def recorded(counts: Counts, seconds: dict[str, float]) -> set[tuple[str, int, float]]:
            commits.clear()
            record_stages(store, run_id, "s", counts, seconds)
            assert len(commits) == 1
            return {(x.stage, x.rows, x.seconds) for x in store.stages(run_id)}

        first = Counts(read=10, loaded=7, quarantined=2, filtered=1)
        assert recorded(first, {"extract": 0.5, "load": 0.25}) == {
            ("extract", 10, 0.5),
            ("transform", 9, 0.0),
            ("load", 7, 0.25),
        }
        later = Counts(read=30, loaded=25, quarantined=3, filtered=2)
        assert recorded(later, {"extract": 1.0, "transform": 0.1}) == {
            ("extract", 30, 1.0),
            ("transform", 28, 0.1),
            ("load", 25, 0.0),
        }
        store.progress(run_id, "other", "extract", 5, 0.0)  # a stream of its own
        assert len(store.stages(run_id)) == 4
    finally:
        store.close()
