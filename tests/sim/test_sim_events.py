"""The events simulator: a deterministic zip of NOAA-style CSV, its versions and knobs."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import datetime

import httpx
import typer
from typer.testing import CliRunner

from sluice.cli import sim
from sluice.sim.events import COLUMNS, STATES, EventsConfig, archive
from tests.sim.conftest import Serve

DATE = re.compile(r"^\d{2}-(JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)-24 \d{2}:\d{2}:00$")
DAMAGE = re.compile(r"^(\d+(\.\d+)?[KMB])?$")
ZONES = {"EST-5", "CST-6", "MST-7", "PST-8", "AKST-9", "HST-10"}


def real_date(text: str) -> bool:
    """As NOAA writes it, and a date that exists (31-FEB-24 does not)."""
    if not DATE.match(text):
        return False
    try:
        datetime.strptime(text, "%d-%b-%y %H:%M:%S")
    except ValueError:
        return False
    return True


def rows_of(body: bytes) -> tuple[list[str], list[dict[str, str]]]:
    """(member names, rows of the one CSV member) of an archive."""
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        names = zf.namelist()
        text = zf.read(names[0]).decode("utf-8")
    reader = csv.DictReader(io.StringIO(text))
    assert tuple(reader.fieldnames or ()) == COLUMNS
    return names, list(reader)


def get(client: httpx.Client, **params: int) -> bytes:
    answer = client.get("/events/latest.zip", params=params)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    return answer.content


def test_same_seed_same_archive_and_formats_as_specified(serve: Serve) -> None:
    client = serve("events", seed=3, dirty_rate=0.0)
    body = get(client)
    assert body == get(client) == get(serve("events", seed=3, dirty_rate=0.0))
    assert body == archive(EventsConfig(seed=3, dirty_rate=0.0))
    assert body != get(serve("events", seed=4, dirty_rate=0.0))
    names, rows = rows_of(body)
    assert names == ["StormEvents_details-ftp_v1.0_d2024_c20250101.csv"]
    assert len(rows) == 2000
    assert len({r["EVENT_ID"] for r in rows}) == 2000
    zone_of = {s.name: s.zone for s in STATES}
    for row in rows:
        assert int(row["EVENT_ID"]) > 0
        assert real_date(row["BEGIN_DATE_TIME"]), row
        assert row["CZ_TIMEZONE"] == zone_of[row["STATE"]]
        assert DAMAGE.match(row["DAMAGE_PROPERTY"]) and DAMAGE.match(row["DAMAGE_CROPS"]), row
        assert int(row["INJURIES_DIRECT"]) >= 0 and int(row["DEATHS_DIRECT"]) >= 0
        assert (row["BEGIN_LAT"] == "") == (row["BEGIN_LON"] == "")
        if row["BEGIN_LAT"]:
            assert 18 < float(row["BEGIN_LAT"]) < 64 and -160 < float(row["BEGIN_LON"]) < -70
    assert {r["CZ_TIMEZONE"] for r in rows} == ZONES
    damages = {r["DAMAGE_PROPERTY"] for r in rows}
    assert {"", "0.00K", "10.00K", "2.5M"} <= damages
    assert any(d.endswith("B") for d in damages)
    assert 0 < sum(r["BEGIN_LAT"] == "" for r in rows) < 1000
    stats = client.get("/_sim/stats").json()
    assert stats["archives_served"] == 2 and stats["latest_version"] == 1


def test_dirty_rate_and_n_events(serve: Serve) -> None:
    _, clean = rows_of(get(serve("events", n_events=200, dirty_rate=0.0)))
    _, dirty = rows_of(get(serve("events", n_events=200, dirty_rate=1.0)))
    assert len(clean) == len(dirty) == 200
    for good, bad in zip(clean, dirty, strict=True):
        assert good["EVENT_ID"] == bad["EVENT_ID"]
        bad_date = not real_date(bad["BEGIN_DATE_TIME"])
        bad_damage = not DAMAGE.match(bad["DAMAGE_PROPERTY"])
        assert bad_date != bad_damage, bad  # exactly one of them
    _, some = rows_of(get(serve("events", n_events=1000, dirty_rate=0.05)))
    n_dirty = sum(
        not (real_date(r["BEGIN_DATE_TIME"]) and DAMAGE.match(r["DAMAGE_PROPERTY"])) for r in some
    )
    assert 20 <= n_dirty <= 80
    _, none = rows_of(get(serve("events", n_events=0)))
    assert none == []


def test_versions_update_some_events_and_add_new_ones(serve: Serve) -> None:
    client = serve("events", n_events=400, dirty_rate=0.0)
    v1 = get(client)
    names2, rows2 = rows_of(get(client, version=2))
    assert names2 == ["StormEvents_details-ftp_v1.0_d2024_c20250102.csv"]
    _, rows1 = rows_of(v1)
    assert len(rows1) == 400 and len(rows2) == 420
    before = {r["EVENT_ID"]: r for r in rows1}
    changed = [r for r in rows2[:400] if r != before[r["EVENT_ID"]]]
    assert 15 <= len(changed) <= 70
    for row in changed:  # an update changes figures, not what or where or when
        old = before[row["EVENT_ID"]]
        for same in ("STATE", "EVENT_TYPE", "BEGIN_DATE_TIME", "CZ_TIMEZONE", "BEGIN_LAT"):
            assert row[same] == old[same]
    assert not {r["EVENT_ID"] for r in rows2[400:]} & set(before)

    # publish: the latest moves on; reset: back to the knob's version.
    assert client.post("/_sim/publish").json() == {"latest_version": 2}
    assert rows_of(get(client))[1] == rows2
    assert get(client, version=1) == v1
    assert client.get("/events/latest.zip", params={"version": 0}).status_code == 404
    assert client.get("/events/latest.zip", params={"version": 101}).status_code == 404
    client.post("/_sim/reset")
    assert get(client) == v1
    assert get(serve("events", n_events=400, dirty_rate=0.0, version=2)) == get(client, version=2)


def test_chaos_knobs_apply(serve: Serve) -> None:
    failing = serve("events", n_events=10, error_rate=1.0)
    assert failing.get("/events/latest.zip").status_code in (500, 502, 503, 504)
    limited = serve("events", n_events=10, rate_limit=1)
    assert limited.get("/events/latest.zip").status_code == 200
    answer = limited.get("/events/latest.zip")
    assert answer.status_code == 429 and int(answer.headers["retry-after"]) >= 1
    slow = serve("events", n_events=10, pause_rate=1.0, pause_min=0.2, pause_max=0.2)
    assert slow.get("/events/latest.zip").elapsed.total_seconds() >= 0.2


def test_cli_flags_of_the_events_simulator() -> None:
    app = typer.Typer()
    app.command()(sim.sim)
    done = CliRunner().invoke(app, ["events", "--n", "-1"])
    assert done.exit_code == 2
    assert "n_events must not be negative" in done.stderr
    done = CliRunner().invoke(app, ["animals", "--dirty-rate", "0.5"])
    assert done.exit_code == 2
    assert "--dirty-rate does not apply to the animals simulator" in done.stderr
    done = CliRunner().invoke(app, ["randomuser", "--archive-version", "2"])
    assert "--archive-version does not apply to the randomuser simulator" in done.stderr
    done = CliRunner().invoke(app, ["events", "--archive-version", "0"])
    assert "version must be from 1 to 100" in done.stderr
