"""The request guard in a real browser (Playwright with Debian's chromium).

An "attacker" page is served from a second loopback origin (127.0.0.1 on another port)
and, like a page on any site the operator visits, auto-submits forms to the sluice
server or frames it. Also: the dashboard works under its Content-Security-Policy (no
violation in the console, htmx polling included), and /docs and /redoc render with no
request leaving the server. Skips when playwright or chromium is missing (fails under
SLUICE_REQUIRE_SERVICES=1).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sluice.config import load_project
from sluice.service import ServiceSettings, close, create_app
from sluice.service.auth import SESSION_COOKIE
from sluice.sim.server import SimServer
from tests.e2e.service.test_dashboard_browser import FINAL
from tests.support.service import OPERATOR, VIEWER, settings

Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]

ATTACKS = {
    # a cross-site form: the browser posts it with the operator's cookies, if any
    "/trigger": '<form id="f" method="post" action="{sluice}/pipelines/leads/trigger"></form>',
    "/api-run": '<form id="f" method="post" action="{sluice}/api/pipelines/leads/runs"></form>',
    # login CSRF: sign the visitor's browser in with the attacker's own token
    "/signin": '<form id="f" method="post" action="{sluice}/signin">'
    '<input name="token" value="{token}"><input name="next" value="/"></form>',
    "/api-session": '<form id="f" method="post" action="{sluice}/api/session">'
    '<input name="token" value="{token}"></form>',
}
SUBMIT = "<script>document.getElementById('f').submit()</script>"
FRAME = '<iframe id="x" src="{sluice}/signin" width="600" height="400"></iframe>'


REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


def _problem(message: Any) -> bool:
    """A console error, except the browser's own ask for /favicon.ico (none is served)."""
    where = str(message.location.get("url", ""))
    return bool(message.type == "error" and not where.endswith("/favicon.ico"))


def attacker(sluice: str) -> Callable[..., Any]:
    """An ASGI app serving the attack pages, aimed at ``sluice``."""

    async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
        path = scope["path"]
        if path == "/frame":
            body = FRAME.format(sluice=sluice)
        else:
            body = ATTACKS[path].format(sluice=sluice, token=VIEWER) + SUBMIT
        html = f"<!doctype html><html><body>{body}</body></html>".encode()
        headers = [(b"content-type", b"text/html"), (b"content-length", str(len(html)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": html})

    return app


@pytest.fixture
def serve(leads: Path) -> Iterator[Callable[[ServiceSettings], tuple[SimServer, SimServer]]]:
    """``serve(settings)``: the sluice server and the attacker's, both on 127.0.0.1."""
    started: list[tuple[Any, SimServer]] = []

    def start(s: ServiceSettings) -> tuple[SimServer, SimServer]:
        app = create_app(load_project(leads), s)
        sluice = SimServer(app).start()
        started.append((app, sluice))
        evil = SimServer(attacker(sluice.url)).start()
        started.append((None, evil))
        return sluice, evil

    try:
        yield start
    finally:
        for app, server in reversed(started):
            server.stop()
            if app is not None:
                close(app)


def run_count(sluice: SimServer, headers: dict[str, str] | None = None) -> int:
    return len(httpx.get(sluice.url + "/api/runs", headers=headers, timeout=30).json()["runs"])


def test_dev_open_cross_site_forms_start_no_run(browser: Any, serve: Any) -> None:
    sluice, evil = serve(ServiceSettings(dev_open=True))
    page = browser.new_page()
    for attack in ("/trigger", "/api-run"):
        with page.expect_navigation(url=lambda url: url.startswith(sluice.url)) as nav:
            page.goto(evil.url + attack)
        response = nav.value
        assert response is not None and response.status == 403, attack
        assert "cross-site request refused" in page.content()
    assert run_count(sluice) == 0


def test_another_site_cannot_sign_the_browser_in(browser: Any, serve: Any) -> None:
    sluice, evil = serve(settings(allowed_hosts=()))
    context = browser.new_context()
    page = context.new_page()
    for attack in ("/signin", "/api-session"):
        with page.expect_navigation(url=lambda url: url.startswith(sluice.url)) as nav:
            page.goto(evil.url + attack)
        assert nav.value is not None and nav.value.status == 403, attack
        cookies = [c["name"] for c in context.cookies(sluice.url)]
        assert SESSION_COOKIE not in cookies, attack
    context.close()


def test_another_site_cannot_frame_the_dashboard(browser: Any, serve: Any) -> None:
    sluice, evil = serve(settings(allowed_hosts=()))
    page = browser.new_page()
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text))
    page.goto(evil.url + "/frame", wait_until="load")  # "load" waits for the frame too
    framed = [f for f in page.frames if f != page.main_frame]
    assert framed and framed[0].query_selector("#token") is None  # no sign-in form inside
    assert any("frame-ancestors 'none'" in m for m in messages), messages  # Chromium says why
    page.goto(sluice.url + "/signin")
    assert page.query_selector("#token") is not None  # the page itself shows


def test_the_dashboard_works_under_its_csp(browser: Any, serve: Any) -> None:
    sluice, _ = serve(settings(allowed_hosts=()))
    page = browser.new_page()
    page.set_default_timeout(60_000)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if _problem(m) else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    first = page.goto(sluice.url + "/")
    assert first is not None
    assert "default-src 'self'" in first.headers["content-security-policy"]
    page.fill("#token", OPERATOR)
    page.click("button[type=submit]")
    page.wait_for_selector("tr[data-pipeline]")
    page.click("tr[data-pipeline='leads'] button[type=submit]")  # Trigger: a run page
    page.wait_for_selector("#run-live")
    page.wait_for_selector(FINAL)  # htmx polled the live part until the run ended
    page.goto(sluice.url + "/quarantine?pipeline=leads")
    page.wait_for_selector("#replay-all")
    page.goto(sluice.url + "/pipelines/leads")
    page.wait_for_selector("svg.chart")
    assert problems == []
    assert run_count(sluice, {"Authorization": f"Bearer {VIEWER}"}) == 1


@pytest.mark.parametrize(("path", "rendered"), [("/docs", ".opblock"), ("/redoc", "h1")])
def test_the_docs_render_with_nothing_from_elsewhere(
    browser: Any, serve: Any, path: str, rendered: str
) -> None:
    sluice, _ = serve(settings(allowed_hosts=()))
    page = browser.new_page()
    page.set_default_timeout(30_000)
    requested: list[str] = []
    blocked: list[str] = []
    problems: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.on("requestfailed", lambda r: blocked.append(r.url) if r.failure == "csp" else None)
    page.on("console", lambda m: problems.append(m.text) if _problem(m) else None)
    page.goto(sluice.url + path)
    page.wait_for_selector(rendered)
    assert page.get_by_text("/api/pipelines/{name}/runs").first.is_visible()
    local = (sluice.url + "/", "blob:", "data:")
    # ReDoc always asks for its maker's logo from cdn.redoc.ly: the page's CSP stops it
    # in the browser, so nothing leaves 127.0.0.1 (the image just does not show).
    elsewhere = [u for u in requested if not u.startswith(local) and u not in blocked]
    assert elsewhere == []
    assert [u for u in blocked if u != REDOC_LOGO] == []
    assert [p for p in problems if REDOC_LOGO not in p] == []
