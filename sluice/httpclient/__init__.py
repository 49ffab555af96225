"""An HTTP client that gets (or sends) everything an API will take, as fast as it allows.

Three controls sit in front of every request:

* a rate limiter that spaces request starts evenly, so no one-second window ever holds
  more than ``rate_limit`` requests (the API counts arrivals; spacing is what keeps a
  burst from tripping it);
* an adaptive concurrency limit (AIMD): one more request in flight after a window of
  successes, a cut by a third on 429 (or 503 with Retry-After), timeouts, or when the
  median latency climbs well above the best seen, so a user gets near the API's
  ceiling without tuning it;
* retries with exponential backoff and full jitter on connection errors, timeouts, 429
  (``Retry-After`` honoured), 500/502/503/504 and bodies that are not JSON.

Every retry is reported to ``on_event`` with the URL, status and attempt. Messages show
the full URL (base, path, page and query) with secrets masked: a password in it, and the
values of query parameters named like keys, tokens and passwords (:func:`shown_url`); the
source's own secrets (its token, key or password) are masked wherever an answer quotes them.

Credentials go only where they were meant to: the source's ``auth`` and ``headers`` are
sent to the origin (scheme, host and port) of ``base_url`` and to its ``trusted_origins``.
A request to any other origin (a ``next_url`` or ``Link`` that points elsewhere) is sent
without them, and the first one to each origin is logged as a warning.

The package, one module a job: :mod:`~sluice.httpclient.client` (the client),
:mod:`~sluice.httpclient.stats` (what it counts, as a run report records it),
:mod:`~sluice.httpclient.gates` (rate and concurrency limits),
:mod:`~sluice.httpclient.pools` (the connections, in pools of at most 8),
:mod:`~sluice.httpclient.retries` (what is retried, how long to wait),
:mod:`~sluice.httpclient.credentials` (where credentials go, how URLs are shown) and
:mod:`~sluice.httpclient.tls` (one TLS context shared by every client).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sluice.httpclient.stats import HttpStats, HttpStatsRecord
from sluice.lazy import lazy_exports

if TYPE_CHECKING:
    from sluice.httpclient.client import DeadlineExceeded, EventSink, HttpClient, HttpSettings
    from sluice.httpclient.credentials import auth_settings, origin, secret_values, shown_url
    from sluice.httpclient.gates import AdaptiveLimit, RateLimiter
    from sluice.httpclient.retries import RETRY_STATUS, backoff, retry_after

#: public name -> the module that defines it, imported on first use (PEP 562): a run
#: report names HttpStatsRecord, and a command that only reads reports (`sluice runs`,
#: `sluice show`) should not pay for httpx (about 0.1 s)
_HOMES = {
    "AdaptiveLimit": "sluice.httpclient.gates",
    "DeadlineExceeded": "sluice.httpclient.client",
    "EventSink": "sluice.httpclient.client",
    "HttpClient": "sluice.httpclient.client",
    "HttpSettings": "sluice.httpclient.client",
    "RETRY_STATUS": "sluice.httpclient.retries",
    "RateLimiter": "sluice.httpclient.gates",
    "auth_settings": "sluice.httpclient.credentials",
    "backoff": "sluice.httpclient.retries",
    "origin": "sluice.httpclient.credentials",
    "retry_after": "sluice.httpclient.retries",
    "secret_values": "sluice.httpclient.credentials",
    "shown_url": "sluice.httpclient.credentials",
}

__all__ = [
    "RETRY_STATUS",
    "AdaptiveLimit",
    "DeadlineExceeded",
    "EventSink",
    "HttpClient",
    "HttpSettings",
    "HttpStats",
    "HttpStatsRecord",
    "RateLimiter",
    "auth_settings",
    "backoff",
    "origin",
    "retry_after",
    "secret_values",
    "shown_url",
]

__getattr__, __dir__ = lazy_exports(__name__, _HOMES, globals())
