"""The events simulator: NOAA's 51-column "details" layout, zipped and gzipped,
deterministic, every era's quirks, its versions and knobs; and the row generator's
files of one year each."""

from __future__ import annotations

import csv
import gzip
import io
import re
import zipfile
from collections import Counter
from datetime import datetime
from pathlib import Path

import httpx
import typer
from typer.testing import CliRunner

from sluice.cli import sim
from sluice.sim.events import COLUMNS, EventsConfig, archive, gz_file
from sluice.sim.noaa import write_details
from sluice.sim.noaa_tables import STATES, TERRITORIES
from tests.support.sims import Serve

HEADER = (
    "BEGIN_YEARMONTH,BEGIN_DAY,BEGIN_TIME,END_YEARMONTH,END_DAY,END_TIME,EPISODE_ID,EVENT_ID,"
    "STATE,STATE_FIPS,YEAR,MONTH_NAME,EVENT_TYPE,CZ_TYPE,CZ_FIPS,CZ_NAME,WFO,BEGIN_DATE_TIME,"
    "CZ_TIMEZONE,END_DATE_TIME,INJURIES_DIRECT,INJURIES_INDIRECT,DEATHS_DIRECT,DEATHS_INDIRECT,"
    "DAMAGE_PROPERTY,DAMAGE_CROPS,SOURCE,MAGNITUDE,MAGNITUDE_TYPE,FLOOD_CAUSE,CATEGORY,"
    "TOR_F_SCALE,TOR_LENGTH,TOR_WIDTH,TOR_OTHER_WFO,TOR_OTHER_CZ_STATE,TOR_OTHER_CZ_FIPS,"
    "TOR_OTHER_CZ_NAME,BEGIN_RANGE,BEGIN_AZIMUTH,BEGIN_LOCATION,END_RANGE,END_AZIMUTH,"
    "END_LOCATION,BEGIN_LAT,BEGIN_LON,END_LAT,END_LON,EPISODE_NARRATIVE,EVENT_NARRATIVE,"
    "DATA_SOURCE"
)
MONTHS = "JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC"
DATE = re.compile(rf"^(\d{{2}}-(?:{MONTHS})-)(\d{{2}})( \d\d:\d\d:00)$")
DAMAGE = re.compile(r"^((\d+(\.\d+)?|\.\d+)[KMB]?)?$")
OFFSETS = {"EST-5", "CST-6", "MST-7", "PST-8", "AKST-9", "HST-10", "AST-4", "GST10", "SST-11"}
NAMES = {"EST", "EDT", "CST", "CDT", "MST", "MDT", "PST", "PDT", "AKST", "AKDT", "HST", "AST",
         "SST", "GST", "CHST"}  # fmt: skip


def local_time(text: str, year: int) -> datetime | None:
    """As NOAA writes it, and a time that exists (31-FEB does not), in ``year``'s century."""
    match = DATE.match(text)
    if match is None:
        return None
    full = year - 50 + (int(match[2]) - (year - 50)) % 100
    try:
        return datetime.strptime(f"{match[1]}{full}{match[3]}", "%d-%b-%Y %H:%M:%S")
    except ValueError:
        return None


def good_zone(row: dict[str, str]) -> bool:
    zone, year = row["CZ_TIMEZONE"], int(row["YEAR"])
    return zone in OFFSETS if year >= 2007 else zone.upper() in NAMES


def clean(row: dict[str, str]) -> bool:
    begin = local_time(row["BEGIN_DATE_TIME"], int(row["YEAR"]))
    return bool(begin and DAMAGE.match(row["DAMAGE_PROPERTY"]) and good_zone(row))


def parse(text: str) -> list[dict[str, str]]:
    assert text.split("\n", 1)[0] == HEADER == ",".join(COLUMNS)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    return list(reader)


def rows_of(body: bytes) -> tuple[list[str], list[dict[str, str]]]:
    """(member names, rows of the one CSV member) of an archive."""
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        names = zf.namelist()
        text = zf.read(names[0]).decode("utf-8")
    return names, parse(text)


def get(client: httpx.Client, **params: int) -> bytes:
    answer = client.get("/events/latest.zip", params=params)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    return answer.content


def check_row(row: dict[str, str]) -> None:
    """What holds for every clean row of a details file, whatever its era."""
    year = int(row["YEAR"])
    begin = local_time(row["BEGIN_DATE_TIME"], year)
    end = local_time(row["END_DATE_TIME"], year)
    assert begin is not None and end is not None and begin <= end, row
    assert begin.year == year and end.year in (year, year + 1), row
    assert row["BEGIN_YEARMONTH"] == f"{begin:%Y%m}" and row["BEGIN_DAY"] == str(begin.day)
    assert row["BEGIN_TIME"] == str(begin.hour * 100 + begin.minute)
    assert row["END_YEARMONTH"] == f"{end:%Y%m}" and row["MONTH_NAME"] == f"{begin:%B}"
    assert good_zone(row), row
    assert DAMAGE.match(row["DAMAGE_PROPERTY"]) and DAMAGE.match(row["DAMAGE_CROPS"]), row
    for n in ("INJURIES_DIRECT", "INJURIES_INDIRECT", "DEATHS_DIRECT", "DEATHS_INDIRECT"):
        assert int(row[n]) >= 0
    assert (row["BEGIN_LAT"] == "") == (row["BEGIN_LON"] == "") == (row["END_LAT"] == "")
    if row["BEGIN_LAT"]:
        assert -17 < float(row["BEGIN_LAT"]) < 64 and -175 < float(row["BEGIN_LON"]) < 147
    if year < 1996:  # no episodes, narratives or offices yet; tornadoes F-rated
        assert row["EPISODE_ID"] == row["EPISODE_NARRATIVE"] == row["WFO"] == ""
        assert row["TOR_F_SCALE"] in ("", "F0", "F1", "F2", "F3", "F4", "F5")
        assert row["EVENT_TYPE"] in ("Tornado", "Hail", "Thunderstorm Wind")
    if year < 1955:
        assert row["EVENT_TYPE"] == "Tornado"
    if year >= 2007:
        assert row["TOR_F_SCALE"] in ("", "EF0", "EF1", "EF2", "EF3", "EF4", "EF5", "EFU")


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
    known = {s.name: s for s in STATES + TERRITORIES}
    for row in rows:
        check_row(row)
        assert row["STATE_FIPS"] == str(known[row["STATE"]].fips)
        if row["CZ_TIMEZONE"] in OFFSETS:
            state = known[row["STATE"]]
            assert row["CZ_TIMEZONE"] == f"{state.zone}{state.hours}"

    # Every era's quirks, among the rows of one file.
    years = Counter(int(r["YEAR"]) for r in rows)
    assert years[2024] > 1000 and min(years) == 1950 and len(years) > 10
    zones = {r["CZ_TIMEZONE"] for r in rows}
    assert zones >= OFFSETS and {"CST", "EST", "CDT", "PDT"} <= zones
    assert any(z.upper() in NAMES and z != z.upper() for z in zones)  # ESt, cst
    damages = {r["DAMAGE_PROPERTY"] for r in rows}
    assert {"", "0", "0.00K", "10.00K", "2.5M", ".5K", ".25M", "250K"} <= damages
    assert any(d.endswith("B") for d in damages)
    stories = [r["EVENT_NARRATIVE"] for r in rows if r["EVENT_NARRATIVE"]]
    assert any("," in s and "\n" in s for s in stories)
    assert any('"' in s for s in stories)
    assert 0 < sum(r["BEGIN_LAT"] == "" for r in rows) < 1000
    assert {r["TOR_F_SCALE"] for r in rows} >= {"F0", "EF0", "EFU"}
    assert any(r["END_YEARMONTH"][:4] != r["YEAR"] for r in rows)  # over New Year's Eve
    stats = client.get("/_sim/stats").json()
    assert stats["archives_served"] == 2 and stats["latest_version"] == 1


def test_the_gzipped_file_and_the_listing(serve: Serve) -> None:
    client = serve("events", n_events=300, seed=2)
    listing = client.get("/events/")
    assert listing.status_code == 200
    gz_name = "StormEvents_details-ftp_v1.0_d2024_c20250101.csv.gz"
    assert f'href="{gz_name}"' in listing.text and 'href="latest.zip"' in listing.text
    answer = client.get(f"/events/{gz_name}")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/gzip"
    assert answer.content == gz_file(EventsConfig(n_events=300, seed=2))
    with zipfile.ZipFile(io.BytesIO(get(client))) as zf:
        assert gzip.decompress(answer.content) == zf.read(zf.namelist()[0])
    assert client.get("/_sim/stats").json()["files_served"] == 1

    # Another version's file is there under its own name; other names are not.
    assert client.get("/events/StormEvents_details-ftp_v1.0_d2024_c20250102.csv.gz").is_success
    client.post("/_sim/publish")
    assert "c20250102.csv.gz" in client.get("/events/").text
    for missing in ("StormEvents_details-ftp_v1.0_d2023_c20250101.csv.gz",
                    "StormEvents_details-ftp_v1.0_d2024_c20241231.csv.gz",
                    "StormEvents_details-ftp_v1.0_d2024_c20250230.csv.gz",
                    "StormEvents_details-ftp_v1.0_d2024_c20260101.csv.gz", "x.csv"):  # fmt: skip
        assert client.get(f"/events/{missing}").status_code == 404, missing


def test_dirty_rate_and_n_events(serve: Serve) -> None:
    _, clean_rows = rows_of(get(serve("events", n_events=200, dirty_rate=0.0)))
    _, dirty = rows_of(get(serve("events", n_events=200, dirty_rate=1.0)))
    assert len(clean_rows) == len(dirty) == 200
    kinds: Counter[str] = Counter()
    for good, bad in zip(clean_rows, dirty, strict=True):
        check_row(good)
        assert good["EVENT_ID"] == bad["EVENT_ID"]
        wrong = [c for c in COLUMNS if good[c] != bad[c]]
        assert len(wrong) == 1, (good, bad)  # exactly one bad value
        kinds[wrong[0]] += 1
        assert not clean(bad), bad
    assert set(kinds) == {"BEGIN_DATE_TIME", "DAMAGE_PROPERTY", "CZ_TIMEZONE"}
    _, some = rows_of(get(serve("events", n_events=1000, dirty_rate=0.05)))
    assert 20 <= sum(not clean(r) for r in some) <= 80
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
    figures = {"INJURIES_DIRECT", "INJURIES_INDIRECT", "DEATHS_DIRECT", "DAMAGE_PROPERTY",
               "DAMAGE_CROPS"}  # fmt: skip
    for row in changed:  # an update changes figures, not what or where or when
        old = before[row["EVENT_ID"]]
        assert {c for c in COLUMNS if row[c] != old[c]} <= figures
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


def test_files_of_one_year_each_era(tmp_path: Path) -> None:
    """The fixtures tests write: one year a file, gzipped, NCEI's name, that era's look."""
    recent = write_details(tmp_path, 2024, 500, dirty_rate=0.0)
    old = write_details(tmp_path, 1950, 500, dirty_rate=0.0)
    assert recent.name == "StormEvents_details-ftp_v1.0_d2024_c20251118.csv.gz"
    assert write_details(tmp_path, 2024, 500, dirty_rate=0.0).read_bytes() == recent.read_bytes()
    new_rows = parse(gzip.decompress(recent.read_bytes()).decode())
    old_rows = parse(gzip.decompress(old.read_bytes()).decode())
    assert len(new_rows) == len(old_rows) == 500
    for row in new_rows + old_rows:
        check_row(row)
    assert {r["YEAR"] for r in new_rows} == {"2024"} and {r["YEAR"] for r in old_rows} == {"1950"}
    assert {r["CZ_TIMEZONE"] for r in new_rows} <= OFFSETS
    assert {r["CZ_TIMEZONE"].upper() for r in old_rows} <= NAMES
    assert {r["BEGIN_DATE_TIME"][7:9] for r in old_rows} >= {"50"}
    assert {r["DATA_SOURCE"] for r in old_rows} == {"PUB"}
    dirty = write_details(tmp_path, 1950, 500, dirty_rate=0.05).read_bytes()
    assert 5 < sum(not clean(r) for r in parse(gzip.decompress(dirty).decode())) < 50


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
