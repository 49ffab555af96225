"""Alerts to a real webhook on 127.0.0.1: retried through 503s, sent once, never raised."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from sluice.config import Retry, load_project
from sluice.engine import run_pipeline
from sluice.engine.report import RunReport
from sluice.service.runtime.alerts import Alerter
from sluice.state.store import StateStore
from sluice.testing import Capture, free_port

FAST = Retry(max_attempts=4, backoff=0.05, max_backoff=0.2)
SECRET = "T0001/B0002/s3cr3tT0k3n"

PROJECT = """\
    alerts:
      webhook: ${ALERT_HOOK}
      quarantine_threshold: 0.2
      base_url: https://sluice.example.org:8443/
    pipelines:
      healthy:
        sources:
          s: {path: good/*.csv}
        table: {name: good, columns: {a: string, b: integer}}
      messy:
        sources:
          s: {path: messy/*.csv}
        table: {name: messy, columns: {a: string, b: {type: integer, required: true}}}
      slightly_messy:
        sources:
          s: {path: slightly/*.csv}
        table: {name: slightly, columns: {a: string, b: {type: integer, required: true}}}
      broken:
        sources:
          s: {path: good/*.csv}
        transforms:
          - derive: {column: a, sql: "upper(nope)"}
        table: {name: broken, columns: {a: string, b: integer}}
"""
FILES = {
    "good/1.csv": "a,b\nx,1\ny,2\n",
    "messy/1.csv": "a,b\nx,1\ny,two\nz,\n",  # 2 of 3 rows quarantined
    "slightly/1.csv": "a,b\n" + "".join(f"r{i},{i}\n" for i in range(9)) + "bad,oops\n",  # 10%
}


@pytest.fixture
def webhook(capture: Capture) -> tuple[Capture, str]:
    """A Slack-like incoming webhook that answers 503 to the first two POSTs."""
    capture.answer(503, "busy", times=2)
    return capture, f"{capture.url}/services/{SECRET}"


@pytest.fixture
def project_dir(
    make_project: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, unset_urls: None
) -> Callable[[str], Path]:

    def make(hook_url: str) -> Path:
        monkeypatch.setenv("ALERT_HOOK", hook_url)
        return make_project(PROJECT, FILES)

    return make


def run(root: Path, pipeline: str) -> RunReport:
    return run_pipeline(load_project(root), pipeline)


def events(root: Path, run_id: str) -> list[tuple[str, str]]:
    store = StateStore(load_project(root).state_url())
    try:
        return [(e.level, e.message) for e in store.events(run_id)]
    finally:
        store.close()


def test_a_failed_run_alerts_once_through_two_503s(
    webhook: tuple[Capture, str], project_dir: Callable[[str], Path]
) -> None:
    hook, url = webhook
    root = project_dir(url)
    report = run(root, "broken")
    assert report.status == "failed"
    assert Alerter(load_project(root), retry=FAST).after_run(report) is True
    assert hook.attempts == 3  # 503, 503, delivered
    (msg,) = hook.received
    assert hook.paths == [f"/services/{SECRET}"]
    link = f"https://sluice.example.org:8443/runs/{report.run_id}"
    assert "broken" in msg["text"] and "failed" in msg["text"]
    assert link in msg["text"]
    assert 'unable to find column "nope"' in msg["text"]
    assert "Hint: columns available: a, b" in msg["text"]
    blocks = str(msg["blocks"])
    assert f"<{link}|Open run {report.run_id}>" in blocks
    assert "*Hint*: columns available: a, b" in blocks
    assert "*Where*: key transforms.0.derive" in blocks
    assert {b["type"] for b in msg["blocks"]} == {"header", "section"}
    # delivered: nothing about the alert in the run's log
    assert not [m for _, m in events(root, report.run_id) if "alert" in m]


def test_a_run_over_the_quarantine_threshold_alerts(
    webhook: tuple[Capture, str], project_dir: Callable[[str], Path]
) -> None:
    hook, url = webhook
    hook.answer(200, "ok")  # no 503s this time
    root = project_dir(url)
    report = run(root, "messy")
    assert report.status == "succeeded_with_quarantine"
    assert Alerter(load_project(root), retry=FAST).after_run(report.as_dict()) is True
    (msg,) = hook.received
    assert "67% of rows quarantined (threshold 20%)" in msg["text"]
    assert "read 3, loaded 1, quarantined 2, filtered 0" in msg["text"]


def test_a_healthy_run_and_a_run_under_the_threshold_do_not_alert(
    webhook: tuple[Capture, str], project_dir: Callable[[str], Path]
) -> None:
    hook, url = webhook
    root = project_dir(url)
    alerter = Alerter(load_project(root), retry=FAST)
    healthy = run(root, "healthy")
    assert healthy.status == "succeeded"
    assert alerter.after_run(healthy) is False
    slightly = run(root, "slightly_messy")
    assert slightly.status == "succeeded_with_quarantine"  # 10% < 20%
    assert alerter.after_run(slightly) is False
    assert hook.attempts == 0


def test_an_unreachable_webhook_is_logged_to_the_run_not_raised(
    project_dir: Callable[[str], Path], caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()  # nobody listens on it
    url = f"http://127.0.0.1:{port}/services/{SECRET}"
    root = project_dir(url)
    report = run(root, "broken")
    with caplog.at_level(logging.DEBUG, logger="sluice.alerts"):
        assert Alerter(load_project(root), retry=FAST).after_run(report) is False
    logged = events(root, report.run_id)
    (warning,) = [(lvl, m) for lvl, m in logged if "alert" in m]
    assert warning[0] == "warning"
    assert "alert not delivered to alerts.webhook" in warning[1]
    assert "ConnectError" in warning[1] and "after 4 attempts" in warning[1]
    everything = " ".join(m for _, m in logged) + caplog.text
    assert SECRET not in everything and f"127.0.0.1:{port}" not in everything


def test_a_webhook_that_refuses_for_good_is_not_retried(
    project_dir: Callable[[str], Path],
) -> None:
    with Capture() as hook:
        hook.answer(403, "invalid_token")
        root = project_dir(f"{hook.url}/services/{SECRET}")
        report = run(root, "broken")
        assert Alerter(load_project(root), retry=FAST).after_run(report) is False
    assert hook.attempts == 1
    (message,) = [m for _, m in events(root, report.run_id) if "alert" in m]
    assert "HTTP 403: invalid_token" in message and SECRET not in message


def test_no_webhook_no_alert(make_project: Callable[..., Path]) -> None:
    root = make_project(PROJECT.replace("webhook: ${ALERT_HOOK}", "webhook: null"), FILES)
    report = run(root, "broken")
    assert Alerter(load_project(root)).after_run(report) is False
