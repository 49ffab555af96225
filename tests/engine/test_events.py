"""examples/events end to end: a zip download, local times to UTC, damages to dollars,
dirty rows quarantined, a new archive merged, the same archive skipped."""

from __future__ import annotations

import csv
import io
import re
import shutil
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from sluice.config import load_project
from sluice.destinations import connect
from sluice.destinations.sql import SqlDestination
from sluice.engine import run_pipeline
from sluice.engine.report import RunReport
from sluice.sim.events import EventsConfig, create_app
from sluice.sim.server import SimServer
from sluice.state.store import StateStore
from tests.conftest import warehouse_url

EXAMPLE = Path(__file__).parents[2] / "examples" / "events"
CONFIG = EventsConfig(seed=11, n_events=300, dirty_rate=0.05)
AMOUNT = re.compile(r"^(\d+(?:\.\d+)?)([KMB]?)$")
FACTOR = {"": 1, "K": 1000, "M": 1_000_000, "B": 1_000_000_000}


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return warehouse_url(request, request.param, tmp_path)


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[SimServer]:
    with SimServer(create_app(CONFIG)) as server:
        monkeypatch.setenv("EVENTS_API", server.url)
        yield server


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warehouse: str) -> Path:
    shutil.copy(EXAMPLE / "sluice.yaml", tmp_path / "sluice.yaml")
    monkeypatch.setenv("SLUICE_WAREHOUSE_URL", warehouse)
    monkeypatch.delenv("SLUICE_STATE_URL", raising=False)
    return tmp_path


def download(server: SimServer) -> list[dict[str, str]]:
    """The rows of the archive the simulator serves now, read with the standard library."""
    body = httpx.get(f"{server.url}/events/latest.zip").content
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        (name,) = zf.namelist()
        return list(csv.DictReader(io.StringIO(zf.read(name).decode())))


def to_utc(local: str, zone: str) -> datetime | None:
    """``01-JAN-24 13:05:00`` at ``CST-6`` -> 2024-01-01 19:05 UTC (None: not a date)."""
    try:
        naive = datetime.strptime(local, "%d-%b-%y %H:%M:%S")
    except ValueError:
        return None
    name, hours = zone.split("-")
    assert name.isalpha()
    return naive.replace(tzinfo=timezone(timedelta(hours=-int(hours)))).astimezone(UTC)


def dollars(text: str) -> Decimal | bool | None:
    """``10.00K`` -> 10000, ``""`` -> None, not an amount -> False."""
    if text == "":
        return None
    match = AMOUNT.match(text)
    if match is None:
        return False
    return Decimal(match[1]) * FACTOR[match[2]]


def expected(rows: list[dict[str, str]]) -> tuple[dict[int, dict[str, Any]], set[int]]:
    """(the table's rows by event_id, the ids that must be quarantined)."""
    good, dirty = {}, set()
    for row in rows:
        key = int(row["EVENT_ID"])
        begin = to_utc(row["BEGIN_DATE_TIME"], row["CZ_TIMEZONE"])
        prop, crops = dollars(row["DAMAGE_PROPERTY"]), dollars(row["DAMAGE_CROPS"])
        if begin is None or prop is False or crops is False:
            dirty.add(key)
            continue
        good[key] = {
            "event_id": key,
            "state": row["STATE"].title(),
            "event_type": row["EVENT_TYPE"],
            "begin_date_time": begin,
            "cz_timezone": row["CZ_TIMEZONE"],
            "injuries_direct": int(row["INJURIES_DIRECT"]),
            "deaths_direct": int(row["DEATHS_DIRECT"]),
            "damage_property": prop,
            "damage_crops": crops,
            "begin_lat": float(row["BEGIN_LAT"]) if row["BEGIN_LAT"] else None,
            "begin_lon": float(row["BEGIN_LON"]) if row["BEGIN_LON"] else None,
        }
    return good, dirty


def normal(row: dict[str, Any]) -> dict[str, Any]:
    """A row as read back, in comparable types (SQLite gives text and floats)."""
    out = dict(row)
    when = out["begin_date_time"]
    if isinstance(when, str):
        when = datetime.fromisoformat(when)
    out["begin_date_time"] = when if when.tzinfo else when.replace(tzinfo=UTC)
    for col in ("damage_property", "damage_crops"):
        if out[col] is not None:
            out[col] = Decimal(str(out[col])).normalize()
    return out


def table(url: str) -> dict[int, dict[str, Any]]:
    dest = connect(url)
    assert isinstance(dest, SqlDestination)
    try:
        with dest.engine.connect() as c:
            rows = c.execute(sa.text("SELECT * FROM us_event_data")).mappings().all()
            (distinct,) = c.execute(
                sa.text("SELECT COUNT(DISTINCT event_id) FROM us_event_data")
            ).one()
    finally:
        dest.close()
    assert distinct == len(rows), "duplicate event ids"
    return {int(r["event_id"]): normal(dict(r)) for r in rows}


def comparable(good: dict[int, dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {k: normal(v) for k, v in good.items()}


def accounted(report: RunReport) -> None:
    t = report.totals
    assert t.read == t.loaded + t.quarantined + t.filtered, report.as_dict()["totals"]


def test_events_download_convert_quarantine_merge_and_skip(
    example: Path, api: SimServer, warehouse: str
) -> None:
    rows = download(api)
    good, dirty = expected(rows)
    assert 5 <= len(dirty) <= 30
    zones = {r["CZ_TIMEZONE"] for r in rows}
    assert {"EST-5", "CST-6", "MST-7", "PST-8", "AKST-9", "HST-10"} <= zones

    report = run_pipeline(load_project(example), "events")
    assert report.status == "succeeded_with_quarantine", report.errors
    assert (report.totals.read, report.totals.loaded) == (300, len(good))
    assert report.totals.quarantined == len(dirty)
    accounted(report)

    loaded = table(warehouse)
    assert loaded == comparable(good)
    by_zone = {zone: 0 for zone in zones}
    for key, row in loaded.items():
        by_zone[row["cz_timezone"]] += 1
        # A spot check of the arithmetic: local + |offset| hours.
        raw = next(r for r in rows if int(r["EVENT_ID"]) == key)
        local = datetime.strptime(raw["BEGIN_DATE_TIME"], "%d-%b-%y %H:%M:%S")
        hours = int(raw["CZ_TIMEZONE"].split("-")[1])
        assert row["begin_date_time"].replace(tzinfo=None) - local == timedelta(hours=hours)
    assert all(n > 0 for n in by_zone.values()), by_zone
    damages = {r["DAMAGE_PROPERTY"]: loaded[int(r["EVENT_ID"])]["damage_property"]
               for r in rows if int(r["EVENT_ID"]) in loaded}  # fmt: skip
    assert damages.get("10.00K", Decimal(10000)) == Decimal(10000)
    assert damages.get("2.5M", Decimal(2500000)) == Decimal(2500000)
    assert damages[""] is None
    assert damages["0.00K"] == 0
    assert any(v is not None and v >= 1_000_000 for v in damages.values())

    # Every dirty row is in quarantine, with a reason naming the bad column.
    project = load_project(example)
    store = StateStore(project.state_url())
    try:
        entries = store.quarantined(pipeline="events")
    finally:
        store.close()
    assert len(entries) == len(dirty)
    assert {int((e.payload or {})["EVENT_ID"]) for e in entries} == dirty
    for entry in entries:
        payload = entry.payload or {}  # the raw fields, under the file's headers
        assert entry.kind == "row" and entry.line is not None
        assert entry.unit.endswith(".csv")
        if to_utc(payload["BEGIN_DATE_TIME"], payload["CZ_TIMEZONE"]) is None:
            assert any(r.startswith("begin_date_time: '") for r in entry.reasons), entry.reasons
        else:
            assert any("is not an amount" in r for r in entry.reasons), entry.reasons

    # The same archive again: the ledger skips it, nothing is read or loaded.
    again = run_pipeline(load_project(example), "events")
    assert again.status == "succeeded", again.errors
    assert (again.totals.read, again.totals.loaded, again.totals.quarantined) == (0, 0, 0)
    assert len(again.streams["noaa"].skipped_files) == 1
    assert table(warehouse) == loaded

    # A new archive: updated events change in place, new ones are added, no duplicates.
    assert httpx.post(f"{api.url}/_sim/publish").json() == {"latest_version": 2}
    rows2 = download(api)
    good2, dirty2 = expected(rows2)
    assert len(rows2) == 315 and dirty <= dirty2
    merged = run_pipeline(load_project(example), "events")
    assert merged.status == "succeeded_with_quarantine", merged.errors
    assert (merged.totals.read, merged.totals.loaded) == (315, len(good2))
    accounted(merged)
    after = table(warehouse)
    assert after == comparable(good2)
    updated = [k for k in loaded if after[k] != loaded[k]]
    assert len(updated) >= 10
    assert len(after) - len(loaded) == len(set(good2) - set(good)) > 0
