"""The ``http`` source: REST JSON APIs with pagination, fan-out, retries and rate limits.

Its classes load on first use (PEP 562): importing :mod:`sluice.sources.http.records`
(a run's dead letter does) must not import httpx, 0.1-0.2 s of a file-only run's start.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "HttpReader": "sluice.sources.http.reader",
    "HttpSource": "sluice.sources.http.source",
    "HttpUnit": "sluice.sources.http.source",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["HttpReader", "HttpSource", "HttpUnit"]
