"""The request guard (sluice.service.guard): Host and Origin checks in every mode, body
caps, security headers, and the API docs served from the package.

Over TestClient (which sends ``Host: testserver``, allowed by the fixtures' settings) and,
for the body caps, over real HTTP to a uvicorn server on loopback.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from sluice.config import load_project
from sluice.service import ServiceSettings, close, create_app
from sluice.service.auth import SESSION_COOKIE
from sluice.service.guard import SIGN_IN_CAP
from sluice.sim.server import SimServer
from tests.support.service import OP, OPERATOR, VIEW, VIEWER, settings

EVIL = "http://evil.example"
SECURITY = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


def dev_open() -> ServiceSettings:
    return ServiceSettings(dev_open=True, allowed_hosts=("testserver",))


@pytest.fixture
def open_client(leads: Path) -> Iterator[TestClient]:
    with TestClient(create_app(load_project(leads), dev_open())) as c:
        yield c


def runs(client: TestClient) -> list[object]:
    found: list[object] = client.get("/api/runs", headers=VIEW).json()["runs"]
    return found


# ---------------------------------------------------------------------------------- Host


def test_only_known_host_names_are_answered(client: TestClient) -> None:
    for host in ("evil.example", "evil.example:8000", "127.0.0.1.nip.io", "[::2]:80"):
        r = client.get("/api/health", headers={**VIEW, "Host": host})
        assert r.status_code == 400, host
        assert "SLUICE_ALLOWED_HOSTS" in r.json()["hint"] and host in r.json()["error"]
    for host in ("localhost", "localhost:9000", "127.0.0.1:8000", "[::1]:8000", "LocalHost."):
        assert client.get("/api/health", headers={**VIEW, "Host": host}).status_code == 200, host


def test_allowed_hosts_and_the_bound_host_are_answered(leads: Path) -> None:
    s = settings(allowed_hosts=("sluice.example.com",), host="10.1.2.3")
    with TestClient(create_app(load_project(leads), s)) as c:
        for host in ("sluice.example.com", "sluice.example.com:443", "10.1.2.3:8000"):
            assert c.get("/api/health", headers={**VIEW, "Host": host}).status_code == 200
        assert c.get("/api/health", headers={**VIEW, "Host": "testserver"}).status_code == 400
    # a proxy passing Host 127.0.0.1 on for a page at https://sluice.example.com:8443
    proxied = settings(allowed_hosts=("sluice.example.com:8443",))
    with TestClient(create_app(load_project(leads), proxied)) as c:
        page = {**OP, "Host": "127.0.0.1:8000"}
        cancel = "/api/runs/nope/cancel"
        ok = c.post(cancel, headers={**page, "Origin": "https://sluice.example.com:8443"})
        assert ok.status_code == 404  # past the guard: there is no such run
        other = c.post(cancel, headers={**page, "Origin": "https://sluice.example.com:9999"})
        assert other.status_code == 403
    with TestClient(create_app(load_project(leads), settings(allowed_hosts=("*",)))) as c:
        assert c.get("/api/health", headers={**VIEW, "Host": "any.example"}).status_code == 200
    env = {"SLUICE_OPERATOR_TOKENS": OPERATOR, "SLUICE_ALLOWED_HOSTS": " a.example , b.example"}
    from sluice.service import load_settings

    assert load_settings(environ=env).allowed_hosts == ("a.example", "b.example")


# -------------------------------------------------------------------------------- Origin


def test_dev_open_refuses_cross_site_state_changes(open_client: TestClient) -> None:
    c = open_client
    for headers in ({"Origin": EVIL}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}):
        r = c.post("/api/pipelines/leads/runs", headers=headers)
        assert r.status_code == 403, headers
        assert "cross-site" in r.json()["error"] and r.json()["hint"]
        form = c.post("/pipelines/leads/trigger", headers=headers, follow_redirects=False)
        assert form.status_code == 403
    # another port of the same machine is another origin too
    other = c.post("/api/pipelines/leads/runs", headers={"Origin": "http://testserver:8081"})
    assert other.status_code == 403
    assert c.post("/api/runs/x/cancel", headers={"Origin": EVIL}).status_code == 403
    replay = c.post("/api/quarantine/replay", json={"pipeline": "leads"}, headers={"Origin": EVIL})
    assert replay.status_code == 403
    assert runs(c) == []
    # the same origin, and a client that sends neither header (curl), may
    same = c.post("/api/pipelines/leads/runs", headers={"Origin": "http://testserver"})
    assert same.status_code == 202
    c.post(f"/api/runs/{same.json()['run_id']}/cancel")
    assert c.get("/api/pipelines", headers={"Origin": EVIL}).status_code == 200  # reads pass


def test_bearer_and_session_callers_are_checked_too(client: TestClient) -> None:
    r = client.post("/api/pipelines/leads/runs", headers={**OP, "Origin": EVIL})
    assert r.status_code == 403
    csrf = client.post("/api/session", data={"token": OPERATOR}).json()["csrf_token"]
    r = client.post(
        "/api/pipelines/leads/runs", headers={"X-CSRF-Token": csrf, "Sec-Fetch-Site": "same-site"}
    )
    assert r.status_code == 403
    assert runs(client) == []
    ok = client.post("/api/pipelines/leads/runs", headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 202, ok.text


def test_another_site_cannot_sign_the_browser_in(client: TestClient) -> None:
    """Login CSRF: a cross-site form posting its own token must not get a session."""
    for path in ("/api/session", "/signin"):
        for headers in ({"Origin": EVIL}, {"Sec-Fetch-Site": "cross-site"}):
            r = client.post(path, data={"token": VIEWER}, headers=headers, follow_redirects=False)
            assert r.status_code == 403, (path, headers)
            assert SESSION_COOKIE not in r.cookies and "set-cookie" not in r.headers
    r = client.post("/signin", data={"token": VIEWER}, headers={"Origin": "http://testserver"})
    assert r.status_code == 200 and SESSION_COOKIE in client.cookies


# ------------------------------------------------------------------------------- headers


def test_every_answer_has_the_security_headers(client: TestClient) -> None:
    csrf = client.post("/api/session", data={"token": OPERATOR}).json()["csrf_token"]
    answers = {
        "/api/health": client.get("/api/health", headers=VIEW),
        "csv": client.get("/api/datasets/leads", headers=VIEW, params={"format": "csv"}),
        "/": client.get("/"),
        "/signin": client.get("/signin"),
        "404": client.get("/api/nothing", headers=VIEW),
        "401": client.get("/api/pipelines", headers={"Authorization": "Bearer nope"}),
        "host": client.get("/", headers={"Host": "evil.example"}),
        "post": client.post("/api/runs/x/cancel", headers={"X-CSRF-Token": csrf}),
    }
    for what, r in answers.items():
        for name, value in SECURITY.items():
            assert r.headers.get(name) == value, (what, name)
        csp = r.headers.get("content-security-policy", "")
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, what
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, what
        assert r.headers.get("cache-control") == "no-store", what
    static = client.get("/static/htmx.min.js")
    assert static.headers["cache-control"] == "max-age=3600"  # assets may be cached
    assert static.headers["x-content-type-options"] == "nosniff"


def test_a_server_error_has_the_headers_and_the_error_body(leads: Path) -> None:
    app = create_app(load_project(leads), settings())

    def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/api/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/api/boom", headers=VIEW)
    assert r.status_code == 500
    assert r.json() == {
        "error": "internal server error",
        "hint": "the server's log has the details",
    }
    assert r.headers["x-frame-options"] == "DENY" and "content-security-policy" in r.headers


def test_pages_have_no_inline_script_style_or_handlers(client: TestClient) -> None:
    """What the CSP would block: inline <script>/<style>, style= and on*= attributes."""
    import re

    client.post("/api/session", data={"token": OPERATOR})
    run_id = client.post("/api/pipelines/leads/runs", headers=OP).json()["run_id"]
    from tests.support.service import wait

    wait(client, run_id)
    for path in ("/", "/pipelines/leads", f"/runs/{run_id}", "/quarantine", "/signin"):
        html = client.get(path).text
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), path
        assert not re.search(r"<style|\sstyle=|\son[a-z]+=", html), path
        assert '"allowEval": false' in html and '"allowScriptTags": false' in html, path


# ---------------------------------------------------------------------------------- docs


def test_docs_are_served_from_the_package(client: TestClient) -> None:
    for path, asset in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
        page = client.get(path)
        assert page.status_code == 200  # like /openapi.json: no token, only the API's shape
        assert f'src="/static/{asset}"' in page.text, path
        assert "cdn." not in page.text and "https://" not in page.text.replace(
            "https://fastapi", ""
        ), path
        assert client.get(f"/static/{asset}").status_code == 200
        csp = page.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "cdn" not in csp
    docs_csp = client.get("/docs").headers["content-security-policy"]
    assert "'sha256-" in docs_csp and "unsafe-inline" not in docs_csp


# ----------------------------------------------------------------------- body size caps


@pytest.fixture
def server(leads: Path) -> Iterator[SimServer]:
    app = create_app(load_project(leads), settings())
    try:
        with SimServer(app) as s:
            yield s
    finally:
        close(app)


def raw(server: SimServer, head: str, body: bytes = b"") -> bytes:
    """Send ``head`` (and ``body``) on a new connection; the whole answer (the server
    closes). The body is not sent in full: an answer proves the server did not wait."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head.encode() + b"\r\n" + body)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_a_big_sign_in_body_is_refused_before_it_is_read(server: SimServer) -> None:
    head = (
        "POST /api/session HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 2000000\r\n"
    )
    answer = raw(server, head, b"token=" + b"a" * 1000)  # 1 KB of the 2 MB announced
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b'"error": "request body too large' in answer and b'"hint"' in answer
    form = raw(server, head.replace("/api/session", "/signin"), b"token=x")
    assert form.startswith(b"HTTP/1.1 413"), form[:200]
    api = raw(server, head.replace("/api/session", "/api/quarantine/replay"), b"{")
    assert api.startswith(b"HTTP/1.1 413"), api[:200]


def test_a_chunked_body_is_counted_and_cut_off_at_the_cap(server: SimServer) -> None:
    head = (
        "POST {} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n"
    )
    # 12 chunks of 1 KB: past the 8 KiB cap, and never the last (zero) chunk: an answer
    # means the server stopped reading at the cap instead of waiting for the end.
    body = b"6\r\ntoken=\r\n" + b"3e8\r\n" + b"a" * 1000 + b"\r\n"
    body += (b"3e8\r\n" + b"a" * 1000 + b"\r\n") * 11
    for path in ("/api/session", "/signin"):
        answer = raw(server, head.format(path), body)
        assert answer.startswith(b"HTTP/1.1 413"), (path, answer[:300])
        assert b"request body too large" in answer
    with httpx.Client(base_url=server.url, timeout=60) as http:  # within the cap: as before
        ok = http.post("/api/session", data={"token": OPERATOR})
        assert ok.status_code == 200 and ok.json()["role"] == "operator"


def test_the_api_caps_streamed_json_at_one_mib(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"ids": ['
        for _ in range(120):  # 1.2 MB
            yield b"1," * 5000
        yield b"1]}"

    r = client.post(
        "/api/quarantine/replay",
        headers={**OP, "Content-Type": "application/json"},
        content=chunks(),
    )
    assert r.status_code == 413 and r.json()["error"].startswith("request body too large")


def test_small_bodies_pass_the_cap(server: SimServer) -> None:
    with httpx.Client(base_url=server.url, timeout=60) as http:
        r = http.post("/api/session", data={"token": "x" * 4000})  # under the 8 KiB cap
        assert r.status_code == 401  # read, parsed, and an unknown token
        assert SIGN_IN_CAP > 4000
        # 900 KB of JSON, under the API's 1 MiB: the app reads and answers it
        body = {"pipeline": "nope", "pad": "x" * 900_000}
        replay = http.post("/api/quarantine/replay", headers=OP, json=body)
        assert replay.status_code in (202, 422), replay.text[:300]
