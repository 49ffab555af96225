"""The cron scheduler: slots from cron, one run per slot, one catch-up run after downtime."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sluice.config import load_project
from sluice.errors import ProjectInvalid
from sluice.service.runtime.scheduler import Scheduler
from sluice.state.store import StateStore
from sluice.testing import WallClock

PROJECT = """\
    state: sqlite:///state.db
    pipelines:
      hourly:
        schedule: "0 * * * *"
        sources:
          s: {path: data/*.csv}
        table: {name: t, columns: {a: string}}
      quarter:
        schedule: "*/15 8-17 * * 1-5"
        sources:
          s: {path: data/*.csv}
        table: {name: q, columns: {a: string}}
      manual:
        sources:
          s: {path: data/*.csv}
        table: {name: m, columns: {a: string}}
"""


class Submits:
    """A submit callback that records calls; ``busy`` pipelines are refused (running)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.busy: set[str] = set()

    def __call__(self, pipeline: str, kind: str) -> str | None:
        self.calls.append((pipeline, kind))
        if pipeline in self.busy:
            return None
        return f"run-{len(self.calls)}"


@pytest.fixture(params=["sqlite", "postgresql"])
def project_dir(
    request: pytest.FixtureRequest,
    make_project: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """A project whose state store is SQLite, or PostgreSQL (SLUICE_STATE_URL)."""
    if request.param == "postgresql":
        monkeypatch.setenv("SLUICE_STATE_URL", request.getfixturevalue("pg_url"))
    else:
        monkeypatch.delenv("SLUICE_STATE_URL", raising=False)
    return make_project(PROJECT)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def scheduler(root: Path, clock: WallClock, submit: Submits) -> tuple[Scheduler, StateStore]:
    project = load_project(root)
    store = StateStore(project.state_url())
    return Scheduler(project, store, submit, clock=clock), store


def test_next_run_follows_the_cron_expression_in_utc(project_dir: Path) -> None:
    clock = WallClock(at("2026-03-06 09:20:05"))  # a Friday
    s, store = scheduler(project_dir, clock, Submits())
    assert s.next_run("hourly") == at("2026-03-06 10:00")
    assert s.next_run("quarter") == at("2026-03-06 09:30")
    assert s.next_run("manual") is None
    clock.now = at("2026-03-06 17:50")
    assert s.next_run("quarter") == at("2026-03-09 08:00")  # Monday morning
    store.close()


def test_a_tick_at_the_scheduled_minute_submits_once(project_dir: Path) -> None:
    clock, submits = WallClock(at("2026-03-07 09:58:00")), Submits()  # a Saturday: quarter idle
    s, store = scheduler(project_dir, clock, submits)
    assert s.tick() == []  # first sight: marks the schedule, nothing due yet
    clock.now = at("2026-03-07 09:59:59")
    assert s.tick() == []
    clock.now = at("2026-03-07 10:00:00")
    (fired,) = s.tick()
    assert (fired.pipeline, fired.slot, fired.outcome) == (
        "hourly",
        at("2026-03-07 10:00"),
        "submitted",
    )
    assert submits.calls == [("hourly", "schedule")]
    for seconds in (0.5, 1, 30, 59):  # more ticks within the same minute and after
        clock.now = at("2026-03-07 10:00:00") + timedelta(seconds=seconds)
        assert s.tick() == []
    assert len(submits.calls) == 1
    mark = store.schedule_mark("hourly")
    assert mark is not None
    assert (mark.last_slot, mark.outcome, mark.run_id) == (
        at("2026-03-07 10:00"),
        "submitted",
        "run-1",
    )
    clock.now = at("2026-03-07 11:00:01")
    assert [f.slot for f in s.tick()] == [at("2026-03-07 11:00")]
    assert len(submits.calls) == 2
    store.close()


def test_a_restart_after_missing_five_slots_runs_once(project_dir: Path) -> None:
    clock, submits = WallClock(at("2026-03-07 08:59:00")), Submits()
    first, store = scheduler(project_dir, clock, submits)
    first.tick()
    clock.now = at("2026-03-07 09:00:00")
    first.tick()
    assert submits.calls == [("hourly", "schedule")]
    store.close()  # the server goes down at 09:30 ...

    clock.now = at("2026-03-07 14:30:00")  # ... and comes back after 10:00 ... 14:00
    submits.calls.clear()
    second, store = scheduler(project_dir, clock, submits)
    assert second.next_run("hourly") == at("2026-03-07 10:00")  # overdue: due now
    (fired,) = second.tick()
    assert fired.slot == at("2026-03-07 14:00")  # the newest missed slot, once
    assert submits.calls == [("hourly", "schedule")]
    assert second.tick() == []
    assert second.next_run("hourly") == at("2026-03-07 15:00")
    assert len(submits.calls) == 1
    store.close()


def test_a_schedule_seen_for_the_first_time_does_not_run_for_past_slots(
    project_dir: Path,
) -> None:
    clock, submits = WallClock(at("2026-03-07 09:30:00")), Submits()
    s, store = scheduler(project_dir, clock, submits)
    assert s.tick() == []
    assert submits.calls == []
    store.close()


def test_a_running_pipeline_is_not_resubmitted_in_a_loop(project_dir: Path) -> None:
    clock, submits = WallClock(at("2026-03-07 09:59:00")), Submits()
    submits.busy.add("hourly")
    s, store = scheduler(project_dir, clock, submits)
    s.tick()
    clock.now = at("2026-03-07 10:00:00")
    (fired,) = s.tick()
    assert (fired.run_id, fired.outcome) == (None, "rejected")
    for seconds in range(1, 120, 7):  # the run goes on for two minutes
        clock.now = at("2026-03-07 10:00:00") + timedelta(seconds=seconds)
        assert s.tick() == []
    assert submits.calls == [("hourly", "schedule")]  # refused once, not retried
    mark = store.schedule_mark("hourly")
    assert mark is not None and mark.outcome == "rejected"
    submits.busy.clear()
    clock.now = at("2026-03-07 11:00:00")
    assert [f.outcome for f in s.tick()] == ["submitted"]  # the next slot runs
    store.close()


def test_two_schedulers_on_one_state_store_fire_a_slot_once(project_dir: Path) -> None:
    clock, submits = WallClock(at("2026-03-07 09:59:00")), Submits()
    a, store_a = scheduler(project_dir, clock, submits)
    b, store_b = scheduler(project_dir, clock, submits)
    a.tick()
    b.tick()
    clock.now = at("2026-03-07 10:00:10")
    assert len(a.tick()) + len(b.tick()) == 1
    assert submits.calls == [("hourly", "schedule")]
    store_a.close()
    store_b.close()


def test_a_changed_expression_starts_afresh(project_dir: Path) -> None:
    clock, submits = WallClock(at("2026-03-07 09:00:00")), Submits()
    s, store = scheduler(project_dir, clock, submits)
    s.tick()
    store.close()
    text = (project_dir / "sluice.yaml").read_text().replace('"0 * * * *"', '"30 6 * * *"')
    (project_dir / "sluice.yaml").write_text(text)
    clock.now = at("2026-03-07 12:00:00")  # 10:00 and 11:00 belong to the old schedule
    submits.calls.clear()
    s, store = scheduler(project_dir, clock, submits)
    assert s.tick() == []
    assert s.next_run("hourly") == at("2026-03-08 06:30")
    store.close()


def test_the_thread_ticks_at_start_and_stops(project_dir: Path) -> None:
    clock, submits = WallClock(at("2026-03-07 09:00:00")), Submits()
    s, store = scheduler(project_dir, clock, submits)
    s.tick()
    clock.now = at("2026-03-07 12:34:00")  # missed 10:00, 11:00, 12:00 while "down"
    s.interval = 0.01
    s.start()
    assert s.alive
    deadline = time.monotonic() + 5
    while not submits.calls and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)  # several more ticks
    s.stop()
    assert not s.alive
    assert submits.calls == [("hourly", "schedule")]
    store.close()


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ("61 * * * *", "out of range"),
        ("every hour", "needs 5 fields"),
        ("0 0 31 2 *", "never fires"),
        ("* * * * * *", "needs 5 fields"),
    ],
)
def test_a_bad_cron_expression_fails_config_loading(
    make_project: Callable[..., Path], expression: str, says: str
) -> None:
    root = make_project(PROJECT.replace('"0 * * * *"', f'"{expression}"'))
    with pytest.raises(ProjectInvalid) as caught:
        load_project(root)
    err = caught.value
    assert says in err.message
    assert expression in err.message
    assert err.where.line == 4
    assert err.where.key == "pipelines.hourly.schedule"


def test_cron_aliases_are_accepted(make_project: Callable[..., Path]) -> None:
    root = make_project(PROJECT.replace('"0 * * * *"', '"@daily"'))
    assert load_project(root).pipelines["hourly"].schedule == "@daily"
