"""Prometheus metrics after real runs: a CSV pipeline, and an API pull through two 503s."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI, Response
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from sluice.config import load_project
from sluice.engine import run_pipeline
from sluice.executors.hooks import RunHooks
from sluice.service.runtime.metrics import Metrics
from sluice.sim.server import SimServer

PROJECT = """\
    pipelines:
      files:
        sources:
          s: {path: data/*.csv}
        transforms:
          - filter: {name: no tests, keep: "a <> 'test'"}
        table: {name: t, columns: {a: string, b: {type: integer, required: true}}}
      api:
        sources:
          items:
            type: http
            base_url: ${API_URL}
            endpoint: /items
            retry: {backoff: 0.01, max_backoff: 0.05}
        table: {name: items, columns: {id: integer, name: string}}
"""
CSV = "a,b\nx,1\ny,two\ntest,3\nz,4\n"  # 4 read: 2 loaded, 1 quarantined, 1 filtered


def flaky_api(fail: int) -> FastAPI:
    app = FastAPI()
    calls = {"n": 0}
    lock = threading.Lock()

    @app.get("/items")
    def items() -> Response:
        with lock:
            calls["n"] += 1
            if calls["n"] <= fail:
                return Response("try later", status_code=503)
        return Response(
            '[{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]', media_type="application/json"
        )

    return app


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_counters_after_real_runs(
    make_project: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, unset_urls: None
) -> None:
    metrics = Metrics()
    with SimServer(flaky_api(fail=2)) as server:
        monkeypatch.setenv("API_URL", server.url)
        root = make_project(PROJECT, {"data/1.csv": CSV})
        project = load_project(root)
        first = run_pipeline(project, "files")
        again = run_pipeline(project, "files")  # the ledger: nothing new
        pulled = run_pipeline(project, "api")
    assert (first.status, again.status, pulled.status) == (
        "succeeded_with_quarantine",
        "succeeded",
        "succeeded",
    )
    for report in (first, again):
        metrics.observe(report)
    metrics.observe(pulled.as_dict())  # a report as the state store keeps it works too

    body, content_type = metrics.render()
    assert content_type.startswith("text/plain; version=")
    got = samples(body.decode())

    def value(name: str, **labels: str) -> float:
        return got[(name, tuple(sorted(labels.items())))]

    kind = "run"
    assert (
        value("sluice_runs_total", pipeline="files", status="succeeded_with_quarantine", kind=kind)
        == 1
    )
    assert value("sluice_runs_total", pipeline="files", status="succeeded", kind=kind) == 1
    assert value("sluice_runs_total", pipeline="api", status="succeeded", kind=kind) == 1
    assert value("sluice_rows_read_total", pipeline="files") == 4
    assert value("sluice_rows_loaded_total", pipeline="files") == 2
    assert value("sluice_rows_quarantined_total", pipeline="files") == 1
    assert value("sluice_rows_filtered_total", pipeline="files") == 1
    assert value("sluice_rows_loaded_total", pipeline="api") == 2
    assert value("sluice_http_requests_total", pipeline="api", stream="items") == 3
    assert value("sluice_http_retries_total", pipeline="api", stream="items") == 2
    assert value("sluice_run_duration_seconds_count", pipeline="files") == 2
    assert value("sluice_run_duration_seconds_count", pipeline="api") == 1
    assert value("sluice_run_duration_seconds_sum", pipeline="files") == pytest.approx(
        first.seconds + again.seconds, abs=0.01
    )
    assert value("sluice_last_run_timestamp_seconds", pipeline="api", status="succeeded") > 0
    assert ("sluice_http_retries_total", (("pipeline", "files"), ("stream", "s"))) not in got

    # a registry of its own: nothing leaks into the global one; a new one starts empty
    assert REGISTRY.get_sample_value("sluice_runs_total", {"pipeline": "files"}) is None
    assert samples(Metrics().render()[0].decode()) == {}


def test_run_hooks_call_every_observer_even_after_one_fails(
    make_project: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, unset_urls: None
) -> None:
    monkeypatch.setenv("API_URL", "http://127.0.0.1:9")
    root = make_project(PROJECT, {"data/1.csv": CSV})
    report = run_pipeline(load_project(root), "files")
    metrics, seen = Metrics(), []

    def broken(report: object) -> None:
        raise RuntimeError("observer bug")

    hooks = RunHooks([broken, metrics.observe])
    hooks.add(seen.append)
    hooks.after_run(report)
    assert seen == [report]
    got = samples(metrics.render()[0].decode())
    assert got[("sluice_rows_loaded_total", (("pipeline", "files"),))] == 2
