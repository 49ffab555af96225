"""The http source against a real API on loopback: pagination, retries, limits, auth."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sluice.sim.server import SimServer
from tests.support.http_app import N, create_app


@pytest.fixture
def api() -> Iterator[str]:
    with SimServer(create_app()) as server:
        yield server.url


def fail_next(api: str, *statuses: int | str, retry_after: int | str | None = None) -> None:
    httpx.post(f"{api}/_fail", json={"statuses": list(statuses), "retry_after": retry_after})


def calls(api: str) -> list[dict[str, Any]]:
    return list(httpx.get(f"{api}/_log").json())


def project(api: str, source: str, columns: str = "", extra: str = "") -> str:
    return f"""
pipelines:
  p:
    sources:
      s:
        type: http
        base_url: {api}
        retry: {{max_attempts: 4, backoff: 0.01, max_backoff: 0.05}}
{source}
{extra}
    table:
      name: items
      columns:
        id: {{type: integer, required: true}}
        name: string
        meta_color: {{type: string, accepted: [red, green, blue]}}
        meta_size: integer
        updated_at: datetime
{columns}
"""


STYLES = {
    "page": "endpoint: /items\n        params: {style: page}\n        records: data\n"
    "        paginate: {style: page, total_pages: total_pages}",
    "page_open": "endpoint: /items\n        params: {style: page_open}\n        records: data\n"
    "        paginate: {style: page, page_size: 5}",
    "offset": "endpoint: /items\n        params: {style: offset}\n        records: data\n"
    "        paginate: {style: offset, page_size: 5, total: total}",
    "offset_open": "endpoint: /items\n        params: {style: offset}\n        records: data\n"
    "        paginate: {style: offset, page_size: 5}",
    "cursor": "endpoint: /items\n        params: {style: cursor}\n        records: data\n"
    "        paginate: {style: cursor, cursor_path: meta.next}",
    "next_url": "endpoint: /items\n        params: {style: next_url}\n        records: data\n"
    "        paginate: {style: next_url, next_url_path: next}",
    "link": "endpoint: /items\n        params: {style: link}\n"
    "        paginate: {style: link_header}",
}


def indent(text: str) -> str:
    return "\n".join("        " + line.strip() for line in text.splitlines())


@pytest.mark.parametrize("style", sorted(STYLES))
def test_every_pagination_style_gets_every_record_once(
    style: str, api: str, make_project, run_project
) -> None:
    out = run_project(make_project(project(api, indent(STYLES[style]))))
    assert out.status == "succeeded", out.report.errors
    ids = [r["id"] for r in out.rows(order_by="id")]
    assert ids == list(range(1, N + 1))
    row = out.rows(order_by="id")[2]
    assert row["meta_color"] == "red" and row["meta_size"] == 30  # nested -> flattened
    assert out.counts("s").read == N


@pytest.mark.parametrize("style", ["page", "offset"])
def test_numbered_pages_load_in_the_apis_order_when_one_answers_late(
    style: str, api: str, make_project, run_project
) -> None:
    # Page 2 answers after the pages fetched beside it: its records still come second.
    src = STYLES[style].replace(f"{{style: {style}}}", f"{{style: {style}, slow: 2}}")
    out = run_project(make_project(project(api, indent(src))))
    assert out.status == "succeeded", out.report.errors
    assert [r["id"] for r in out.rows()] == list(range(1, N + 1))  # rowid: load order


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504, "broken"])
def test_retries_each_retryable_failure_and_logs_it(
    status: int | str, api: str, make_project, run_project
) -> None:
    root = make_project(project(api, indent(STYLES["cursor"])))
    fail_next(api, status, status)
    out = run_project(root)
    assert out.status == "succeeded", out.report.errors
    assert len(out.rows()) == N
    http = out.stream("s")["http"]
    assert http["retries"] == 2
    from sluice.state.store import StateStore

    store = StateStore(out.project.state_url())
    try:
        retries = [e for e in store.events(out.report.run_id) if "retry" in e.message]
    finally:
        store.close()
    assert len(retries) == 2
    assert retries[0].data["attempt"] == 1 and "/items" in retries[0].data["url"]


def test_retry_after_is_honoured(api: str, make_project, run_project) -> None:
    root = make_project(project(api, indent(STYLES["cursor"])))
    fail_next(api, 429, retry_after=1)
    out = run_project(root)
    assert out.status == "succeeded"
    log = calls(api)
    assert log[1]["t"] - log[0]["t"] >= 0.95  # waited as told, not the 0.01 s backoff


@pytest.mark.parametrize("said", ["soon", "inf", "Wed, 32 Oct 2015 07:28:00 GMT"])
def test_a_retry_after_that_is_no_time_leaves_the_wait_to_the_backoff(
    api: str, make_project, run_project, said: str
) -> None:
    # It failed the pull: "could not be sent: Invalid date value or format", though
    # the API had answered 429, and `inf` would have waited for ever.
    root = make_project(project(api, indent(STYLES["cursor"])))
    fail_next(api, 429, retry_after=said)
    out = run_project(root)
    assert out.status == "succeeded", out.report.errors
    assert out.stream("s")["http"]["retries"] == 1
    log = calls(api)
    assert log[1]["t"] - log[0]["t"] < 5


def test_a_timeout_is_retried(api: str, make_project, run_project) -> None:
    src = indent(STYLES["cursor"]) + "\n        timeout: 0.5"
    root = make_project(project(api, src))
    fail_next(api, "sleep")
    out = run_project(root)
    assert out.status == "succeeded", out.report.errors
    assert out.stream("s")["http"]["retries"] == 1


def test_an_api_that_keeps_failing_fails_the_run_and_loads_nothing(
    api: str, make_project, run_project
) -> None:
    root = make_project(project(api, indent(STYLES["cursor"])))
    fail_next(api, *([503] * 10))
    out = run_project(root)
    assert out.status == "failed"
    (err,) = out.report.errors
    assert "failed 4 times; last: HTTP 503" in err["message"]
    assert "retry.max_attempts" in err["hint"]
    assert out.quarantine() == []


def test_a_failure_after_some_pages_loads_nothing(api: str, make_project, run_project) -> None:
    # Pages 1-2 arrive, page 3 keeps failing: the pull is one unit, so none of it lands,
    # and the next run pulls everything again.
    root = make_project(project(api, indent(STYLES["cursor"])))
    fail_next(api, 200, 200, 503, 503, 503, 503)
    out = run_project(root)
    assert out.status == "failed"
    assert out.counts("s").loaded == 0
    assert out.rows() == []
    again = run_project(root)
    assert again.status == "succeeded"
    assert [r["id"] for r in again.rows(order_by="id")] == list(range(1, N + 1))


def test_the_overall_deadline_stops_a_slow_pull(api: str, make_project, run_project) -> None:
    src = indent(STYLES["cursor"]) + "\n        deadline: 0.5"
    root = make_project(project(api, src))
    httpx.post(f"{api}/_fail", json={"statuses": [], "sleep": 0.2})
    out = run_project(root)
    assert out.status == "failed"
    assert "deadline of 0.5 s" in out.report.errors[0]["message"]


def test_a_4xx_is_not_retried_and_says_how_to_fix(api: str, make_project, run_project) -> None:
    root = make_project(project(api, "        endpoint: /secret\n        records: data"))
    out = run_project(root)
    assert out.status == "failed"
    err = out.report.errors[0]
    assert "HTTP 401" in err["message"] and "auth" in err["hint"]
    assert len(calls(api)) == 1


@pytest.mark.parametrize(
    "auth",
    [
        "{type: bearer, token: '${TOKEN}'}",
        "{type: api_key, value: '${KEY}'}",
        "{type: api_key, name: api_key, in: query, value: '${KEY}'}",
        "{type: basic, username: u, password: '${PASSWORD}'}",
    ],
)
def test_auth_from_the_environment(
    auth: str, api: str, make_project, run_project, monkeypatch
) -> None:
    monkeypatch.setenv("TOKEN", "s3cret")
    monkeypatch.setenv("KEY", "k3y")
    monkeypatch.setenv("PASSWORD", "p")
    src = f"        endpoint: /secret\n        records: data\n        auth: {auth}"
    out = run_project(make_project(project(api, src)))
    assert out.status == "succeeded", out.report.errors
    assert [r["id"] for r in out.rows()] == [1]


def test_fan_out_merges_details_and_quarantines_a_missing_one(
    api: str, make_project, run_project
) -> None:
    src = indent(STYLES["page"]) + "\n        fan_out: {endpoint: '/items/{id}'}"
    out = run_project(make_project(project(api, src, columns="        detail: string")))
    assert out.status == "succeeded_with_quarantine"
    rows = out.rows(order_by="id")
    assert [r["id"] for r in rows] == [i for i in range(1, N + 1) if i != 13]
    assert rows[0]["detail"] == "more about 1" and rows[0]["name"] == "item 1"
    (q,) = out.quarantine()
    assert "HTTP 404" in q.reasons[0]
    assert json.loads(q.payload["_raw"])["id"] == 13
    c = out.counts("s")
    assert (c.read, c.loaded, c.quarantined) == (N, N - 1, 1)


def test_fan_out_pages_load_in_the_apis_order_when_a_detail_answers_late(
    api: str, make_project, run_project
) -> None:
    # item 3's detail answers after the details of later pages: page 1 still comes first
    src = indent(STYLES["page"]) + "\n        fan_out: {endpoint: '/items/{id}?slow=3'}"
    out = run_project(make_project(project(api, src, columns="        detail: string")))
    assert out.status == "succeeded_with_quarantine", out.report.errors
    ids = [r["id"] for r in out.rows()]  # rowid: load order
    assert ids == [i for i in range(1, N + 1) if i != 13]


def test_a_record_that_is_not_an_object_is_quarantined(api: str, make_project, run_project) -> None:
    src = "        endpoint: /items\n        params: {style: mixed}\n        records: data"
    out = run_project(make_project(project(api, src)))
    assert out.status == "succeeded_with_quarantine"
    assert [r["id"] for r in out.rows()] == [1, 2]
    (q,) = out.quarantine()
    assert "not a JSON object" in q.reasons[0] and q.payload["_raw"] == '"oops"'


def test_a_body_without_the_record_list_is_quarantined_with_its_payload(
    api: str, make_project, run_project
) -> None:
    src = "        endpoint: /items\n        params: {style: page}\n        records: nope"
    out = run_project(make_project(project(api, src)))
    assert out.status == "succeeded_with_quarantine"
    (q,) = out.quarantine()
    assert "expected a list of records at 'nope'" in q.reasons[0]
    assert json.loads(q.payload["_raw"])["total_pages"] == 5


def test_incremental_cursor_is_saved_and_sent(api: str, make_project, run_project) -> None:
    src = indent(STYLES["page"]) + "\n        incremental: {cursor_field: updated_at, param: since}"
    root = make_project(project(api, src))
    first = run_project(root)
    assert len(first.rows()) == N
    second = run_project(root)
    assert second.status == "succeeded"
    assert second.counts("s").read == 0  # nothing newer than the saved cursor
    assert f"since=2026-01-{N:02d}" in calls(api)[-1]["url"]
    assert len(second.rows()) == N


def test_rate_limit_is_never_exceeded(api: str, make_project, run_project) -> None:
    src = (
        indent(STYLES["page"])
        + "\n"
        + indent("fan_out: {endpoint: '/items/{id}'}\nrate_limit: 20\nconcurrency: 8")
    )
    out = run_project(make_project(project(api, src, columns="        detail: string")))
    assert out.counts("s").read == N
    times = sorted(c["t"] for c in calls(api))
    assert len(times) == 5 + N
    worst = max(sum(1 for u in times if t <= u < t + 1.0) for t in times)
    assert worst <= 20, f"{worst} calls within one second"


def test_ignore_globs_keep_unwanted_fields_out_of_drift(
    api: str, make_project, run_project
) -> None:
    src = indent(STYLES["page"]) + "\n        ignore: ['meta_*', updated_at]"
    text = "\n".join(
        line
        for line in project(api, src).splitlines()
        if not line.strip().startswith(("meta_color:", "meta_size:", "updated_at:"))
    )
    out = run_project(make_project(text))
    assert out.status == "succeeded", out.report.errors
    assert out.table_columns() == ["id", "name"]


def test_unmapped_fields_are_drift(api: str, make_project, run_project) -> None:
    src = indent(STYLES["page"])
    text = project(api, src).replace("        meta_size: integer\n", "")
    out = run_project(make_project(text))
    assert out.status == "succeeded_with_quarantine"
    (qf,) = out.stream("s")["quarantined_files"]
    assert "meta_size" in qf["reason"]


def test_file_option_is_refused_for_an_http_source(
    api: str, make_project, run_project, tmp_path: Path
) -> None:
    out = run_project(make_project(project(api, indent(STYLES["page"]))), file="x.csv", source="s")
    assert out.status == "failed"
    assert "--file needs a file source" in out.report.errors[0]["message"]


def test_record_then_run_offline_from_the_cassette(
    make_project, run_project, tmp_path: Path, monkeypatch
) -> None:
    import vcr

    from sluice.config import load_project
    from sluice.engine.record import record

    monkeypatch.setenv("TOKEN", "s3cret")
    cassette = tmp_path / "cassettes" / "p.yaml"
    with SimServer(create_app()) as server:
        src = indent(STYLES["page"]) + "\n        auth: {type: bearer, token: '${TOKEN}'}"
        root = make_project(project(server.url, src))
        recorded = record(load_project(root), "p", cassette)
        assert recorded.status == "succeeded", recorded.errors
    assert "s3cret" not in cassette.read_text()  # the token is not saved
    # The server is gone: only the cassette can answer now.
    with vcr.use_cassette(str(cassette), record_mode="none"):
        out = run_project(root)
    assert out.status == "succeeded", out.report.errors
    assert [r["id"] for r in out.rows(order_by="id")] == list(range(1, N + 1))
    # and the recording run left the project's own warehouse alone: one copy of each row
    assert len(out.rows()) == N


def shape_changing(api: str, drift: str, params: str, columns: str = "") -> str:
    """A `page` pull whose records change shape after the first page (see http_app)."""
    src = indent(
        "endpoint: /items\n"
        f"params: {{style: page, {params}}}\n"
        "records: data\n"
        "paginate: {style: page, total_pages: total_pages}\n"
        f"drift: {drift}"
    )
    return project(api, src, columns=columns)


def warnings_of(out: Any) -> list[Any]:
    from sluice.state.store import StateStore

    store = StateStore(out.project.state_url())
    try:
        return [e for e in store.events(out.report.run_id) if e.level == "warning"]
    finally:
        store.close()


def test_vanished_fields_set_the_pull_aside_and_replay_loads_it(
    api: str, make_project, run_project
) -> None:
    # page 2 answers last: the drift is still reported where the API's order puts it
    root = make_project(shape_changing(api, "quarantine", "vanish: name, slow: 2"))
    out = run_project(root)
    assert out.status == "succeeded_with_quarantine", out.report.errors
    assert out.rows() == []
    (qf,) = out.stream("s")["quarantined_files"]
    assert "vanished after the first page: name" in qf["reason"]
    assert "?page=2 has them" in qf["reason"]  # where it was first seen
    assert "drift: evolve" in qf["hint"] and "`sluice quarantine replay`" in qf["hint"]
    (entry,) = out.quarantine("file")
    assert entry.payload["diff"] == {"missing": ["name"], "unexpected": []}
    # the hint, followed: evolve, then replay loads every record from the kept pull
    text = (root / "sluice.yaml").read_text().replace("drift: quarantine", "drift: evolve")
    (root / "sluice.yaml").write_text(text)
    from sluice.config import load_project
    from sluice.engine.replay import replay

    (again,) = replay(load_project(root))
    assert again.status == "succeeded", again.errors
    assert again.totals.loaded == N


def test_vanished_fields_under_evolve_load_as_null_with_a_warning(
    api: str, make_project, run_project
) -> None:
    out = run_project(make_project(shape_changing(api, "evolve", "vanish: name")))
    assert out.status == "succeeded", out.report.errors
    rows = out.rows(order_by="id")
    assert [r["name"] for r in rows[:5]] == [f"item {i}" for i in range(1, 6)]
    assert all(r["name"] is None for r in rows[5:]) and len(rows) == N
    (drift,) = out.stream("s")["drift"]
    assert drift["vanished"] == ["name"] and "page=2" in drift["note"]
    (warning,) = [w for w in warnings_of(out) if "vanished" in w.message]
    assert "name" in warning.message and "page=2" in warning.message
    assert warning.data["fields"] == ["name"]


def test_vanished_required_field_under_evolve_quarantines_its_rows(
    api: str, make_project, run_project
) -> None:
    text = shape_changing(api, "evolve", "vanish: name").replace(
        "        name: string\n", "        name: {type: string, required: true}\n"
    )
    out = run_project(make_project(text))
    assert out.status == "succeeded_with_quarantine", out.report.errors
    assert [r["id"] for r in out.rows(order_by="id")] == [1, 2, 3, 4, 5]
    rows = out.quarantine("row")
    assert len(rows) == N - 5
    assert all(q.reasons == ["name: required but empty"] for q in rows)


def test_vanished_fields_under_fail_stop_the_run_and_the_hint_works(
    api: str, make_project, run_project
) -> None:
    root = make_project(shape_changing(api, "fail", "vanish: name"))
    out = run_project(root)
    assert out.status == "failed"
    (err,) = out.report.errors
    assert err["type"] == "DriftError" and "vanished after the first page: name" in err["message"]
    assert "`sluice run p`" in err["hint"] and "drift: evolve" in err["hint"]
    assert out.rows() == [] and out.quarantine() == []
    text = (root / "sluice.yaml").read_text().replace("drift: fail", "drift: evolve")
    (root / "sluice.yaml").write_text(text)
    assert run_project(root).status == "succeeded"  # `sluice run p`, as the hint says


def test_sparse_or_null_fields_are_not_vanished(api: str, make_project, run_project) -> None:
    # Later pages: even ids lack `name`, and `meta` is null everywhere (so its flattened
    # fields are absent): sparse JSON, not a change of shape.
    out = run_project(make_project(shape_changing(api, "fail", "sparse: name, nulled: meta")))
    assert out.status == "succeeded", out.report.errors
    rows = out.rows(order_by="id")
    assert rows[5]["name"] is None and rows[6]["name"] == "item 7"  # ids 6 and 7
    assert rows[6]["meta_color"] is None and rows[4]["meta_color"] == "blue"
    assert "drift" not in out.stream("s")
    assert not [w for w in warnings_of(out) if "vanished" in w.message]


def test_a_declared_field_the_api_never_sends_under_evolve(
    api: str, make_project, run_project
) -> None:
    columns = "        code: {type: string, required: true}\n        note: string"
    out = run_project(make_project(shape_changing(api, "evolve", "vanish: ''", columns)))
    assert out.status == "succeeded_with_quarantine", out.report.errors
    assert out.rows() == [] and out.counts("s").quarantined == N
    assert {tuple(q.reasons) for q in out.quarantine("row")} == {
        ("code: required but the API has no such field",)
    }
    (drift,) = out.stream("s")["drift"]
    assert drift["missing"] == ["code", "note"]
    assert [w.message for w in warnings_of(out)] == [
        f"{api}/items: no field for code, note: loaded as null (drift: evolve)"
    ]
