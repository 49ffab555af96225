"""``GET /api/runs/{id}``'s body: a run that has ended is its final report (the one way a
stored run becomes a report), a run still going its report so far with its status now."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sluice.engine.report import RunReport, final_report
from sluice.service.schemas import RunDetail
from sluice.state.models import Run
from sluice.status import RunStatus

RUN_ID = "20260101T000000-abcdef"
ENDED = datetime(2026, 1, 1, 0, 1, tzinfo=UTC)


def _asked(run_id: str) -> dict[str, object] | None:
    raise AssertionError(f"an ended run's report is the stored one, not the executor's ({run_id})")


def test_an_ended_run_is_its_final_report_and_when_it_finished() -> None:
    report = RunReport(run_id=RUN_ID, pipeline="leads", table="leads", mode="append")
    report.stream("s").files.append(
        {"file": "a.csv", "load_id": 1, "read": 0, "loaded": 0, "quarantined": 0, "filtered": 0}
    )
    report.decide_status()
    # a cancel ended it after its report was written: the status is the run's now
    run = Run(id=RUN_ID, pipeline="leads", status="cancelled", report=report.as_dict())
    run.finished_at = ENDED
    doc = RunDetail.of(run, _asked).model_dump(mode="json")
    want = {**final_report(run).as_dict(), "finished_at": ENDED.isoformat()}
    assert json.dumps(doc) == json.dumps(want) and doc["status"] == "cancelled"

    bare = Run(id=RUN_ID, pipeline="leads", status="failed", finished_at=ENDED)
    detail = RunDetail.of(bare, _asked)  # ended without a report: one that names it
    assert (detail.run_id, detail.pipeline, detail.status) == (RUN_ID, "leads", RunStatus.FAILED)


def test_a_run_going_is_its_report_so_far_with_its_status_now() -> None:
    so_far = RunReport(run_id=RUN_ID, pipeline="leads")
    so_far.stream("s")
    run = Run(id=RUN_ID, pipeline="leads", status="cancelling")
    detail = RunDetail.of(run, lambda run_id: so_far.as_dict() if run_id == RUN_ID else None)
    assert (detail.status, detail.finished_at, list(detail.streams)) == (
        RunStatus.CANCELLING,
        None,
        ["s"],
    )
    queued = RunDetail.of(Run(id=RUN_ID, pipeline="leads", status="queued"), lambda _: None)
    assert (queued.run_id, queued.pipeline, queued.status) == (RUN_ID, "leads", RunStatus.QUEUED)
