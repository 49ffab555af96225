"""The leads example end to end: counts, drift to quarantine, fix, replay exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from sluice.config import load_project
from sluice.destinations import connect
from sluice.destinations.sql import SqlDestination
from sluice.engine import run_pipeline
from sluice.engine.replay import replay
from sluice.state.store import StateStore
from sluice.testing import copy_example

EXPECTED = {  # stream: (read, loaded, quarantined, filtered)
    "source1": (29, 20, 5, 4),
    "source2": (18, 15, 3, 0),
    "source3": (20, 19, 1, 0),
}
DRIFTED = "data/source2/leads_2026-11-15.csv"


@pytest.fixture(params=["sqlite", "postgresql"])
def leads(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "leads"
    copy_example("leads", root)
    if request.param == "postgresql":
        monkeypatch.setenv("SLUICE_WAREHOUSE_URL", request.getfixturevalue("pg_url"))
    else:
        monkeypatch.delenv("SLUICE_WAREHOUSE_URL", raising=False)
    monkeypatch.delenv("SLUICE_STATE_URL", raising=False)
    return root


def fix_mapping(root: Path) -> None:
    text = (root / "sluice.yaml").read_text()
    text = text.replace(
        "phone: [phone number, telephone]", "phone: [phone number, telephone, contact phone]"
    )
    text = text.replace(
        'csv: {delimiter: ";", encoding: latin-1}',
        'csv: {delimiter: ";", encoding: latin-1}\n        ignore: [website]',
    )
    (root / "sluice.yaml").write_text(text)


def count(root: Path, sql: str) -> list[tuple[object, ...]]:
    project = load_project(root)
    dest = connect(project.warehouse_url())
    assert isinstance(dest, SqlDestination)
    try:
        with dest.engine.connect() as c:
            return [tuple(r) for r in c.execute(sa.text(sql))]
    finally:
        dest.close()


def test_leads_counts_drift_fix_and_replay_exactly_once(leads: Path) -> None:
    report = run_pipeline(load_project(leads), "leads")
    assert report.status == "succeeded_with_quarantine"
    for stream, (read, loaded, quarantined, filtered) in EXPECTED.items():
        c = report.streams[stream].counts
        assert (c.read, c.loaded, c.quarantined, c.filtered) == (
            read,
            loaded,
            quarantined,
            filtered,
        )
    (aside,) = report.streams["source2"].quarantined_files
    assert aside["file"] == DRIFTED

    store = StateStore(load_project(leads).state_url())
    (entry,) = store.quarantined(status="open", ids=None, pipeline="leads")[-1:]
    files = [e for e in store.quarantined(pipeline="leads") if e.kind == "file"]
    assert len(files) == 1
    assert files[0].payload["diff"] == {
        "missing": ["phone"],
        "unexpected": ["contact_phone", "website"],
    }
    assert entry is not None

    # Replaying before the fix changes nothing: the file is still drifted.
    (before,) = replay(load_project(leads), ids=[files[0].id])
    assert before.totals.loaded == 0
    assert count(leads, "SELECT COUNT(*) FROM leads") == [(54,)]

    fix_mapping(leads)
    (fixed,) = replay(load_project(leads), ids=[files[0].id])
    assert fixed.streams["source2"].counts.loaded == 12
    assert count(leads, "SELECT COUNT(*) FROM leads") == [(66,)]
    latest = count(leads, 'SELECT "_source", COUNT(*) FROM leads_latest GROUP BY 1 ORDER BY 1')
    assert latest == [("source1", 20), ("source2", 12), ("source3", 19)]

    # Exactly once: neither a second replay nor a new run loads it again.
    assert replay(load_project(leads), ids=None)[0].totals.loaded == 0
    again = run_pipeline(load_project(leads), "leads")
    assert again.totals.loaded == 0 and again.status == "succeeded"
    assert sum(len(s.skipped_files) for s in again.streams.values()) == 4
    assert count(leads, "SELECT COUNT(*) FROM leads") == [(66,)]
    store.close()


def test_full_refresh_loads_every_file_again_as_new_snapshots(leads: Path) -> None:
    fix_mapping(leads)
    first = run_pipeline(load_project(leads), "leads")
    assert first.status == "succeeded_with_quarantine" and first.totals.loaded == 66
    refreshed = run_pipeline(load_project(leads), "leads", full_refresh=True)
    assert refreshed.totals.loaded == 66
    assert count(leads, "SELECT COUNT(*) FROM leads") == [(132,)]
    assert count(leads, "SELECT COUNT(*) FROM leads_latest") == [(66 - 15,)]  # source2: newest drop


def test_source_and_file_options_pick_what_runs(leads: Path) -> None:
    project = load_project(leads)
    only = run_pipeline(project, "leads", source="source3")
    assert list(s for s, r in only.streams.items() if r.counts.read) == ["source3"]
    one = run_pipeline(
        load_project(leads),
        "leads",
        source="source1",
        file=str(leads / "data/source1/leads_2026-11-01.csv"),
    )
    assert one.streams["source1"].counts.loaded == 20


@pytest.mark.parametrize("mode", ["snapshot", "merge"])
def test_the_live_display_names_what_follows_the_last_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """Once every row is sent, the stream says what the warehouse is doing (a merge into
    a large table can take long) instead of staying on "load"."""
    root = tmp_path / "leads"
    copy_example("leads", root)
    monkeypatch.delenv("SLUICE_WAREHOUSE_URL", raising=False)
    monkeypatch.delenv("SLUICE_STATE_URL", raising=False)
    if mode == "merge":
        text = (root / "sluice.yaml").read_text()
        text = text.replace("mode: snapshot", "mode: merge")
        text = text.replace("name: leads\n", "name: leads\n      keys: [license_number]\n")
        (root / "sluice.yaml").write_text(text)
    seen: list[tuple[str, str, int]] = []
    run_pipeline(load_project(root), "leads", progress=lambda *at: seen.append(at))
    stages = [stage for stream, stage, _ in seen if stream == "source1"]
    finishing = "merge" if mode == "merge" else "commit"
    assert stages[-2:] == [finishing, "done"], stages
    assert stages[0] == "extract"  # the file opened, its first rows not yet read
    assert set(stages[1:-2]) == {"load"}
    (rows,) = {n for stream, stage, n in seen if stream == "source1" and stage == finishing}
    assert rows == EXPECTED["source1"][0]
