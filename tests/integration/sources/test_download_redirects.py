"""Downloads follow redirects, but their credentials stay with their own origin (issue 13).

Two servers on loopback are two origins: ``files`` redirects to ``cdn`` (as GitHub and
S3 downloads do) and both record what each request carried.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request, Response
from fastapi.responses import RedirectResponse

from sluice.config import load_project
from sluice.errors import ConfigError
from sluice.sim.server import SimServer
from sluice.state.store import StateStore

CSV = "id,name\n1,Ada\n2,Grace\n"
KEY = "K3yS3cr3tV4lue"
TOKEN = "B34r3rT0k3nV4lue"


class Server:
    def __init__(self) -> None:
        self.url = ""
        self.elsewhere = ""  # where /files/moved.csv redirects to
        self.seen: list[dict[str, Any]] = []
        app = FastAPI()

        @app.get("/{path:path}")
        async def get(path: str, request: Request) -> Response:
            headers = {k.lower(): v for k, v in request.headers.items()}
            self.seen.append(
                {
                    "path": "/" + path,
                    **{k: v for k, v in headers.items() if k in ("authorization", "x-api-key")},
                    **{k: v for k, v in request.query_params.items() if k == "api_key"},
                }
            )
            if path == "files/moved.csv":
                return RedirectResponse(f"{self.elsewhere}/cdn/people.csv", status_code=302)
            if path == "files/renamed.csv":
                return RedirectResponse("/files/people.csv", status_code=301)
            if path == "files/loop.csv":
                return RedirectResponse("/files/loop.csv", status_code=302)
            return Response(CSV, media_type="text/csv")

        self.app = app


@pytest.fixture
def files() -> Iterator[Server]:
    s = Server()
    with SimServer(s.app) as server:
        s.url = server.url
        yield s


@pytest.fixture
def cdn() -> Iterator[Server]:
    s = Server()
    with SimServer(s.app) as server:
        s.url = server.url
        yield s


CREDENTIALS = {
    "bearer and a header": f"auth: {{type: bearer, token: {TOKEN}}}\n"
    f"        headers: {{X-Api-Key: {KEY}}}",
    "a key in the query": f"auth: {{type: api_key, in: query, name: api_key, value: {KEY}}}",
    "basic": f"auth: {{type: basic, username: u, password: {KEY}}}",
}
SENT = {
    "bearer and a header": {"authorization": f"Bearer {TOKEN}", "x-api-key": KEY},
    "a key in the query": {"api_key": KEY},
    "basic": {"authorization": "Basic dTpLM3lTM2NyM3RWNGx1ZQ=="},
}


def project(url: str, credentials: str, extra: str = "") -> str:
    return f"""
pipelines:
  p:
    sources:
      s:
        url: {url}
        retry: {{max_attempts: 2, backoff: 0.01, max_backoff: 0.02}}
        {credentials}{extra}
    table:
      name: people
      columns: {{id: integer, name: string}}
"""


def log(out: Any) -> list[str]:
    store = StateStore(out.project.state_url())
    try:
        return [e.message for e in store.events(out.report.run_id)]
    finally:
        store.close()


@pytest.mark.parametrize("credentials", sorted(CREDENTIALS))
def test_a_redirect_to_another_origin_is_followed_without_credentials(
    credentials: str,
    files: Server,
    cdn: Server,
    make_project: Callable[..., Path],
    run_project: Any,
) -> None:
    files.elsewhere = cdn.url
    root = make_project(project(f"{files.url}/files/moved.csv", CREDENTIALS[credentials]))
    out = run_project(root)
    assert out.status == "succeeded", out.report.errors
    assert out.rows()[0]["name"] == "Ada"
    assert files.seen == [{"path": "/files/moved.csv", **SENT[credentials]}]
    assert cdn.seen == [{"path": "/cdn/people.csv"}]  # nothing of the source's
    warned = [m for m in log(out) if "another origin" in m]
    assert len(warned) == 1 and "trusted_origins" in warned[0], log(out)
    assert KEY not in str(log(out)) and TOKEN not in str(log(out))


def test_a_redirect_on_the_same_origin_keeps_the_credentials(
    files: Server, make_project: Callable[..., Path], run_project: Any
) -> None:
    credentials = CREDENTIALS["bearer and a header"]
    out = run_project(make_project(project(f"{files.url}/files/renamed.csv", credentials)))
    assert out.status == "succeeded", out.report.errors
    sent = SENT["bearer and a header"]
    assert files.seen == [
        {"path": "/files/renamed.csv", **sent},
        {"path": "/files/people.csv", **sent},
    ]


def test_a_trusted_origin_gets_the_credentials(
    files: Server,
    cdn: Server,
    make_project: Callable[..., Path],
    run_project: Any,
) -> None:
    files.elsewhere = cdn.url
    trusted = f"\n        trusted_origins: [{cdn.url}]"
    credentials = CREDENTIALS["bearer and a header"]
    out = run_project(make_project(project(f"{files.url}/files/moved.csv", credentials, trusted)))
    assert out.status == "succeeded", out.report.errors
    assert cdn.seen == [{"path": "/cdn/people.csv", **SENT["bearer and a header"]}]
    assert not [m for m in log(out) if "another origin" in m]


def test_endless_redirects_fail_the_download(
    files: Server, make_project: Callable[..., Path], run_project: Any
) -> None:
    root = make_project(project(f"{files.url}/files/loop.csv", CREDENTIALS["basic"]))
    out = run_project(root)
    assert out.status == "failed"
    (error,) = out.report.errors
    assert "redirected more than 10 times" in error["message"], error


def test_trusted_origins_must_be_origins(make_project: Callable[..., Path]) -> None:
    root = make_project(
        project(
            "https://files.example.org/a.csv", "", "\n        trusted_origins: [cdn.example.org/x]"
        )
    )
    with pytest.raises(ConfigError) as caught:
        load_project(root)
    assert "trusted_origins: 'cdn.example.org/x' is not an origin" in str(caught.value)
