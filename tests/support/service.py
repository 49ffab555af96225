"""A service over a copy of examples/leads (SQLite), with an operator and a viewer token."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from fastapi.testclient import TestClient

from sluice.config import load_project
from sluice.service import ServiceSettings, create_app
from sluice.testing import Gate

# random-looking, as a real token must be (the service refuses low-entropy ones)
OPERATOR = "op-nXlKeW6y6bNMb6M2FyKh1lQUsJFLRg_u"
VIEWER = "view-puM91qKhbGCNVSxobIaGEf8neoXYMGPO"
OP = {"Authorization": f"Bearer {OPERATOR}"}
VIEW = {"Authorization": f"Bearer {VIEWER}"}
FINISHED = ("succeeded", "succeeded_with_quarantine", "failed", "cancelled", "abandoned")


def settings(**kw: Any) -> ServiceSettings:
    # Starlette's TestClient sends `Host: testserver`: not a name the service answers to
    # unless told, like a proxy's name in production (SLUICE_ALLOWED_HOSTS).
    kw.setdefault("allowed_hosts", ("testserver",))
    return ServiceSettings(operator_tokens=(OPERATOR,), viewer_tokens=(VIEWER,), **kw)


@pytest.fixture
def client(leads: Path) -> Iterator[TestClient]:
    with TestClient(create_app(load_project(leads), settings())) as c:
        yield c


BIG_YAML = """
name: big
warehouse: sqlite:///big.db
pipelines:
  big:
    if_running: {if_running}
    sources:
      numbers: {{type: file, path: data/*.csv}}
    table:
      name: numbers
      columns:
        id: {{type: integer}}
        name: {{type: string}}
        amount: {{type: float}}
"""


@pytest.fixture
def big(tmp_path: Path, unset_urls: None) -> Callable[..., Path]:
    """A project loading ``rows`` generated rows (one CSV) into table ``numbers``.
    A run that must still be going when the test acts uses the ``gate`` fixture,
    not more rows."""

    def make(rows: int = 1_000, if_running: str = "reject") -> Path:
        root = tmp_path / "big"
        (root / "data").mkdir(parents=True, exist_ok=True)
        (root / "sluice.yaml").write_text(BIG_YAML.format(if_running=if_running))
        ids = pl.DataFrame({"id": pl.int_range(0, rows, eager=True)})
        data = ids.with_columns(name=pl.format("name {}", pl.col("id")), amount=pl.col("id") * 0.5)
        data.write_csv(root / "data" / "numbers.csv")
        return root

    return make


@pytest.fixture
def gate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Gate:
    """Armed: every run of this process waits after its first batch (before it commits)
    until ``gate.open()`` or a cancel (:mod:`sluice.engine.gate`)."""
    armed = Gate(tmp_path / "gate")
    monkeypatch.setenv(*armed.env)
    return armed


def wait(client: TestClient, run_id: str, timeout: float = 120.0) -> dict[str, Any]:
    """Poll the run until it finishes and its pipeline is free again; its document.

    The run process records the final status a moment before the executor
    sees the process end and lets the pipeline go: a trigger in between is refused as
    "is running" (a test that raced it failed now and then on a loaded machine)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        doc: dict[str, Any] = client.get(f"/api/runs/{run_id}", headers=VIEW).json()
        if doc["status"] in FINISHED:
            pipe = client.get(f"/api/pipelines/{doc['pipeline']}", headers=VIEW).json()
            if pipe.get("running") != run_id:
                return doc
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish in {timeout} s")


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)
