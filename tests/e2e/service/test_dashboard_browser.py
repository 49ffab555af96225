"""The dashboard in a real browser (Playwright with Debian's chromium), over `sluice serve`.

The README's leads tour, clicked through: sign in, trigger `leads`, watch the run page
(updated by htmx) reach its end, open the quarantine, fix the mapping in sluice.yaml
and restart the service (it reads its config at start), replay the drifted file, and
see its rows in the dataset preview. Screenshots of each step are saved under
``tests/artifacts/dashboard/`` (gitignored) and their paths printed.

Skips when playwright or /usr/bin/chromium is missing; fails instead under
SLUICE_REQUIRE_SERVICES=1 (``.ci/run`` installs chromium first).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sluice.config import load_project
from sluice.state.store import StateStore
from sluice.testing import Gate, free_port, processes
from tests.integration.engine.test_leads_runs import fix_mapping
from tests.support.service import OPERATOR, VIEWER

ARTIFACTS = Path(__file__).parents[2] / "artifacts" / "dashboard"
SECRET = "dashboard-browser-test-secret-key"  # the session survives a restart
DRIFTED_LICENSE = "96416276"  # a row of data/source2/leads_2026-11-15.csv
FINAL = '[data-status="succeeded"], [data-status="succeeded_with_quarantine"]'


class Server:
    """`sluice serve` in a subprocess on a free port of 127.0.0.1."""

    def __init__(self, project: Path, port: int, log: Path) -> None:
        self.project, self.port, self.log = project, port, log
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "SLUICE_OPERATOR_TOKENS": OPERATOR,
            "SLUICE_VIEWER_TOKENS": VIEWER,
            "SLUICE_SECRET_KEY": SECRET,
        }
        for var in ("SLUICE_WAREHOUSE_URL", "SLUICE_STATE_URL"):
            env.pop(var, None)
        cmd = [sys.executable, "-m", "sluice", "serve", "--project", str(self.project)]
        with self.log.open("ab") as out:
            self.proc = processes.Popen(
                [*cmd, "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"sluice serve exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/signin", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"sluice serve did not answer: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


def sign_in(page: Any, server: Server) -> None:
    page.goto(server.url + "/")
    page.fill("#token", OPERATOR)
    page.click("button[type=submit]")
    page.wait_for_selector("tr[data-pipeline]")


@pytest.fixture
def served(leads: Path, tmp_path: Path) -> Iterator[Server]:
    server = Server(leads, free_port(), tmp_path / "serve.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_leads_tour_in_a_browser(browser: Any, served: Server, leads: Path) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shots: list[Path] = []
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    page.set_default_timeout(60_000)

    def shot(name: str) -> None:
        path = ARTIFACTS / f"{len(shots) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        shots.append(path)
        print(f"screenshot: {path}")

    # Sign in: an unauthenticated visit lands on the sign-in form.
    page.goto(served.url + "/")
    assert "/signin" in page.url
    page.fill("#token", OPERATOR)
    shot("signin")
    page.click("button[type=submit]")
    page.wait_for_selector('tr[data-pipeline="leads"]')
    assert "never run" in page.inner_text('tr[data-pipeline="leads"]')
    shot("overview-before")

    # Trigger: the run page polls (htmx) until the run ends.
    page.click('tr[data-pipeline="leads"] button:has-text("Trigger")')
    page.wait_for_url("**/runs/*")
    run_url = page.url
    page.wait_for_selector(f"#run-status :is({FINAL})", timeout=120_000)
    status = page.get_attribute("#run-status .status", "data-status")
    assert status == "succeeded_with_quarantine"
    page.wait_for_selector("text=read 67 = loaded 54 + quarantined 9 + filtered 4")
    assert page.locator("#run-live[hx-trigger]").count() == 0  # polling stopped
    shot("run-finished")

    page.goto(served.url + "/")
    assert "succeeded with quarantine" in page.inner_text('tr[data-pipeline="leads"]')
    shot("overview-after-run")

    # The quarantine: 9 rows and the drifted file, with their reasons.
    page.goto(run_url)
    page.click("text=quarantine of this run")
    page.wait_for_selector('tr[data-kind="file"]')
    assert "columns drifted" in page.inner_text('tr[data-kind="file"]')
    assert page.locator("tr[data-entry]").count() == 10
    shot("quarantine")

    page.goto(served.url + "/pipelines/leads/data")
    assert DRIFTED_LICENSE not in page.inner_text("#dataset")

    # The fix of the README's tour, then a restart so the service reads it.
    fix_mapping(leads)
    served.stop()
    served.start()

    page.goto(served.url + "/quarantine?pipeline=leads")  # the session cookie still holds
    page.click('tr[data-kind="file"] button:has-text("Replay")')
    page.wait_for_url("**/runs/*")
    page.wait_for_selector(f"#run-status :is({FINAL})", timeout=120_000)
    assert "replay of" in page.inner_text("#run-live")
    page.wait_for_selector("text=read 12 = loaded 12 + quarantined 0 + filtered 0")
    shot("replay-finished")

    page.goto(served.url + "/quarantine?pipeline=leads&status=replayed")
    row = page.locator('tr[data-kind="file"]')
    assert row.count() == 1 and "replayed" in row.inner_text()
    shot("quarantine-replayed")

    page.goto(served.url + "/pipelines/leads/data")
    page.wait_for_selector("#dataset")
    assert DRIFTED_LICENSE in page.inner_text("#dataset")
    page.locator(f"td:text-is('{DRIFTED_LICENSE}')").scroll_into_view_if_needed()
    shot("dataset-with-replayed-rows")

    page.goto(served.url + "/pipelines/leads")
    assert page.locator("svg.chart rect").count() >= 2
    shot("pipeline-charts")
    page.close()
    assert all(p.stat().st_size > 0 for p in shots)


def entry_statuses(page: Any) -> dict[int, str]:
    """Entry id -> the status its badge shows, for the rows of the quarantine page."""
    found: list[list[Any]] = page.locator("tr[data-entry]").evaluate_all(
        "rows => rows.map(r => [Number(r.dataset.entry),"
        " r.querySelector('.status[data-status]').dataset.status])"
    )
    return {int(i): str(s) for i, s in found}


def show(page: Any, status: str) -> dict[int, str]:
    """Choose a status in the quarantine filter and press Show: the entries shown."""
    page.select_option("select[name=status]", status)
    page.click("form[method=get] button:has-text('Show')")
    page.wait_for_url(lambda url: f"status={status}" in url)
    page.wait_for_selector("select[name=status]")
    return entry_statuses(page)


def test_replay_all_and_the_status_filter_in_a_browser(
    browser: Any, served: Server, leads: Path
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    page.set_default_timeout(60_000)
    sign_in(page, served)
    page.click('tr[data-pipeline="leads"] button:has-text("Trigger")')
    page.wait_for_url("**/runs/*")
    page.wait_for_selector(f"#run-status :is({FINAL})", timeout=120_000)

    # An entry closed because a later run loaded the same content (set in the store).
    store = StateStore(load_project(leads).state_url())
    try:
        rows = [e.id for e in store.quarantined(pipeline="leads") if e.kind == "row"]
        superseded = rows[0]
        store.set_quarantine_status([superseded], "superseded", None)
    finally:
        store.close()

    # The quarantine without a pipeline: open entries, no replay-all (it needs one).
    page.click("nav a:has-text('Quarantine')")
    page.wait_for_selector("tr[data-entry]")
    assert page.input_value("select[name=status]") == "open"
    assert page.locator("#replay-all").count() == 0
    statuses = page.locator("select[name=status] option").evaluate_all(
        "options => options.map(o => o.value)"
    )
    assert {"open", "replayed", "superseded", "discarded", "all"} <= set(statuses)

    # The pipeline chosen: its open entries and the button to replay them all.
    page.select_option("select[name=pipeline]", "leads")
    opened = show(page, "open")
    assert len(opened) == 9 and set(opened.values()) == {"open"}
    assert superseded not in opened
    assert page.input_value("select[name=pipeline]") == "leads"
    button = page.locator("#replay-all button:has-text('Replay all open entries of leads')")
    assert button.is_visible()
    drifted = int(page.get_attribute('tr[data-kind="file"]', "data-entry"))
    page.screenshot(path=str(ARTIFACTS / "20-quarantine-replay-all.png"), full_page=True)

    # Replay them all with the mapping fixed: the replay run's page, then its outcome.
    fix_mapping(leads)
    button.click()
    page.wait_for_url("**/runs/*")
    replay_run = page.url.rsplit("/", 1)[1]
    page.wait_for_selector(f"#run-status :is({FINAL})", timeout=120_000)
    assert "replay of" in page.inner_text("#run-live")
    # Every open entry went through it: the file's 12 rows load, the 8 bad rows stay
    # bad (the superseded one is not replayed).
    page.wait_for_selector("text=read 20 = loaded 12 + quarantined 8 + filtered 0")
    page.screenshot(path=str(ARTIFACTS / "21-replay-all-finished.png"), full_page=True)

    page.goto(served.url + "/quarantine?pipeline=leads")
    replayed = show(page, "replayed")
    assert drifted in replayed and set(replayed.values()) == {"replayed"}
    assert f"by {replay_run}" in page.inner_text(f'tr[data-entry="{drifted}"]')
    page.reload()  # the filter keeps its value, and the page the entries
    assert page.input_value("select[name=status]") == "replayed"
    assert page.input_value("select[name=pipeline]") == "leads"
    assert entry_statuses(page) == replayed
    assert page.locator("#replay-all").count() == 0
    page.screenshot(path=str(ARTIFACTS / "22-quarantine-replayed.png"), full_page=True)

    assert show(page, "superseded") == {superseded: "superseded"}
    page.reload()
    assert page.input_value("select[name=status]") == "superseded"
    assert entry_statuses(page) == {superseded: "superseded"}

    # Rows the fixed mapping cannot mend are open again: each entry has one status.
    still_open = show(page, "open")
    assert set(still_open.values()) <= {"open"} and drifted not in still_open
    everything = show(page, "all")
    assert len(everything) == 10
    assert everything == {**still_open, **replayed, superseded: "superseded"}
    assert page.input_value("select[name=status]") == "all"
    page.close()


def test_the_run_page_follows_a_long_run_without_reloading(
    browser: Any, big: Callable[..., Path], gate: Gate, tmp_path: Path
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # the gate (armed in the server's environment) holds the run until the page saw it
    server = Server(big(1_000), free_port(), tmp_path / "serve.log")
    server.start()
    try:
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.set_default_timeout(120_000)
        sign_in(page, server)
        page.click('tr[data-pipeline="big"] button:has-text("Trigger")')
        page.wait_for_url("**/runs/*")
        page.evaluate("window.__same_page = true")  # gone if the page were reloaded
        page.wait_for_selector('#run-live[hx-trigger] [data-status="running"]')
        assert page.locator("#run-live button:has-text('Cancel')").count() == 1
        path = ARTIFACTS / "10-run-live-running.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")
        gate.open()
        page.wait_for_selector(f"#run-status :is({FINAL})")
        assert page.evaluate("window.__same_page") is True  # htmx swapped, no reload
        page.wait_for_selector("text=read 1000 = loaded 1000")
        assert page.locator("#run-live[hx-trigger]").count() == 0
        assert page.locator("#run-live button:has-text('Cancel')").count() == 0
        path = ARTIFACTS / "11-run-live-finished.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")
        page.close()
    finally:
        server.stop()
