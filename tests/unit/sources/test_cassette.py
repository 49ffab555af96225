"""Offline runs from a cassette recorded from the randomuser simulator (`sluice record`)."""

from __future__ import annotations

import shutil
from pathlib import Path

import vcr

from sluice.config import load_project
from sluice.engine import run_pipeline

HERE = Path(__file__).parents[2] / "cassettes"


def test_users_load_offline_from_the_recorded_cassette(tmp_path: Path, unset_urls: None) -> None:
    shutil.copy(HERE / "randomuser_project" / "sluice.yaml", tmp_path / "sluice.yaml")
    with vcr.use_cassette(str(HERE / "randomuser.yaml"), record_mode="none"):
        report = run_pipeline(load_project(tmp_path), "users")
    assert report.status == "succeeded", report.errors
    assert report.totals.read == report.totals.loaded == 40
    assert report.streams["randomuser"].http == {
        "requests": 2,
        "retries": 0,
        "statuses": {"200": 2},
        "max_concurrency": 1,
    }


def test_a_request_missing_from_the_cassette_fails_clearly(
    tmp_path: Path, unset_urls: None
) -> None:
    text = (HERE / "randomuser_project" / "sluice.yaml").read_text()
    (tmp_path / "sluice.yaml").write_text(text.replace("max_pages: 2", "max_pages: 3"))
    with vcr.use_cassette(str(HERE / "randomuser.yaml"), record_mode="none"):
        report = run_pipeline(load_project(tmp_path), "users")
    assert report.status == "failed"
    err = report.errors[0]
    assert "no recorded interaction matches" in err["message"]
    assert "page=3" in err["hint"]
