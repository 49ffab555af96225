"""An HTTP source's API key never leaves in its errors, quarantine reasons, warnings or
alerts (issue 13, item 4), and its credentials go only to its own origin (item 11).

Real APIs on loopback: two servers are two origins (127.0.0.1 on two ports). They
record what each request carried, and echo the key back in their error bodies as real
APIs do, so the tests see both what left sluice and what sluice shows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from sluice.config import Retry, load_project
from sluice.service.runtime.alerts import Alerter
from sluice.sim.server import SimServer
from sluice.state.store import StateStore
from sluice.testing import Capture

KEY = "K3yS3cr3tV4lue"
TOKEN = "B34r3rT0k3nV4lue"


class Api:
    """Items over two pages, details per item, a 501 endpoint; every request recorded."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.url = ""  # set once serving
        self.next: str | None = None  # where page 1's `next` points (None: page 2 here)
        self.seen: list[dict[str, Any]] = []
        self.fail_first = 0
        app = FastAPI()

        @app.middleware("http")
        async def record(request: Request, call_next: Any) -> Response:
            self.seen.append(
                {
                    "path": request.url.path,
                    "query": dict(request.query_params),
                    "headers": {k.lower(): v for k, v in request.headers.items()},
                }
            )
            if self.fail_first:
                self.fail_first -= 1
                return Response("busy", status_code=503)
            return await call_next(request)  # type: ignore[no-any-return]

        @app.get("/v1/items")
        async def items(request: Request, page: int = 1) -> Any:
            if page == 1:
                nxt = self.next or f"{self.url}/v1/items?page=2"
                return {"data": [{"id": 1}, {"id": 2}], "next": nxt}
            # a record that is not an object: a quarantine reason naming this page
            return {"data": [{"id": 3}, "not an object"], "next": None}

        @app.get("/v1/link")
        async def link(request: Request, page: int = 1) -> Any:
            if page == 1:
                nxt = self.next or f"{self.url}/v1/link?page=2"
                return JSONResponse([{"id": 1}], headers={"Link": f'<{nxt}>; rel="next"'})
            return [{"id": 2}]

        @app.get("/v1/detail/{id}")
        async def detail(id: int, request: Request) -> Any:
            if id == 2:  # the API quotes the key it was given, as many do
                said = {"error": f"no detail {id} for key {request.query_params.get('api_key')}"}
                return JSONResponse(said, status_code=404)
            return {"id": id, "name": f"item {id}"}

        @app.get("/v1/broken")
        async def broken(request: Request) -> Any:
            return JSONResponse({"error": f"not implemented: {request.url}"}, status_code=501)

        self.app = app

    def carried(self) -> list[dict[str, Any]]:
        """The credentials each request carried (empty dicts: none)."""
        return [
            {
                **{k: v for k, v in r["headers"].items() if k in ("authorization", "x-api-key")},
                **{k: v for k, v in r["query"].items() if k == "api_key"},
            }
            for r in self.seen
        ]


@pytest.fixture
def api() -> Iterator[Api]:
    a = Api("a")
    with SimServer(a.app) as server:
        a.url = server.url
        yield a


@pytest.fixture
def other() -> Iterator[Api]:
    b = Api("b")
    with SimServer(b.app) as server:
        b.url = server.url
        yield b


def project(base: str, source: str, alerts: str = "") -> str:
    return f"""
{alerts}
pipelines:
  p:
    sources:
      s:
        type: http
        base_url: {base}
        retry: {{max_attempts: 3, backoff: 0.01, max_backoff: 0.02}}
{source}
    table:
      name: items
      columns:
        id: {{type: integer, required: true}}
        name: string
"""


QUERY_KEY = f"        auth: {{type: api_key, in: query, name: api_key, value: {KEY}}}"


def events(root: Path, run_id: str) -> list[dict[str, Any]]:
    store = StateStore(load_project(root).state_url())
    try:
        return [{"message": e.message, "data": e.data} for e in store.events(run_id)]
    finally:
        store.close()


def test_the_api_key_is_in_no_error_reason_warning_or_alert(
    api: Api, make_project: Callable[..., Path], run_project: Any, capture: Capture
) -> None:
    source = (
        QUERY_KEY + "\n        endpoint: /v1/items\n        records: data\n"
        "        paginate: {style: next_url, next_url_path: next}\n"
        "        fan_out: {endpoint: '/v1/detail/{id}'}"
    )
    api.fail_first = 1  # a retry warning for the first page
    root = make_project(project(api.url, source))
    out = run_project(root)
    assert out.status == "succeeded_with_quarantine", out.report.errors
    reasons = [r for e in out.quarantine() for r in e.reasons]
    assert any("api_key=***" in r and "a record is not a JSON object" in r for r in reasons), (
        reasons
    )
    assert any("answered HTTP 404" in r for r in reasons), reasons
    log = events(root, out.report.run_id)
    assert any(e["message"].startswith("retry 1/2 of GET") for e in log), log
    assert KEY in json.dumps(api.carried())  # it was sent: to the API, and only there
    shown = {
        "report": json.dumps(out.report.as_dict()),
        "quarantine reasons": json.dumps(reasons),
        "log": json.dumps(log),
    }

    # The same API failing: the error, and the alert quoting it.
    (root / "sluice.yaml").write_text(
        project(
            api.url,
            QUERY_KEY + "\n        endpoint: /v1/broken",
            alerts="alerts:\n  webhook: ${HOOK}\n  base_url: http://svc:8000",
        )
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOOK", f"{capture.url}/hook")
        failed = run_project(root)
        alerter = Alerter(load_project(root), retry=Retry(max_attempts=2, backoff=0.01))
        assert alerter.after_run(failed.report)
        failed_log = events(root, failed.report.run_id)
    assert failed.status == "failed"
    (error,) = failed.report.errors
    assert error["message"].startswith(f"GET {api.url}/v1/broken?api_key=*** answered HTTP 501")
    shown |= {
        "error": json.dumps(failed.report.as_dict()),
        "failed run's log": json.dumps(failed_log),
        "alert": json.dumps(capture.received),
    }
    leaked = [where for where, text in shown.items() if KEY in text]
    assert not leaked, {w: shown[w] for w in leaked}


WALKS = {
    "next_url": "        endpoint: /v1/items\n        records: data\n"
    "        paginate: {style: next_url, next_url_path: next}",
    "link_header": "        endpoint: /v1/link\n        paginate: {style: link_header}",
}
CREDENTIALS = {
    "bearer and a header": f"        auth: {{type: bearer, token: {TOKEN}}}\n"
    f"        headers: {{X-Api-Key: {KEY}}}",
    "a key in the query": QUERY_KEY,
}
SENT = {
    "bearer and a header": {"authorization": f"Bearer {TOKEN}", "x-api-key": KEY},
    "a key in the query": {"api_key": KEY},
}


@pytest.mark.parametrize("credentials", sorted(CREDENTIALS))
@pytest.mark.parametrize("style", sorted(WALKS))
def test_a_next_page_on_another_origin_gets_no_credentials(
    style: str,
    credentials: str,
    api: Api,
    other: Api,
    make_project: Callable[..., Path],
    run_project: Any,
) -> None:
    path = WALKS[style].split()[1]
    api.next = f"{other.url}{path}?page=2"
    root = make_project(project(api.url, CREDENTIALS[credentials] + "\n" + WALKS[style]))
    out = run_project(root)
    assert out.status in ("succeeded", "succeeded_with_quarantine"), out.report.errors
    assert [r["path"] for r in other.seen] == [path]  # followed: page 2 was loaded
    assert api.carried() == [SENT[credentials]]
    assert other.carried() == [{}]
    warned = [
        e["message"] for e in events(root, out.report.run_id) if "another origin" in e["message"]
    ]
    assert len(warned) == 1 and "trusted_origins" in warned[0], warned


@pytest.mark.parametrize("style", sorted(WALKS))
def test_a_trusted_origin_gets_the_credentials(
    style: str, api: Api, other: Api, make_project: Callable[..., Path], run_project: Any
) -> None:
    path = WALKS[style].split()[1]
    api.next = f"{other.url}{path}?page=2"
    trusted = f"\n        trusted_origins: ['{other.url}/']"
    credentials = CREDENTIALS["bearer and a header"]
    out = run_project(make_project(project(api.url, credentials + trusted + "\n" + WALKS[style])))
    assert out.status in ("succeeded", "succeeded_with_quarantine"), out.report.errors
    assert other.carried() == [SENT["bearer and a header"]]


def test_a_recorded_cassette_keeps_no_key_header_whatever_its_name(
    api: Api, make_project: Callable[..., Path], run_project: Any, tmp_path: Path
) -> None:
    import vcr

    from sluice.engine.record import record

    source = (
        f"        auth: {{type: api_key, name: X-Client, value: {KEY}}}\n"
        f"        headers: {{X-Tenant-Token: {TOKEN}, Accept: application/json}}\n"
        "        endpoint: /v1/link\n        paginate: {style: link_header}"
    )
    root = make_project(project(api.url, source))
    cassette = tmp_path / "cassettes" / "p.yaml"
    recorded = record(load_project(root), "p", cassette)
    assert not recorded.errors, recorded.errors
    assert api.seen[0]["headers"]["x-client"] == KEY  # sent: to the API only
    saved = cassette.read_text()
    assert KEY not in saved and TOKEN not in saved
    assert "application/json" in saved  # other headers are kept
    with vcr.use_cassette(str(cassette), record_mode="none"):
        assert not run_project(root).report.errors  # it replays offline
