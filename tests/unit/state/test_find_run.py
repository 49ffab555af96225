"""A run id prefix that several runs share names them newest first, by start time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from sluice.errors import UsageError
from sluice.state.models import Run
from sluice.state.store import StateStore


def test_an_ambiguous_prefix_lists_the_newest_run_first_whatever_its_id(tmp_path: Path) -> None:
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        low, high = sorted(store.start_run("p") for _ in range(2))
        # The run with the smaller id started later: by id alone it would come last.
        later = datetime.now(UTC) + timedelta(seconds=5)
        with store.session() as s:
            s.execute(sa.update(Run).where(Run.id == low).values(started_at=later))
        with pytest.raises(UsageError) as found:
            store.find_run(low[:4])
        assert f"2 runs start with it: {low}, {high}" in found.value.message
        assert f"`sluice show {low}` (the newest)" in (found.value.hint or "")
        assert [r.id for r in store.runs("p")] == [low, high]  # as `sluice runs` lists them
    finally:
        store.close()
