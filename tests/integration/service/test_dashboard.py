"""The dashboard over HTTP: sign-in, each page, roles, CSRF, and the standalone report."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sluice.config import load_project
from sluice.service import create_app
from sluice.service.dashboard import charts, data, pages
from sluice.sources.csv_footer import SUBTOTAL, TOTALS, footer_reason
from sluice.testing import Gate
from tests.support.service import OP, OPERATOR, VIEWER, settings, wait

CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


def sign_in(client: TestClient, token: str) -> str:
    """Sign in through the form; the CSRF token the pages put in their forms."""
    r = client.post("/signin", data={"token": token, "next": "/"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    page = client.get("/")
    assert page.status_code == 200
    found = CSRF.search(page.text)
    assert found and found.group(1)
    return found.group(1)


@pytest.fixture
def finished_run(client: TestClient) -> str:
    run_id: str = client.post("/api/pipelines/leads/runs", headers=OP).json()["run_id"]
    assert wait(client, run_id)["status"] == "succeeded_with_quarantine"
    return run_id


PAGES = [
    "/",
    "/pipelines/leads",
    "/pipelines/leads/data",
    "/quarantine",
    "/quarantine?pipeline=leads",
    "/quarantine?pipeline=leads&status=all",
    "/runs/{run}",
    "/runs/{run}/live",
    "/runs/{run}/report.html",
]


def test_unauthenticated_pages_redirect_to_sign_in(client: TestClient, finished_run: str) -> None:
    # Every page in one test: each page's case took a run of its own (a worker process).
    for path in PAGES:
        r = client.get(path.format(run=finished_run), follow_redirects=False)
        assert r.status_code == 303, path
        assert r.headers["location"].startswith("/signin?next=/"), path


def test_a_wrong_token_does_not_sign_in(client: TestClient) -> None:
    r = client.post("/signin", data={"token": "x" * 30}, follow_redirects=False)
    assert r.status_code == 401 and "unknown token" in r.text
    assert "sluice_session" not in r.cookies
    assert client.get("/", follow_redirects=False).status_code == 303


def test_sign_in_goes_back_only_to_a_local_page(client: TestClient) -> None:
    for target, expected in [("/quarantine", "/quarantine"), ("https://evil.example/", "/")]:
        r = client.post("/signin", data={"token": VIEWER, "next": target}, follow_redirects=False)
        assert r.headers["location"] == expected


def test_operator_sees_every_page_and_the_buttons(client: TestClient, finished_run: str) -> None:
    sign_in(client, OPERATOR)
    overview = client.get("/").text
    assert 'data-pipeline="leads"' in overview and "Trigger" in overview
    assert "succeeded with quarantine" in overview and "not scheduled" in overview
    assert "<svg" in overview  # trends drawn on the server

    pipeline = client.get("/pipelines/leads").text
    assert "rows loaded per run" in pipeline and "duration per run" in pipeline
    assert finished_run in pipeline

    run = client.get(f"/runs/{finished_run}").text
    assert "read 67 = loaded 54 + quarantined 9 + filtered 4" in run
    assert 'data-identity="balanced"' in run
    for stage in ("extract", "transform", "load"):
        assert stage in run
    assert "hx-trigger" not in run  # finished: the page does not poll
    assert "Cancel" not in run
    assert "test records" in run  # a filter rule with its count
    assert "regex" in run and "required" in run  # data-quality rules that failed

    quarantine = client.get("/quarantine?pipeline=leads").text
    assert quarantine.count("data-entry=") == 10  # 9 rows and 1 drifted file
    assert "columns drifted" in quarantine and "Replay" in quarantine

    dataset = client.get("/pipelines/leads/data").text
    assert "leads_latest" in dataset and "_load_id" in dataset


def test_viewer_sees_everything_but_no_trigger_cancel_or_replay(
    client: TestClient, finished_run: str
) -> None:
    csrf = sign_in(client, VIEWER)
    for path in PAGES:
        r = client.get(path.format(run=finished_run))
        assert r.status_code == 200, path
        for button in (">Trigger<", ">Replay", ">Cancel<"):
            assert button not in r.text, (path, button)
    r = client.post("/pipelines/leads/trigger", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 403


def test_a_form_post_without_its_csrf_token_is_refused(client: TestClient) -> None:
    csrf = sign_in(client, OPERATOR)
    assert client.post("/pipelines/leads/trigger", follow_redirects=False).status_code == 403
    # Its first character changed: a token that starts with "x" gets a "y".
    wrong = {"csrf_token": ("y" if csrf.startswith("x") else "x") + csrf[1:]}
    r = client.post("/pipelines/leads/trigger", data=wrong, follow_redirects=False)
    assert r.status_code == 403
    r = client.post("/quarantine/replay", data={"pipeline": "leads"}, follow_redirects=False)
    assert r.status_code == 403
    assert client.post("/signout", follow_redirects=False).status_code == 403
    assert client.get("/api/runs", headers=OP).json()["runs"] == []  # nothing ran


def test_trigger_replay_and_sign_out_through_the_forms(client: TestClient, leads: Path) -> None:
    csrf = sign_in(client, OPERATOR)
    r = client.post("/pipelines/leads/trigger", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    run_id = r.headers["location"].rsplit("/", 1)[1]
    assert wait(client, run_id)["status"] == "succeeded_with_quarantine"

    entry = next(e for e in client.get("/api/quarantine", headers=OP).json() if e["kind"] == "row")
    r = client.post(
        "/quarantine/replay", data={"csrf_token": csrf, "id": entry["id"]}, follow_redirects=False
    )
    assert r.status_code == 303
    replay_id = r.headers["location"].rsplit("/", 1)[1]
    assert wait(client, replay_id)["kind"] == "replay"
    assert "replay of" in client.get(f"/runs/{replay_id}").text

    r = client.post("/signout", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 303


def chosen(html: str, select: str) -> list[str]:
    """The values a page's ``<select name=...>`` has selected."""
    found = re.search(rf'<select name="{select}">(.*?)</select>', html, re.DOTALL)
    assert found, select
    return re.findall(r'<option value="([^"]*)" selected>', found.group(1))


def test_the_quarantine_filter_keeps_its_values_and_offers_replay_all(
    client: TestClient, finished_run: str
) -> None:
    csrf = sign_in(client, OPERATOR)
    page = client.get("/quarantine?pipeline=leads").text
    assert chosen(page, "status") == ["open"] and chosen(page, "pipeline") == ["leads"]
    replay_all = re.search(r'<div class="actions" id="replay-all".*?</form>', page, re.DOTALL)
    assert replay_all, "no Replay all button"
    form = replay_all.group(0)
    assert re.search(r'action="[^"]*/quarantine/replay"', form)
    assert ">Replay all open entries of leads<" in form
    assert f'name="csrf_token" value="{csrf}"' in form
    assert 'name="pipeline" value="leads"' in form
    # Without a pipeline (or with nothing open) there is nothing to replay all of.
    assert 'id="replay-all"' not in client.get("/quarantine").text
    assert 'id="replay-all"' not in client.get("/quarantine?pipeline=leads&status=all").text

    assert "superseded" in pages.QUARANTINE_STATUSES
    offered = re.findall(r'<option value="([^"]*)"', page.split('name="status"', 1)[1])
    assert tuple(offered[: len(pages.QUARANTINE_STATUSES)]) == pages.QUARANTINE_STATUSES
    for status in pages.QUARANTINE_STATUSES:
        r = client.get("/quarantine", params={"pipeline": "leads", "status": status})
        assert r.status_code == 200, status
        assert chosen(r.text, "status") == [status] and chosen(r.text, "pipeline") == ["leads"]
        shown = set(re.findall(r'<span class="status status-\w+" data-status="(\w+)"', r.text))
        assert shown <= ({status} if status != "all" else set(pages.QUARANTINE_STATUSES)), shown
    assert client.get("/quarantine?status=nonsense").status_code == 422

    # The chosen values are text, never markup.
    evil = client.get("/quarantine", params={"pipeline": '"><script>alert(1)</script>'}).text
    assert "<script>alert(1)" not in evil and "&lt;script&gt;alert(1)" in evil
    r = client.post("/quarantine/replay", data={"pipeline": "leads"}, follow_redirects=False)
    assert r.status_code == 403  # the button's form is worth nothing without its token


def test_the_run_report_downloads_as_one_standalone_file(
    client: TestClient, finished_run: str
) -> None:
    sign_in(client, VIEWER)
    r = client.get(f"/runs/{finished_run}/report.html")
    assert r.status_code == 200
    assert "attachment" in r.headers["content-disposition"]
    html = r.text
    assert "<style>" in html and "read 67 = loaded 54" in html
    assert not re.search(r'<(script|link|img)\b|src="|href="/', html)  # nothing external


def test_static_assets_are_served_and_nothing_else(client: TestClient) -> None:
    js = client.get("/static/htmx.min.js")
    assert js.status_code == 200 and js.text.startswith("var htmx=")
    assert client.get("/static/dashboard.css").status_code == 200
    assert client.get("/static/NOTICE").status_code == 404
    assert client.get("/static/..%2F__init__.py").status_code == 404


def test_quality_groups_reasons_by_column_and_rule() -> None:
    assert data.rule_of("zip: '1234' does not match ^\\d{5}(-\\d{4})?$") == ("zip", "regex")
    assert data.rule_of("license_number: required but empty") == ("license_number", "required")
    assert data.rule_of("capacity: -4 is below the minimum 0") == ("capacity", "min")
    assert data.rule_of("license_status: 'x' is not one of: active") == (
        "license_status",
        "accepted",
    )
    assert data.rule_of("capacity: 'twelve' is not a valid integer")[1] == "type"
    assert data.rule_of("row has 3 fields, the header has 16") == ("(row)", "ragged")
    never = "a quote opened on line 3 is never closed, so lines 3-9, to the end of the file"
    assert data.rule_of(never) == ("(row)", "quote")
    assert data.rule_of(f"row has 2 fields, the header has 3: {never}") == ("(row)", "quote")
    totals = footer_reason(TOTALS, "Supplier", "Total", "ledger")
    assert data.rule_of(totals) == ("(row)", "footer")
    subtotal = footer_reason(SUBTOTAL, "Department", "Parks Total", "ledger")
    assert data.rule_of(subtotal) == ("(row)", "footer")


def test_charts_are_plain_svg() -> None:
    assert "polyline" in charts.sparkline([1.0, 3.0, 2.0], label="rows")
    bars = charts.bar_chart(["a", "<b>"], [1.0, 2.0], title="t")
    assert bars.count("<rect") == 2 and "&lt;b&gt;" in bars
    assert "no runs" in charts.sparkline([])


def test_a_running_run_polls_and_can_be_cancelled(big: Callable[..., Path], gate: Gate) -> None:
    with TestClient(create_app(load_project(big()), settings())) as client:
        csrf = sign_in(client, OPERATOR)
        r = client.post("/pipelines/big/trigger", data={"csrf_token": csrf}, follow_redirects=False)
        run_url = r.headers["location"]
        gate.wait_reached()  # the run has read its batch and waits (cancelled below)
        live = client.get(run_url + "/live").text
        assert 'hx-trigger="every 1s"' in live and ">Cancel<" in live
        r = client.post(run_url + "/cancel", data={"csrf_token": csrf}, follow_redirects=False)
        assert r.status_code == 303 and "cancelling" in r.headers["location"]
        assert wait(client, run_url.rsplit("/", 1)[1])["status"] == "cancelled"
        done = client.get(run_url + "/live").text
        assert "hx-trigger" not in done and ">Cancel<" not in done
        assert "RunCancelled" in done


def test_a_page_that_fails_is_a_page_saying_why_and_the_api_stays_json(
    client: TestClient,
) -> None:
    sign_in(client, VIEWER)
    html = {"Accept": "text/html,application/xhtml+xml"}
    missing = client.get("/runs/nope", headers=html)
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert "404 Not Found" in missing.text and "no run" in missing.text
    assert 'class="error-box"' in missing.text and "Back to the pipelines" in missing.text
    unknown = client.get("/no/such/page", headers=html)
    assert unknown.status_code == 404 and "there is no page at /no/such/page" in unknown.text
    # Machines still get JSON: the API, and anyone not asking for HTML.
    api = client.get("/api/runs/nope", headers={**html, "Authorization": f"Bearer {OPERATOR}"})
    assert api.status_code == 404 and api.json()["hint"]
    assert client.get("/runs/nope").headers["content-type"].startswith("application/json")


def test_the_overview_refreshes_itself_and_shows_the_next_scheduled_run(leads: Path) -> None:
    text = (leads / "sluice.yaml").read_text()
    (leads / "sluice.yaml").write_text(
        text.replace("  leads:\n", '  leads:\n    schedule: "0 3 * * *"\n', 1)
    )
    with TestClient(create_app(load_project(leads), settings())) as client:
        sign_in(client, VIEWER)
        overview = client.get("/").text
        api = client.get("/api/pipelines/leads", headers=OP).json()
    assert 'hx-trigger="every 5s"' in overview and 'hx-select="#pipelines"' in overview
    assert api["next_run"] and api["next_run"][11:16] == "03:00"
    assert "0 3 * * *" in overview and "not scheduled" not in overview
    assert api["next_run"][:10] + " 03:00:00 UTC" in overview


def test_a_run_page_shows_the_reports_warnings(leads: Path) -> None:
    """A source whose paths matched no file: the warning is on the run's page too."""
    text = (leads / "sluice.yaml").read_text()
    (leads / "sluice.yaml").write_text(
        text.replace("path: data/source1/*.csv", "path: data/sourc1/*.csv", 1)
    )
    with TestClient(create_app(load_project(leads), settings())) as client:
        run_id = client.post("/api/pipelines/leads/runs", headers=OP).json()["run_id"]
        report = wait(client, run_id)
        assert report["warnings"], report
        sign_in(client, VIEWER)
        page = client.get(f"/runs/{run_id}").text
    assert 'id="warnings"' in page
    assert "source1" in page and "sourc1" in page


def test_a_replay_that_fixes_nothing_shows_its_failures_under_data_quality(
    client: TestClient, finished_run: str
) -> None:
    """Entries a replay tried and left open are its failures (they keep its run id)."""
    r = client.post("/api/quarantine/replay", json={"pipeline": "leads"}, headers=OP)
    replay_id = r.json()["runs"][0]["run_id"]
    report = wait(client, replay_id)
    assert report["kind"] == "replay" and report["status"] == "succeeded_with_quarantine"
    sign_in(client, VIEWER)
    page = client.get(f"/runs/{replay_id}").text
    quality = page[page.index('<section id="quality">') :]
    quality = quality[: quality.index("</section>")]
    assert "every validated row passed every rule" not in quality
    assert "status-failed" in quality and "file set aside" in quality
    assert f"run={replay_id}" in client.get(f"/runs/{replay_id}/live").text
