"""The run report as a model: its document, read back; errors typed by their class."""

from __future__ import annotations

import json

from sluice.engine import tally
from sluice.engine.report import Counts, ReportHead, RunReport, error_of, final_report
from sluice.errors import (
    ErrorRecord,
    LimitExceeded,
    RetryableLoadError,
    RunCancelled,
    SluiceError,
    Where,
)
from sluice.executors.parts import retryable
from sluice.httpclient import HttpStats
from sluice.httpclient.stats import summed
from sluice.state.models import Run
from sluice.status import RunStatus


def _report() -> RunReport:
    report = RunReport(
        run_id="20260101T000000-abcdef",
        pipeline="leads",
        table="leads",
        destination="postgresql://u:secret@db/warehouse",
        mode="append",
        started_at="2026-01-01T00:00:00+00:00",
        rules=["%y: a century"],
    )
    stream = report.stream("source1")
    stream.counts.add(Counts(read=5, loaded=3, quarantined=1, filtered=1, filtered_by={"x": 1}))
    stream.files.append(
        {"file": "a.csv", "load_id": 1, "read": 5, "loaded": 3, "quarantined": 1, "filtered": 1}
    )
    stream.quarantined_files.append(
        {"file": "b.csv", "reason": "drift", "hint": None, "load_id": 2}
    )
    stream.skipped_files += [{"file": f"{i}.csv", "reason": "already loaded"} for i in range(12)]
    stream.http = {"requests": 3, "retries": 1, "statuses": {"200": 3}, "max_concurrency": 2}
    # a drift entry has only the lists it needs, between its file and its note
    stream.drift.append({"file": "c.csv", "missing": ["phone"], "note": "no column for phone"})
    report.warnings.append({"stream": "source1", "message": "no file matched", "hint": None})
    report.tables["leads"] = 3
    report.seconds = 1.23456
    return report


def test_the_document_reads_back_as_the_same_report() -> None:
    report = _report()
    report.decide_status()
    doc = report.as_dict()
    assert json.dumps(RunReport.model_validate(doc).as_dict()) == json.dumps(doc)
    assert list(doc) == [
        "run_id",
        "kind",
        "pipeline",
        "status",
        "table",
        "destination",
        "mode",
        "started_at",
        "seconds",
        "totals",
        "streams",
        "errors",
        "warnings",
        "tables",
        "rules",
    ]
    assert doc["status"] == "succeeded_with_quarantine" and doc["seconds"] == 1.235
    assert "secret" not in json.dumps(doc)  # URLs' secrets masked
    stream = doc["streams"]["source1"]
    assert (stream["read"], stream["skipped"], len(stream["skipped_files"])) == (5, 12, 10)
    assert doc["totals"] == {
        "read": 5,
        "loaded": 3,
        "quarantined": 1,
        "filtered": 1,
        "filtered_by": {"x": 1},
        "quarantined_files": 1,
    }
    back = RunReport.model_validate(doc)
    assert back.stream("source1").counts.balanced and back.stream("source1").skipped_more == 2


def test_errors_say_from_their_type_whether_to_try_again_and_whether_cancelled() -> None:
    assert RetryableLoadError("dropped").as_dict()["retryable"] is True
    assert LimitExceeded("too many columns").as_dict()["retryable"] is False
    assert RunCancelled("stop").as_dict()["cancelled"] is True
    plain = SluiceError("x").as_dict()
    assert (plain["retryable"], plain["cancelled"]) == (False, False)

    part = RunReport()
    part.fail(RetryableLoadError("dropped"))
    assert retryable(part) and part.decide_status() == RunStatus.FAILED
    part.fail(LimitExceeded("too many columns"))
    assert not retryable(part)  # one permanent error: trying again does not help

    cancelled = RunReport()
    cancelled.fail(RunCancelled("stop"))
    assert cancelled.decide_status() == RunStatus.CANCELLED


def test_error_records_read_back_with_the_keys_they_were_written_with() -> None:
    report = RunReport()
    report.fail(SluiceError("bad", hint="fix it", where=Where(file="a.csv", line=3)), "s1")
    report.errors.append({**RetryableLoadError("dropped").as_dict(), "part": "s1/p000001"})
    report.errors.append(error_of(ValueError("oops")))
    old: ErrorRecord = {"type": "LoadError", "message": "written before retryable was"}
    report.errors.append(old)
    doc = report.as_dict()
    assert doc["errors"] == [
        {
            "type": "SluiceError",
            "message": "bad",
            "hint": "fix it",
            "where": {"file": "a.csv", "line": 3},
            "retryable": False,
            "cancelled": False,
            "stream": "s1",
        },
        {
            "type": "RetryableLoadError",
            "message": "dropped",
            "retryable": True,
            "cancelled": False,
            "part": "s1/p000001",
        },
        {
            "type": "ValueError",
            "message": "oops",
            "hint": "this is a bug in sluice; please report it",
            "retryable": False,
            "cancelled": False,
        },
        {"type": "LoadError", "message": "written before retryable was"},
    ]
    assert RunReport.model_validate(doc).as_dict()["errors"] == doc["errors"]


def test_the_head_of_a_report_is_read_under_the_names_of_its_document() -> None:
    report = _report()
    doc = report.as_dict()
    assert set(ReportHead.model_fields) <= set(doc)
    head = ReportHead.model_validate(doc)
    assert head.model_dump() == {k: doc[k] for k in ReportHead.model_fields}
    assert ReportHead.model_validate({"run_id": "x", "errors": []}) == ReportHead()


def test_a_units_staged_counts_read_back_as_its_counts() -> None:
    counts = Counts(read=5, loaded=3, quarantined=1, filtered=1, filtered_by={"x": 1})
    staged = tally.staged(counts, cursor="2026-01-01")
    assert staged == {**tally.as_dict(counts), "filtered_by": {"x": 1}, "cursor": "2026-01-01"}
    assert tally.unstaged(staged) == counts  # the cursor is not a count
    assert tally.unstaged({}) == Counts()


def test_an_ended_run_reads_back_as_its_report_with_its_status_now() -> None:
    report = _report()
    report.decide_status()
    doc = report.as_dict()
    # a cancel ended it after its report was written
    run = Run(id=report.run_id, pipeline="leads", status=RunStatus.CANCELLED, report=doc)
    back = final_report(run)
    assert back.status == RunStatus.CANCELLED
    assert json.dumps(back.as_dict()) == json.dumps({**doc, "status": "cancelled"})
    bare = final_report(Run(id="20260101T000000-abcdef", pipeline="leads", status="failed"))
    assert (bare.run_id, bare.pipeline, bare.status) == (run.id, "leads", RunStatus.FAILED)


def test_http_counts_read_back_with_the_keys_in_the_order_they_were_written() -> None:
    stats = HttpStats(requests=4, retries=1, statuses={"503": 1, "200": 3}, max_concurrency=2)
    report = _report()
    report.stream("source1").http = stats.as_dict()
    report.delivery = HttpStats(requests=2, statuses={"200": 2}, max_concurrency=1).as_dict()
    doc = report.as_dict()
    keys = ["requests", "retries", "statuses", "max_concurrency"]
    assert list(doc["streams"]["source1"]["http"]) == keys and list(doc["delivery"]) == keys
    assert doc["streams"]["source1"]["http"]["statuses"] == {"200": 3, "503": 1}
    assert list(doc)[-1] == "delivery"  # after tables and rules, as it always was
    # a report stored by an older sluice is read back as it was written
    stored = json.loads(json.dumps(doc))
    assert json.dumps(RunReport.model_validate(stored).as_dict()) == json.dumps(doc)
    # two parts' counts: numbers added, statuses merged (the first part's first)
    both = summed(stats.as_dict(), {**stats.as_dict(), "statuses": {"429": 2, "200": 1}})
    assert both == {
        "requests": 8,
        "retries": 2,
        "statuses": {"200": 4, "503": 1, "429": 2},
        "max_concurrency": 4,
    }
    assert list(both) == keys and summed(None, both) == both
