"""The http destination and `sluice audit` against the animals simulator."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from sluice.config import load_project
from sluice.engine import run_pipeline
from sluice.engine.inspect.audit import audit
from sluice.sim import SimServer
from sluice.state.store import StateStore
from sluice.testing import processes, simulator

EXAMPLE = Path(__file__).parents[3] / "examples" / "animals"


def stats(url: str) -> dict[str, Any]:
    return dict(httpx.get(url + "/_sim/stats").json())


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copy(EXAMPLE / "sluice.yaml", tmp_path / "sluice.yaml")
    monkeypatch.delenv("SLUICE_STATE_URL", raising=False)
    return tmp_path


def serve(monkeypatch: pytest.MonkeyPatch, **knobs: Any) -> SimServer:
    server = simulator("animals", **{"seed": 3, "time_scale": 0.002, **knobs})
    monkeypatch.setenv("ANIMALS_API", server.url)
    return server


def audited(root: Path, run_id: str) -> Any:
    store = StateStore(load_project(root).state_url())
    try:
        return audit(store, run_id)
    finally:
        store.close()


def test_animals_with_default_chaos_delivered_exactly_once(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Default chaos: 10% of calls fail with 5xx, 5% pause (scaled down for the test).
    with serve(monkeypatch, n_animals=300) as server:
        report = run_pipeline(load_project(project), "animals")
        first = stats(server.url)
        again = run_pipeline(load_project(project), "animals")
        second = stats(server.url)
    assert report.status == "succeeded", report.errors
    assert first["errors_injected"] > 0 and first["pauses_injected"] > 0
    assert first["unique_ids"] == 300 and first["received_ids_count"] == 300
    assert first["duplicate_ids"] == [] and first["mismatched_ids"] == []
    assert report.totals.loaded == 300
    result = audited(project, report.run_id)
    assert result.ok and result.delivered_now == 300
    # A second run reads everything again and sends nothing: the ledger has it all.
    assert again.status == "succeeded"
    assert second["received_ids_count"] == 300
    assert again.totals.filtered_by == {"already delivered (ledger)": 300}
    assert audited(project, again.run_id).delivered_before == 300


def test_a_record_the_api_refuses_is_quarantined_and_the_rest_delivered(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (project / "sluice.yaml").read_text()
    text = text.replace(
        "born_at: {type: datetime, formats: [epoch_ms]}", "born_at: string"
    ).replace(
        "    table:\n",
        "    transforms:\n"
        "      - derive: {column: born_at, sql: \"CASE WHEN id = '7' THEN 'yesterday' END\"}\n"
        "    table:\n",
    )
    (project / "sluice.yaml").write_text(text)
    with serve(monkeypatch, n_animals=50, error_rate=0.0, pause_rate=0.0) as server:
        report = run_pipeline(load_project(project), "animals")
        got = stats(server.url)
    assert report.status == "succeeded_with_quarantine", report.errors
    assert got["unique_ids"] == 49
    c = report.totals
    assert (c.read, c.loaded, c.quarantined) == (50, 49, 1)
    store = StateStore(load_project(project).state_url())
    try:
        (entry,) = store.quarantined(pipeline="animals")
    finally:
        store.close()
    assert entry.payload is not None and entry.payload["id"] == "7"  # the row as read
    assert "born_at" in entry.reasons[0] and "refused" in entry.reasons[0]
    result = audited(project, report.run_id)
    assert result.ok and result.rejected == ["7"]


def test_an_api_that_refuses_every_post_fails_the_run_and_audit_says_so(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (project / "sluice.yaml").read_text()
    text = text.replace("/animals/v1/home", "/animals/v1/nowhere")
    text = text.replace("retry: {max_attempts: 10, backoff: 0.2, max_backoff: 10}\n", "", 1)
    (project / "sluice.yaml").write_text(text)
    with serve(monkeypatch, n_animals=20, error_rate=0.0, pause_rate=0.0):
        report = run_pipeline(load_project(project), "animals")
    assert report.status == "failed"
    (err,) = report.errors
    assert "delivery to" in err["message"] and "404" in err["message"]
    assert "run again" in err["hint"]
    result = audited(project, report.run_id)
    assert not result.ok and len(result.in_doubt) + len(result.missing) == 20


ANIMALS = 2_000


def test_killed_mid_delivery_then_rerun_delivers_the_rest_exactly_once(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Enough animals that the kill lands mid-delivery on a busy machine: with 400, all
    # 40 batches (8 in flight) were sometimes in before the signal was sent.
    text = (project / "sluice.yaml").read_text().replace("batch_size: 100", "batch_size: 10")
    (project / "sluice.yaml").write_text(text)
    with serve(
        monkeypatch, n_animals=ANIMALS, error_rate=0.0, pause_rate=0.0, latency=0.02
    ) as server:
        proc = processes.Popen(
            [sys.executable, "-m", "sluice", "run", "animals", "-p", str(project), "--json"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=os.environ.copy(),
        )
        try:
            deadline = time.monotonic() + 60
            while stats(server.url)["batches_received"] < 5:
                assert time.monotonic() < deadline, "delivery never started"
                assert proc.poll() is None, "the run ended before it could be killed"
                time.sleep(0.02)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
        partial = stats(server.url)
        store = StateStore(load_project(project).state_url())
        killed = store.runs("animals", 1)[0].id
        store.close()
        after_kill = audited(project, killed)
        rerun = run_pipeline(load_project(project), "animals")
        final = stats(server.url)
    assert 0 < partial["unique_ids"] < ANIMALS
    assert rerun.status == "succeeded", rerun.errors
    assert final["unique_ids"] == ANIMALS  # nothing lost
    # Nothing duplicated, except keys the ledger itself marks as in doubt: the API had
    # accepted their batch when the process died, before the ledger heard back.
    result = audited(project, rerun.run_id)
    doubtful = set(result.resent)
    assert {str(i) for i in final["duplicate_ids"]} <= doubtful
    assert len(doubtful) <= 10 * 2 * 8  # at most the batches that were in flight
    assert not result.missing and not result.duplicated
    assert not after_kill.ok and set(after_kill.in_doubt) == doubtful
    print(
        f"killed {killed}: {partial['unique_ids']} delivered before, {len(doubtful)} in doubt, "
        f"{len(final['duplicate_ids'])} received twice"
    )
