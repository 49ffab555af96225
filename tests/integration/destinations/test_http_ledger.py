"""The http destination on its own: its delivery ledger is whatever the caller hands it.

No state store here: a dict-backed ledger stands in for the engine's (the plugin is
meant to need nothing more), and a small endpoint that refuses records marked bad.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import polars as pl
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from sluice.config import HttpDestinationConfig
from sluice.destinations.http import HttpDestination
from sluice.schema import ColumnSpec, TableSpec
from sluice.sim import SimServer

TABLE = TableSpec("things", [ColumnSpec("id", "integer"), ColumnSpec("bad", "boolean")], ["id"])


class MemoryLedger:
    """The ledger's three calls over dicts: statuses by key, outcomes by run."""

    def __init__(self) -> None:
        self.statuses: dict[str, str] = {}
        self.outcomes: dict[str, str] = {}

    def status(self, keys: list[str]) -> dict[str, str]:
        return {k: self.statuses[k] for k in keys if k in self.statuses}

    def record(self, outcomes: Mapping[str, str]) -> None:
        self.outcomes.update(outcomes)

    def mark(self, keys: list[str], status: str) -> None:
        self.statuses.update(dict.fromkeys(keys, status))


@pytest.fixture
def endpoint() -> Iterator[tuple[str, list[Any]]]:
    received: list[Any] = []
    app = FastAPI()

    @app.post("/take")
    async def take(request: Request) -> JSONResponse:
        body = await request.json()
        if any(r["bad"] for r in body):
            return JSONResponse({"detail": "a bad record"}, status_code=422)
        received.extend(r["id"] for r in body)
        return JSONResponse({"ok": len(body)})

    with SimServer(app) as server:
        yield server.url + "/take", received


def test_a_ledger_callback_is_all_the_http_destination_needs(
    endpoint: tuple[str, list[Any]],
) -> None:
    url, received = endpoint
    cfg = HttpDestinationConfig(type="http", url=url, batch_size=2)
    ledger = MemoryLedger()
    frame = pl.DataFrame({"id": [1, 2, 3, 4, 5], "bad": [False, False, True, False, False]})

    dest = HttpDestination(cfg, key="id", ledger=ledger)
    assert dest.warehouse() is None and dest.capabilities.keeps_raw
    result = dest.load(TABLE, "append", "load-1", [frame])
    assert result.rows == 5 and result.skipped == 0
    assert [(r["id"], "refused" in why) for r, why in result.rejected] == [(3, True)]
    assert sorted(received) == [1, 2, 4, 5]
    assert ledger.statuses == {
        "1": "acked",
        "2": "acked",
        "3": "rejected",
        "4": "acked",
        "5": "acked",
    }
    assert ledger.outcomes["3"] == "rejected" and ledger.outcomes["1"] == "delivered"
    stats = dest.delivery_stats()
    assert stats is not None and stats["requests"] >= 3 and "422" in stats["statuses"]

    # Another destination on the same ledger sends only what was never acknowledged.
    again = HttpDestination(cfg, key="id", ledger=ledger).load(TABLE, "append", "load-2", [frame])
    assert again.skipped == 4 and sorted(received) == [1, 2, 4, 5]
    assert [r["id"] for r, _ in again.rejected] == [3]
