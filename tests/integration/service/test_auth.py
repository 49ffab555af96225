"""Roles, tokens, sessions and CSRF; settings that refuse what is unsafe."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sluice.config import load_project
from sluice.errors import ConfigError
from sluice.service import ServiceSettings, create_app, load_settings
from sluice.service.auth import SESSION_COOKIE, Auth, Role
from tests.support.service import OP, OPERATOR, VIEW, VIEWER, settings

SECRET = "Yq3w8VdKz1LmN0pXr5TbGh7JcF2sUe9A"

READS = [
    "/api/pipelines",
    "/api/pipelines/leads",
    "/api/runs",
    "/api/runs/x",
    "/api/runs/x/log",
    "/api/runs/x/log/stream",
    "/api/datasets/leads",
    "/api/quarantine",
    "/api/quarantine/1",
    "/api/session",
]
CHANGES = [
    ("POST", "/api/pipelines/leads/runs", None),
    ("POST", "/api/runs/x/cancel", None),
    ("POST", "/api/quarantine/replay", {"pipeline": "nope"}),
]


def test_openapi_docs_need_no_token_health_does(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    assert "/api/pipelines/{name}/runs" in schema["paths"]
    assert client.get("/api/health").status_code == 401
    health = client.get("/api/health", headers=VIEW).json()
    assert health == {
        "ok": True,
        "version": health["version"],
        "state_store": "ok",
        "scheduler": "running",  # started with the app (lifespan)
    }


@pytest.mark.parametrize("path", READS)
def test_reads_need_a_token(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert client.get(path, headers={"Authorization": "Bearer wrong-token"}).status_code == 401
    assert client.get(path, headers={"Authorization": f"Basic {OPERATOR}"}).status_code == 401
    assert client.get(path, headers=VIEW).status_code in (200, 404)
    assert client.get(path, headers=OP).status_code in (200, 404)


@pytest.mark.parametrize(("method", "path", "body"), CHANGES)
def test_changes_need_an_operator(
    client: TestClient, method: str, path: str, body: dict[str, str] | None
) -> None:
    assert client.request(method, path, json=body).status_code == 401
    r = client.request(method, path, json=body, headers=VIEW)
    assert r.status_code == 403, r.text
    assert client.request(method, path, json=body, headers=OP).status_code in (202, 404, 409)


def test_tokens_are_matched_exactly() -> None:
    auth = Auth(settings())
    assert auth.role_of(OPERATOR) == Role.operator
    assert auth.role_of(VIEWER) == Role.viewer
    assert auth.role_of(OPERATOR[:-1]) is None
    assert auth.role_of(OPERATOR + "x") is None
    assert auth.role_of("") is None


def test_session_cookie_and_csrf(client: TestClient) -> None:
    assert client.post("/api/session", data={"token": "nope-nope-nope-nope"}).status_code == 401
    r = client.post("/api/session", data={"token": OPERATOR})
    assert r.status_code == 200 and r.json()["role"] == "operator"
    csrf = r.json()["csrf_token"]
    assert SESSION_COOKIE in client.cookies
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    # reads with the cookie alone
    assert client.get("/api/pipelines").status_code == 200
    assert client.get("/api/session").json() == {"role": "operator", "csrf_token": csrf}
    # a state change with the cookie needs the CSRF token (header or form field)
    assert client.post("/api/pipelines/nope/runs").status_code == 403
    assert client.post("/api/pipelines/nope/runs", headers={"X-CSRF-Token": "x"}).status_code == 403
    assert (
        client.post("/api/pipelines/nope/runs", headers={"X-CSRF-Token": csrf}).status_code == 404
    )
    form = client.post("/api/pipelines/nope/runs", data={"csrf_token": csrf})
    assert form.status_code == 404
    # a tampered cookie is no session
    client.cookies.set(SESSION_COOKIE, client.cookies[SESSION_COOKIE] + "x")
    assert client.get("/api/pipelines").status_code == 401
    client.cookies.clear()


def test_viewer_session_cannot_change_state(client: TestClient) -> None:
    csrf = client.post("/api/session", data={"token": VIEWER}).json()["csrf_token"]
    r = client.post("/api/pipelines/leads/runs", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 403
    assert client.delete("/api/session", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert client.get("/api/pipelines").status_code == 401


def test_a_session_ends_when_its_token_is_no_longer_configured(leads: Path) -> None:
    first = create_app(load_project(leads), settings(secret_key=SECRET))
    with TestClient(first) as c:
        c.post("/api/session", data={"token": VIEWER})
        cookie = c.cookies[SESSION_COOKIE]
    rotated = ServiceSettings(
        operator_tokens=(OPERATOR,), secret_key=SECRET, allowed_hosts=("testserver",)
    )
    with TestClient(create_app(load_project(leads), rotated)) as c:
        c.cookies.set(SESSION_COOKIE, cookie)
        assert c.get("/api/pipelines").status_code == 401


def test_dev_open_needs_no_token_but_only_on_loopback(leads: Path) -> None:
    open_ = ServiceSettings(dev_open=True, host="127.0.0.1", allowed_hosts=("testserver",))
    with TestClient(create_app(load_project(leads), open_)) as c:
        assert c.get("/api/pipelines").status_code == 200
    for host in ("0.0.0.0", "192.168.1.10", "example.org", "::"):
        with pytest.raises(ConfigError, match="loopback"):
            ServiceSettings(dev_open=True, host=host)
    for host in ("localhost", "::1", "127.0.0.2"):
        assert ServiceSettings(dev_open=True, host=host).dev_open


def test_settings_come_from_the_environment_and_refuse_weak_ones() -> None:
    env = {"SLUICE_OPERATOR_TOKENS": f" {OPERATOR} , ", "SLUICE_VIEWER_TOKENS": VIEWER}
    s = load_settings(environ=env, host="0.0.0.0", port=9000)
    assert s.operator_tokens == (OPERATOR,) and s.viewer_tokens == (VIEWER,)
    assert (s.host, s.port) == ("0.0.0.0", 9000) and len(s.secret_key) >= 32
    assert OPERATOR not in repr(s) and s.secret_key not in repr(s)
    with pytest.raises(ConfigError, match="no API token"):
        load_settings(environ={})
    with pytest.raises(ConfigError, match="too weak"):
        load_settings(environ={"SLUICE_OPERATOR_TOKENS": "changethis"})
    with pytest.raises(ConfigError, match="too weak"):
        load_settings(environ={"SLUICE_OPERATOR_TOKENS": "short"})
    with pytest.raises(ConfigError, match="SLUICE_SECRET_KEY"):
        load_settings(environ={"SLUICE_OPERATOR_TOKENS": OPERATOR, "SLUICE_SECRET_KEY": "secret"})
    with pytest.raises(ConfigError, match="both"):
        ServiceSettings(operator_tokens=(OPERATOR,), viewer_tokens=(OPERATOR,))
