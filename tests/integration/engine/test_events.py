"""examples/events end to end on NOAA's Storm Events "details" layout: a zip download and
files as NCEI publishes them (gzipped, every era), local times to UTC with the right
century, zone names through the documented mapping, damages to dollars, dirty rows
quarantined, a new archive merged, the same archive skipped.

Every expected value is computed here, independently of sluice: the CSV read with the
standard library, times with ``datetime.strptime`` and the offset, damages with
``Decimal``.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
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
from typer.testing import CliRunner

from sluice.cli.app import app
from sluice.config import load_project
from sluice.destinations import connect
from sluice.destinations.sql import SqlDestination
from sluice.engine import run_pipeline
from sluice.engine.report import RunReport
from sluice.sim.events import EventsConfig, create_app, file_name
from sluice.sim.noaa import write_details
from sluice.sim.server import SimServer
from sluice.state.store import StateStore
from tests.conftest import warehouse_url

EXAMPLE = Path(__file__).parents[3] / "examples" / "events"
CONFIG = EventsConfig(seed=11, n_events=300, dirty_rate=0.05)
LOCAL = re.compile(r"^(\d{2}-[A-Za-z]{3}-)(\d{2})( \d{2}:\d{2}:\d{2})$")
AMOUNT = re.compile(r"^(\d+(?:\.\d+)?|\.\d+)([KMB]?)$")
FACTOR = {"": 1, "K": 1000, "M": 1_000_000, "B": 1_000_000_000}
OFFSET = re.compile(r"^[A-Za-z]+(-?\d{1,2})$")  # CST-6, GST10 (Guam: UTC+10)
# The documented fixed mapping of bare US zone names (standard and daylight), in hours.
NAMES = {
    "UTC": 0, "GMT": 0, "AST": -4, "ADT": -3, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5,
    "MST": -7, "MDT": -6, "PST": -8, "PDT": -7, "AKST": -9, "AKDT": -8, "HST": -10,
    "HDT": -9, "SST": -11, "GST": 10, "CHST": 10,
}  # fmt: skip
# What a file of each era must load, at least (the rest quarantined with reasons).
SHARE = {2024: 0.99, 1996: 0.95, 1950: 0.95}


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
    folder = tmp_path / "project"
    folder.mkdir()
    shutil.copy(EXAMPLE / "sluice.yaml", folder / "sluice.yaml")
    monkeypatch.setenv("SLUICE_WAREHOUSE_URL", warehouse)
    monkeypatch.delenv("SLUICE_STATE_URL", raising=False)
    return folder


def download(server: SimServer) -> list[dict[str, str]]:
    """The rows of the archive the simulator serves now, read with the standard library."""
    body = httpx.get(f"{server.url}/events/latest.zip").content
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        (name,) = zf.namelist()
        return list(csv.DictReader(io.StringIO(zf.read(name).decode())))


def read_gz(path: Path) -> list[dict[str, str]]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def local_time(text: str, year: int) -> datetime | None:
    """``28-APR-50 14:45:00`` in a file of 1950 -> 1950-04-28 14:45 (None: not a time).

    The two digits become the year ending in them nearest ``year`` (from year - 50 to
    year + 49), then Python's strptime reads the text with that four-digit year.
    """
    match = LOCAL.match(text)
    if match is None:
        return None
    full = year - 50 + (int(match[2]) - (year - 50)) % 100
    try:
        return datetime.strptime(f"{match[1]}{full}{match[3]}", "%d-%b-%Y %H:%M:%S")
    except ValueError:
        return None


def offset_hours(zone: str) -> int | None:
    match = OFFSET.match(zone)
    return int(match[1]) if match else NAMES.get(zone.upper())


def to_utc(local: str, zone: str, year: str) -> datetime | None:
    naive, hours = local_time(local, int(year)), offset_hours(zone)
    if naive is None or hours is None:
        return None
    return naive.replace(tzinfo=timezone(timedelta(hours=hours))).astimezone(UTC)


def dollars(text: str) -> Decimal | bool | None:
    """``10.00K`` -> 10000, ``.5K`` -> 500, ``""`` -> None, not an amount -> False."""
    if text == "":
        return None
    match = AMOUNT.match(text)
    if match is None:
        return False
    return Decimal(match[1]) * FACTOR[match[2]]


def number(text: str, kind: type[int] | type[float]) -> int | float | None:
    return kind(text) if text else None


def bad_field(row: dict[str, str]) -> str | None:
    """The header of the value that must quarantine this row (None: it loads)."""
    if offset_hours(row["CZ_TIMEZONE"]) is None:
        return "CZ_TIMEZONE"
    if local_time(row["BEGIN_DATE_TIME"], int(row["YEAR"])) is None:
        return "BEGIN_DATE_TIME"
    for column in ("DAMAGE_PROPERTY", "DAMAGE_CROPS"):
        if dollars(row[column]) is False:
            return column
    return None


def expected(rows: list[dict[str, str]]) -> tuple[dict[int, dict[str, Any]], set[int]]:
    """(the table's rows by event_id, the ids that must be quarantined)."""
    good, dirty = {}, set()
    for row in rows:
        key = int(row["EVENT_ID"])
        if bad_field(row) is not None:
            dirty.add(key)
            continue
        good[key] = {
            "event_id": key,
            "episode_id": number(row["EPISODE_ID"], int),
            "year": int(row["YEAR"]),
            "state": row["STATE"].title(),
            "event_type": row["EVENT_TYPE"],
            "cz_name": row["CZ_NAME"],
            "begin_date_time": to_utc(row["BEGIN_DATE_TIME"], row["CZ_TIMEZONE"], row["YEAR"]),
            "end_date_time": to_utc(row["END_DATE_TIME"], row["CZ_TIMEZONE"], row["YEAR"]),
            "cz_timezone": row["CZ_TIMEZONE"],
            "injuries_direct": int(row["INJURIES_DIRECT"]),
            "injuries_indirect": int(row["INJURIES_INDIRECT"]),
            "deaths_direct": int(row["DEATHS_DIRECT"]),
            "deaths_indirect": int(row["DEATHS_INDIRECT"]),
            "damage_property": dollars(row["DAMAGE_PROPERTY"]),
            "damage_crops": dollars(row["DAMAGE_CROPS"]),
            "tor_f_scale": row["TOR_F_SCALE"] or None,
            "begin_lat": number(row["BEGIN_LAT"], float),
            "begin_lon": number(row["BEGIN_LON"], float),
            "end_lat": number(row["END_LAT"], float),
            "end_lon": number(row["END_LON"], float),
            "episode_narrative": row["EPISODE_NARRATIVE"] or None,
            "event_narrative": row["EVENT_NARRATIVE"] or None,
        }
    return good, dirty


def normal(row: dict[str, Any]) -> dict[str, Any]:
    """A row as read back, in comparable types (SQLite gives text and floats)."""
    out = dict(row)
    for col in ("begin_date_time", "end_date_time"):
        when = out[col]
        if isinstance(when, str):
            when = datetime.fromisoformat(when)
        out[col] = when if when.tzinfo else when.replace(tzinfo=UTC)
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


def accounted(report: RunReport | dict[str, Any]) -> None:
    t = report.as_dict()["totals"] if isinstance(report, RunReport) else report["totals"]
    assert t["read"] == t["loaded"] + t["quarantined"] + t["filtered"], t


def quarantine(project: Path) -> dict[int, list[str]]:
    """The open quarantine of the events pipeline: reasons by EVENT_ID."""
    store = StateStore(load_project(project).state_url())
    try:
        entries = store.quarantined(pipeline="events")
    finally:
        store.close()
    out = {}
    for entry in entries:
        payload = entry.payload or {}  # the raw fields, under the file's headers
        assert entry.kind == "row" and entry.line is not None
        out[int(payload["EVENT_ID"])] = list(entry.reasons)
    return out


def check_reasons(rows: list[dict[str, str]], reasons: dict[int, list[str]]) -> None:
    """Each quarantined row's reasons name the bad column and quote its value."""
    for row in rows:
        key = int(row["EVENT_ID"])
        if key in reasons:
            header = bad_field(row)
            assert header is not None
            said = f"{header.lower()}: '{row[header]}'"
            if header == "CZ_TIMEZONE":  # said of the time it could not convert
                said = f"begin_date_time: cz_timezone '{row[header]}'"
            assert any(r.startswith(said) for r in reasons[key]), (said, reasons[key])


def test_events_download_convert_quarantine_merge_and_skip(
    example: Path, api: SimServer, warehouse: str
) -> None:
    rows = download(api)
    good, dirty = expected(rows)
    assert 5 <= len(dirty) <= 30
    zones = {r["CZ_TIMEZONE"] for r in rows}
    assert {"EST-5", "CST-6", "MST-7", "PST-8", "CST", "EST"} <= zones
    assert min(int(r["YEAR"]) for r in rows) < 1960

    report = run_pipeline(load_project(example), "events")
    assert report.status == "succeeded_with_quarantine", report.errors
    assert (report.totals.read, report.totals.loaded) == (300, len(good))
    assert report.totals.quarantined == len(dirty)
    accounted(report)

    loaded = table(warehouse)
    assert loaded == comparable(good)
    loaded_zones = {row["cz_timezone"] for row in loaded.values()}
    assert {"CST-6", "CST", "CDT"} <= loaded_zones  # offsets and bare names both load
    for row in loaded.values():  # the century from YEAR, not strptime's 1969-2068 rule
        assert abs(row["begin_date_time"].year - row["year"]) <= 1, row

    # Every dirty row is in quarantine, with a reason naming the bad column.
    reasons = quarantine(example)
    assert set(reasons) == dirty
    check_reasons(rows, reasons)

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


def test_noaa_files_as_published_every_era(example: Path, warehouse: str) -> None:
    """`sluice run events --file StormEvents_details-...csv.gz`, one file per era."""
    files = {
        2024: write_details(example.parent, 2024, 2000, seed=5, dirty_rate=0.005),
        1996: write_details(example.parent, 1996, 2000, seed=5, dirty_rate=0.02),
        1950: write_details(example.parent, 1950, 2000, seed=5, dirty_rate=0.02),
    }
    everything: dict[int, dict[str, Any]] = {}
    for year, path in files.items():
        assert path.name.startswith(f"StormEvents_details-ftp_v1.0_d{year}_c")
        rows = read_gz(path)
        good, dirty = expected(rows)
        done = CliRunner().invoke(
            app, ["run", "events", "-p", str(example), "--file", str(path), "--json"]
        )
        assert done.exit_code in (0, 3), done.output
        report = json.loads(done.stdout)
        totals = report["totals"]
        assert (totals["read"], totals["loaded"]) == (2000, len(good)), report
        assert totals["quarantined"] == len(dirty)
        assert totals["loaded"] >= SHARE[year] * 2000, (year, totals)
        accounted(report)
        everything.update(good)

        # Each loaded time is the local time at its zone's offset, in its own century.
        loaded = table(warehouse)
        assert {k: loaded[k] for k in good} == comparable(good)
        assert all(abs(loaded[k]["begin_date_time"].year - year) <= 1 for k in good)
        reasons = quarantine(example)
        assert dirty <= set(reasons)
        check_reasons(rows, reasons)

        if year < 2007:  # bare names (standard and daylight, in any case) loaded
            zones = {loaded[k]["cz_timezone"] for k in good}
            assert {"CST", "EST", "CDT"} <= zones
            assert any(z != z.upper() for z in zones), zones  # ESt, cst
        if year == 1950:
            props = {r["DAMAGE_PROPERTY"]: r["EVENT_ID"] for r in rows}
            assert loaded[int(props[".5K"])]["damage_property"] == Decimal(500)
            assert loaded[int(props[".25M"])]["damage_property"] == Decimal(250_000)
            assert all(loaded[k]["episode_id"] is None for k in good)
    assert table(warehouse) == comparable(everything)


def test_events_from_the_gzipped_url(
    tmp_path: Path, api: SimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The simulator's .csv.gz, by url, loads as its zip does."""
    yaml = (EXAMPLE / "sluice.yaml").read_text(encoding="utf-8")
    assert "/events/latest.zip" in yaml
    (tmp_path / "sluice.yaml").write_text(yaml.replace("latest.zip", file_name(1)))
    monkeypatch.setenv("SLUICE_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'w.db'}")
    monkeypatch.delenv("SLUICE_STATE_URL", raising=False)
    good, dirty = expected(download(api))
    report = run_pipeline(load_project(tmp_path), "events")
    assert report.status == "succeeded_with_quarantine", report.errors
    assert (report.totals.loaded, report.totals.quarantined) == (len(good), len(dirty))
    assert table(f"sqlite:///{tmp_path / 'w.db'}") == comparable(good)
