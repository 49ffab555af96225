"""Prometheus metrics of finished runs, on a registry of their own (not the global one).

    metrics = Metrics()
    metrics.observe(report)             # after each run (a RunReport or its as_dict())
    body, content_type = metrics.render()   # the body of GET /metrics

=====================================  =========  ==========================================
name                                   type       labels
=====================================  =========  ==========================================
sluice_runs_total                      counter    pipeline, status, kind (run or replay)
sluice_rows_read_total                 counter    pipeline
sluice_rows_loaded_total               counter    pipeline
sluice_rows_quarantined_total          counter    pipeline
sluice_rows_filtered_total             counter    pipeline
sluice_files_quarantined_total         counter    pipeline (whole files set aside: drift)
sluice_run_duration_seconds            histogram  pipeline
sluice_http_requests_total             counter    pipeline, stream (API pulls)
sluice_http_retries_total              counter    pipeline, stream (API pulls)
sluice_delivery_requests_total         counter    pipeline (http destinations)
sluice_delivery_retries_total          counter    pipeline (http destinations)
sluice_last_run_timestamp_seconds      gauge      pipeline, status (end of the newest run)
=====================================  =========  ==========================================

Counters count from when the process started, as Prometheus expects; ``rate()`` and
``increase()`` take care of restarts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from sluice.engine.report import RunReport

#: run durations: from a second to a few hours
BUCKETS = (1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.runs = Counter(
            "sluice_runs", "Finished runs", ["pipeline", "status", "kind"], registry=r
        )
        self.rows = {
            what: Counter(f"sluice_rows_{what}", f"Rows {what} by runs", ["pipeline"], registry=r)
            for what in ("read", "loaded", "quarantined", "filtered")
        }
        self.files_quarantined = Counter(
            "sluice_files_quarantined",
            "Whole files set aside (schema drift)",
            ["pipeline"],
            registry=r,
        )
        self.duration = Histogram(
            "sluice_run_duration_seconds",
            "Run duration",
            ["pipeline"],
            buckets=BUCKETS,
            registry=r,
        )
        self.http_requests = Counter(
            "sluice_http_requests",
            "HTTP requests of API pulls",
            ["pipeline", "stream"],
            registry=r,
        )
        self.http_retries = Counter(
            "sluice_http_retries",
            "HTTP retries of API pulls (429, 5xx, timeouts, broken bodies)",
            ["pipeline", "stream"],
            registry=r,
        )
        self.delivery_requests = Counter(
            "sluice_delivery_requests",
            "HTTP requests of http destinations",
            ["pipeline"],
            registry=r,
        )
        self.delivery_retries = Counter(
            "sluice_delivery_retries", "HTTP retries of http destinations", ["pipeline"], registry=r
        )
        self.last_run = Gauge(
            "sluice_last_run_timestamp_seconds",
            "When the newest run of a pipeline with this status finished (Unix time)",
            ["pipeline", "status"],
            registry=r,
        )
        self._lock = threading.Lock()  # one report's numbers go in together

    def observe(self, report: RunReport | Mapping[str, Any]) -> None:
        """Count one finished run."""
        data = report if isinstance(report, RunReport) else RunReport.model_validate(report)
        pipeline, status, totals = data.pipeline, str(data.status), data.totals
        with self._lock:
            self.runs.labels(pipeline, status, data.kind).inc()
            for what, counter in self.rows.items():
                counter.labels(pipeline).inc(getattr(totals, what))
            self.files_quarantined.labels(pipeline).inc(totals.quarantined_files)
            self.duration.labels(pipeline).observe(data.seconds)
            for stream, s in data.streams.items():
                http = s.http
                if http:
                    self.http_requests.labels(pipeline, stream).inc(http["requests"])
                    self.http_retries.labels(pipeline, stream).inc(http["retries"])
            delivery = data.delivery
            if delivery:
                self.delivery_requests.labels(pipeline).inc(delivery["requests"])
                self.delivery_retries.labels(pipeline).inc(delivery["retries"])
            self.last_run.labels(pipeline, status).set(time.time())

    def render(self) -> tuple[bytes, str]:
        """The text exposition format, and its content type (for ``GET /metrics``)."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


__all__ = ["Metrics"]
