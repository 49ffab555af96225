"""A row an HTTP destination refused is quarantined as it was read, so its replay goes
through the pipeline's current transforms, not the record it had been turned into
(issue 12)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from sluice.config import load_project
from sluice.engine import run_pipeline
from sluice.engine.replay import replay
from sluice.sim import SimServer, build_app
from sluice.sim.animals import animal
from sluice.state.store import StateStore

EXAMPLE = Path(__file__).parents[3] / "examples" / "animals"
SEED = 3


def home_app(state: dict[str, Any]) -> FastAPI:
    """Takes animals, refusing (422) those whose id is in ``state["refuse"]``."""
    app = FastAPI()

    @app.post("/home")
    async def home(request: Request) -> JSONResponse:
        body = await request.json()
        bad = [r["id"] for r in body if r["id"] in state["refuse"]]
        if bad:
            return JSONResponse({"detail": f"not today: {bad}"}, status_code=422)
        state["received"].extend(body)
        return JSONResponse({"ok": len(body)})

    return app


@pytest.fixture(params=["sqlite", "postgresql"])
def project(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, dict[str, Any]]]:
    if request.param == "postgresql":
        monkeypatch.setenv("SLUICE_STATE_URL", str(request.getfixturevalue("pg_url")))
    else:
        monkeypatch.delenv("SLUICE_STATE_URL", raising=False)
    shutil.copy(EXAMPLE / "sluice.yaml", tmp_path / "sluice.yaml")
    state: dict[str, Any] = {"refuse": {7}, "received": []}
    source = build_app("animals", seed=SEED, n_animals=30, error_rate=0.0, pause_rate=0.0)
    with SimServer(source) as animals, SimServer(home_app(state)) as home:
        monkeypatch.setenv("ANIMALS_API", animals.url)
        text = (tmp_path / "sluice.yaml").read_text()
        old = "url: ${ANIMALS_API:-http://127.0.0.1:8001}/animals/v1/home"
        assert old in text
        text = text.replace(old, f"url: {home.url}/home")
        (tmp_path / "sluice.yaml").write_text(text)
        yield tmp_path, state


def open_entries(root: Path) -> list[Any]:
    store = StateStore(load_project(root).state_url())
    try:
        return list(store.quarantined(pipeline="animals", status=None))
    finally:
        store.close()


def delivered_right(record: dict[str, Any]) -> bool:
    """Whether a delivered animal is its source's, transformed as the example says."""
    truth = animal(SEED, record["id"])
    friends = truth["friends"].split(",") if truth["friends"] else []
    born = record["born_at"]
    ms = None if born is None else round(datetime.fromisoformat(born).timestamp() * 1000)
    return (
        record["friends"] == friends and ms == truth["born_at"] and record["name"] == truth["name"]
    )


def test_a_refused_row_is_kept_raw_and_its_replay_is_transformed_again(
    project: tuple[Path, dict[str, Any]],
) -> None:
    root, state = project
    first = run_pipeline(load_project(root), "animals")
    assert first.status == "succeeded_with_quarantine", first.errors
    assert (first.totals.loaded, first.totals.quarantined) == (29, 1)
    (entry,) = open_entries(root)
    truth = animal(SEED, 7)
    # the row as read: the source's text, before any transform
    assert entry.payload["id"] == "7"
    assert entry.payload["friends"] == truth["friends"]
    assert entry.payload["born_at"] == (None if truth["born_at"] is None else str(truth["born_at"]))
    assert entry.line is not None
    assert "refused it" in entry.reasons[0] and "not today" in entry.reasons[0]

    # Still refused: it stays in quarantine with the API's new answer, not "replayed".
    (again,) = replay(load_project(root))
    assert again.status == "succeeded_with_quarantine", again.errors
    assert (again.totals.loaded, again.totals.quarantined) == (0, 1)
    (entry,) = open_entries(root)
    assert entry.status == "open" and "not today" in entry.reasons[0]

    state["refuse"] = set()  # the API takes it now
    (done,) = replay(load_project(root))
    assert done.status == "succeeded", done.errors
    assert done.totals.loaded == 1
    (seven,) = [r for r in state["received"] if r["id"] == 7]
    assert delivered_right(seven), seven
    assert all(delivered_right(r) for r in state["received"])
    assert len(state["received"]) == 30
    (entry,) = open_entries(root)
    assert entry.status == "replayed"
