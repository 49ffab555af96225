"""Sessions end when signed out (everywhere), failed sign-ins are throttled, tokens must
be random, and the session cookie is Secure unless the service is loopback-only."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sluice.config import load_project
from sluice.errors import ConfigError
from sluice.service import create_app, load_settings
from sluice.service.settings import MIN_BITS, token_bits
from sluice.service.throttle import Throttle
from tests.support.service import OP, OPERATOR, VIEWER, settings

SECRET = "Yq3w8VdKz1LmN0pXr5TbGh7JcF2sUe9A"


def _sign_in(c: TestClient, token: str = OPERATOR) -> tuple[str, str]:
    """(the session cookie, its CSRF token)."""
    c.cookies.clear()
    r = c.post("/api/session", data={"token": token})
    assert r.status_code == 200, r.text
    return r.cookies["sluice_session"], r.json()["csrf_token"]


def _keep(c: TestClient, cookie: str) -> None:
    """Send ``cookie`` (a copy kept from before) and no other."""
    c.cookies.clear()
    c.cookies.set("sluice_session", cookie)


def test_signing_out_of_the_api_revokes_every_copy_of_the_cookie(client: TestClient) -> None:
    cookie, csrf = _sign_in(client)
    assert client.get("/api/pipelines").status_code == 200
    assert client.delete("/api/session", headers={"X-CSRF-Token": csrf}).status_code == 204
    # a copy kept from before (another tab, a stolen cookie) no longer works
    _keep(client, cookie)
    r = client.get("/api/pipelines")
    assert r.status_code == 401, r.text
    # nor on a dashboard page: back to sign in
    page = client.get("/", follow_redirects=False)
    assert page.status_code == 303 and "/signin" in page.headers["location"]
    # signing in again makes a new session, which works
    _sign_in(client)
    assert client.get("/api/pipelines").status_code == 200


def test_signing_out_of_the_dashboard_revokes_the_cookie(client: TestClient) -> None:
    r = client.post("/signin", data={"token": VIEWER, "next": "/"}, follow_redirects=False)
    assert r.status_code == 303
    cookie = client.cookies["sluice_session"]
    csrf = client.get("/api/session").json()["csrf_token"]
    assert client.get("/", follow_redirects=False).status_code == 200
    out = client.post("/signout", data={"csrf_token": csrf}, follow_redirects=False)
    assert out.status_code == 303
    _keep(client, cookie)
    assert client.get("/", follow_redirects=False).status_code == 303
    assert client.get("/api/session").status_code == 401


def test_a_revoked_session_is_refused_by_another_server_on_the_same_state_store(
    leads: Path,
) -> None:
    """Several servers (or workers) share the state store, not their memory."""
    project = load_project(leads)
    with (
        TestClient(create_app(project, settings(secret_key=SECRET))) as a,
        TestClient(create_app(project, settings(secret_key=SECRET))) as b,
    ):
        cookie, csrf = _sign_in(a)
        _keep(b, cookie)
        assert b.get("/api/pipelines").status_code == 200  # the same secret: valid on b
        assert a.delete("/api/session", headers={"X-CSRF-Token": csrf}).status_code == 204
        assert b.get("/api/pipelines").status_code == 401


def test_failed_sign_ins_are_throttled_per_client_address(leads: Path) -> None:
    app = create_app(load_project(leads), settings())
    with TestClient(app) as c, TestClient(app, client=("10.1.2.3", 4000)) as other:
        for _ in range(10):
            assert c.post("/api/session", data={"token": "x" + VIEWER}).status_code == 401
        # the 11th attempt waits, even with the right token (else guessing goes on)
        r = c.post("/api/session", data={"token": OPERATOR})
        assert r.status_code == 429, r.text
        assert 1 <= int(r.headers["retry-after"]) <= 60
        assert "too many failed sign-ins" in r.json()["detail"]
        form = c.post("/signin", data={"token": OPERATOR, "next": "/"}, follow_redirects=False)
        assert form.status_code == 429 and "retry-after" in form.headers
        assert c.get("/api/pipelines", headers=OP).status_code == 429
        assert c.get("/api/runs", headers=OP).status_code == 429  # the micro-cached path too
        # another address is not concerned
        assert other.post("/api/session", data={"token": OPERATOR}).status_code == 200


def test_failed_bearer_tokens_are_throttled(client: TestClient) -> None:
    assert client.get("/api/runs", headers=OP).status_code == 200
    for _ in range(10):
        bad = {"Authorization": "Bearer x" + OPERATOR}
        assert client.get("/api/runs", headers=bad).status_code == 401
    r = client.get("/api/runs", headers=OP)
    assert r.status_code == 429 and "retry-after" in r.headers


def test_the_throttle_forgets_failures_after_its_window() -> None:
    now = [1000.0]
    throttle = Throttle(limit=3, window=60.0, clock=lambda: now[0])
    for _ in range(3):
        assert throttle.retry_after("a") == 0
        throttle.failed("a")
        now[0] += 1
    assert throttle.retry_after("a") == 57  # the first failure leaves the window at 1060
    assert throttle.retry_after("b") == 0
    now[0] = 1060.0
    assert throttle.retry_after("a") == 0


@pytest.mark.parametrize(
    "weak",
    [
        "aaaaaaaaaaaaaaaa",
        "op-" + "o" * 29,
        "abcdefghijklmnopqrstuvwxyz",
        "1234567890123456789",
        "ac" * 40,
        "Password1234567!",
    ],
)
def test_low_entropy_tokens_are_refused_with_a_way_to_make_a_good_one(weak: str) -> None:
    assert token_bits(weak) < MIN_BITS
    with pytest.raises(ConfigError, match="too weak") as err:
        load_settings(environ={"SLUICE_OPERATOR_TOKENS": weak})
    assert "secrets.token_urlsafe(32)" in (err.value.hint or "")
    with pytest.raises(ConfigError, match="SLUICE_SECRET_KEY"):
        load_settings(environ={"SLUICE_OPERATOR_TOKENS": OPERATOR, "SLUICE_SECRET_KEY": weak})


def test_random_tokens_are_accepted() -> None:
    import secrets

    for token in (secrets.token_urlsafe(32), secrets.token_hex(16), OPERATOR, VIEWER):
        assert token_bits(token) >= MIN_BITS
        assert load_settings(environ={"SLUICE_OPERATOR_TOKENS": token}).operator_tokens


def test_the_session_cookie_is_secure_unless_the_service_is_loopback_only(leads: Path) -> None:
    def cookie_of(**kw: object) -> str:
        app = create_app(load_project(leads), settings(**kw))
        with TestClient(app) as c:
            r = c.post("/api/session", data={"token": VIEWER})
            assert r.status_code == 200
            return r.headers["set-cookie"].lower()

    assert "secure" not in cookie_of(host="127.0.0.1")
    assert "; secure" in cookie_of(host="0.0.0.0")
    assert "; secure" in cookie_of(host="192.168.1.10")
    assert "; secure" in cookie_of(host="127.0.0.1", tls=True)
    # an explicit SLUICE_SECURE_COOKIES wins
    assert "secure" not in cookie_of(host="0.0.0.0", secure_cookies=False)
    assert "; secure" in cookie_of(host="127.0.0.1", secure_cookies=True)
    env = {"SLUICE_OPERATOR_TOKENS": OPERATOR}
    assert load_settings(environ=env, host="0.0.0.0").cookies_secure
    assert not load_settings(environ=env).cookies_secure
    off = {**env, "SLUICE_SECURE_COOKIES": "0"}
    assert not load_settings(environ=off, host="0.0.0.0").cookies_secure
    on = {**env, "SLUICE_SECURE_COOKIES": "1"}
    assert load_settings(environ=on).cookies_secure
