"""US severe-weather events as a zip archive, like NOAA's storm events "details" files.

    GET  /events/latest.zip[?version=N]   a zip holding one CSV (see COLUMNS)
    POST /_sim/publish                    the next version becomes the latest
    GET  /_sim/stats; POST /_sim/reset

The CSV has NOAA's names and formats: ``BEGIN_DATE_TIME`` is the local standard time of
the event (``01-JAN-24 13:05:00``), ``CZ_TIMEZONE`` that zone's standard UTC offset
(``CST-6``, ``EST-5``, ``MST-7``, ``PST-8``, ``AKST-9``, ``HST-10``), damages are text
(``10.00K``, ``2.5M``, ``0.00K``, ``1B`` or empty) and ``BEGIN_LAT``/``BEGIN_LON`` are
empty for zone-wide events (winter storms, heat, drought...).

Event ``i`` is a pure function of ``(seed, i, revision)``, and the archive's bytes of
``(config, version)``: the same request always returns the same archive. Version 1 has
``n_events`` events; each later version updates about 10% of them (new damage, injury
and death figures, the same id) and adds ``n_events // 20`` new ones, so a loader that
merges on ``EVENT_ID`` sees updates and inserts. The latest version is ``version``
(default 1), moved on by ``POST /_sim/publish``; ``?version=N`` asks for an older or
newer one (up to 100).

``dirty_rate`` (default 0.01) is the share of events written with a bad value, as real
exports have: an impossible or garbled date, or damage text that is not an amount
(``12.5X``, ``about 3K``, ``n/a``). Chaos knobs are off by default.
"""

from __future__ import annotations

import csv
import io
import threading
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from random import Random
from typing import Any, NamedTuple

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response

from sluice.errors import ConfigError
from sluice.sim.knobs import Chaos, Knobs, install_chaos, rng

COLUMNS = (
    "EVENT_ID",
    "STATE",
    "EVENT_TYPE",
    "BEGIN_DATE_TIME",
    "CZ_TIMEZONE",
    "INJURIES_DIRECT",
    "DEATHS_DIRECT",
    "DAMAGE_PROPERTY",
    "DAMAGE_CROPS",
    "BEGIN_LAT",
    "BEGIN_LON",
)
FIRST_ID = 1_180_001
YEAR = 2024
UPDATE_RATE = 0.1
MAX_VERSION = 100  # the archive of version v costs v draws per event
TIME_FORMAT = "%d-%b-%y %H:%M:%S"  # 01-JAN-24 13:05:00 (the month in capitals)


class State(NamedTuple):
    name: str
    zone: str  # NOAA's CZ_TIMEZONE: the standard offset, all year round
    lat: float
    lon: float


# fmt: off
STATES = (
    State("NEW YORK", "EST-5", 42.9, -75.5), State("FLORIDA", "EST-5", 28.6, -82.4),
    State("GEORGIA", "EST-5", 32.7, -83.4), State("OHIO", "EST-5", 40.3, -82.8),
    State("PENNSYLVANIA", "EST-5", 40.9, -77.8), State("VIRGINIA", "EST-5", 37.5, -78.8),
    State("TEXAS", "CST-6", 31.5, -98.6), State("KANSAS", "CST-6", 38.5, -98.4),
    State("OKLAHOMA", "CST-6", 35.6, -97.5), State("IOWA", "CST-6", 42.1, -93.5),
    State("ILLINOIS", "CST-6", 40.0, -89.2), State("NEBRASKA", "CST-6", 41.5, -99.8),
    State("MISSOURI", "CST-6", 38.4, -92.5), State("COLORADO", "MST-7", 39.0, -105.5),
    State("ARIZONA", "MST-7", 34.3, -111.7), State("MONTANA", "MST-7", 47.0, -109.6),
    State("NEW MEXICO", "MST-7", 34.4, -106.1), State("CALIFORNIA", "PST-8", 37.2, -119.4),
    State("OREGON", "PST-8", 43.9, -120.6), State("WASHINGTON", "PST-8", 47.4, -120.5),
    State("NEVADA", "PST-8", 39.3, -116.6), State("ALASKA", "AKST-9", 61.4, -150.0),
    State("HAWAII", "HST-10", 20.8, -156.3),
)
# (type, weight, located: has a begin point; False for zone-wide events)
EVENT_TYPES = (
    ("Thunderstorm Wind", 30, True), ("Hail", 25, True), ("Flash Flood", 10, True),
    ("Flood", 6, True), ("Tornado", 6, True), ("Lightning", 3, True), ("Wildfire", 2, False),
    ("Winter Storm", 5, False), ("Heavy Snow", 4, False), ("High Wind", 5, False),
    ("Heat", 2, False), ("Drought", 2, False),
)
BAD_DATES = ("31-FEB-24 10:00:00", "2024-13-01 25:00", "soon", "00-JAN-24 12:00:00")
BAD_DAMAGE = ("12.5X", "about 3K", "n/a", "K")
# fmt: on


@dataclass(frozen=True, kw_only=True)
class EventsConfig(Knobs):
    """Knobs of the events simulator."""

    n_events: int = 2000
    dirty_rate: float = 0.01
    version: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_events < 0:
            raise ConfigError(f"n_events must not be negative, got {self.n_events}")
        if not 0.0 <= self.dirty_rate <= 1.0:
            raise ConfigError(f"dirty_rate must be between 0 and 1, got {self.dirty_rate}")
        if not 1 <= self.version <= MAX_VERSION:
            raise ConfigError(f"version must be from 1 to {MAX_VERSION}, got {self.version}")


def event_count(config: EventsConfig, version: int) -> int:
    """How many events version ``version`` of the archive holds."""
    return config.n_events + (version - 1) * (config.n_events // 20)


def revision(seed: int, i: int, version: int) -> int:
    """How many times event ``i`` was updated up to ``version`` (0: never)."""
    return sum(rng(seed, "update", v, i).random() < UPDATE_RATE for v in range(2, version + 1))


def _damage(r: Random) -> str:
    draw = r.random()
    if draw < 0.08:
        return ""
    if draw < 0.6:
        return "0.00K"
    if draw < 0.95:
        return f"{r.choice((0.5, 1, 2, 5, 10, 15, 25, 50, 100, 250, 500)):.2f}K"
    if draw < 0.997:
        return r.choice(("1.00M", "2.5M", "1.20M", "3M", "10.00M", "0.75M"))
    return r.choice(("1B", "1.5B"))


def event(config: EventsConfig, i: int, version: int = 1) -> dict[str, str]:
    """Row ``i`` of the CSV (every value as text, as written) in archive ``version``."""
    r = rng(config.seed, "event", i)
    state = r.choice(STATES)
    kind = r.choices(EVENT_TYPES, weights=[w for _, w, _ in EVENT_TYPES])[0]
    begin = datetime(YEAR, 1, 1) + timedelta(minutes=r.randrange(366 * 24 * 60))
    lat, lon = state.lat + r.uniform(-1.5, 1.5), state.lon + r.uniform(-2, 2)
    located = kind[2] and r.random() > 0.05
    # The figures an update changes come from their own generator.
    f = rng(config.seed, "figures", i, revision(config.seed, i, version))
    hurt = f.random() < 0.05
    row = {
        "EVENT_ID": str(FIRST_ID + i),
        "STATE": state.name,
        "EVENT_TYPE": kind[0],
        "BEGIN_DATE_TIME": begin.strftime(TIME_FORMAT).upper(),
        "CZ_TIMEZONE": state.zone,
        "INJURIES_DIRECT": str(f.randint(1, 12) if hurt else 0),
        "DEATHS_DIRECT": str(int(hurt and f.random() < 0.2)),
        "DAMAGE_PROPERTY": _damage(f),
        "DAMAGE_CROPS": _damage(f) if f.random() < 0.3 else "0.00K",
        "BEGIN_LAT": f"{lat:.4f}" if located else "",
        "BEGIN_LON": f"{lon:.4f}" if located else "",
    }
    d = rng(config.seed, "dirty", i)
    if d.random() < config.dirty_rate:
        if d.random() < 0.5:
            row["BEGIN_DATE_TIME"] = d.choice(BAD_DATES)
        else:
            row["DAMAGE_PROPERTY"] = d.choice(BAD_DAMAGE)
    return row


def member_name(version: int) -> str:
    """The CSV's name inside the archive (NOAA's style; the "c" date moves per version)."""
    created = datetime(YEAR + 1, 1, 1) + timedelta(days=version - 1)
    return f"StormEvents_details-ftp_v1.0_d{YEAR}_c{created:%Y%m%d}.csv"


def csv_text(config: EventsConfig, version: int = 1) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for i in range(event_count(config, version)):
        writer.writerow(event(config, i, version))
    return out.getvalue()


def archive(config: EventsConfig, version: int = 1) -> bytes:
    """The zip archive of ``version``: the same bytes for the same config, every time."""
    info = zipfile.ZipInfo(member_name(version), date_time=(YEAR + 1, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr(info, csv_text(config, version))
    return buffer.getvalue()


def create_app(config: EventsConfig | None = None) -> FastAPI:
    """A new events simulator (its own state and stats) for ``config``."""
    cfg = config or EventsConfig()
    chaos = Chaos(cfg)
    lock = threading.Lock()
    state = {"latest": cfg.version, "served": 0}

    def stats() -> dict[str, Any]:
        with lock:
            return {"latest_version": state["latest"], "archives_served": state["served"]}

    def reset() -> None:
        with lock:
            state.update(latest=cfg.version, served=0)

    app = FastAPI(title="events simulator", version="1")
    install_chaos(app, chaos, extra_stats=stats, on_reset=reset)

    @app.get("/events/latest.zip")
    def latest(version: int | None = None) -> Response:
        """The archive of ``version`` (default: the latest): a zip holding one CSV."""
        with lock:
            chosen = state["latest"] if version is None else version
        if not 1 <= chosen <= MAX_VERSION:
            detail = f"no version {chosen}: versions go from 1 to {MAX_VERSION}"
            return JSONResponse({"detail": detail}, 404)
        body = archive(cfg, chosen)
        with lock:
            state["served"] += 1
        name = f"storm_events_{YEAR}_v{chosen}.zip"
        headers = {"content-disposition": f'attachment; filename="{name}"'}
        return Response(body, media_type="application/zip", headers=headers)

    @app.post("/_sim/publish", tags=["_sim"])
    def publish() -> JSONResponse:
        """Make the next version of the archive the latest (some events updated, some new)."""
        with lock:
            state["latest"] += 1
            return JSONResponse({"latest_version": state["latest"]})

    return app


__all__ = ["COLUMNS", "EventsConfig", "archive", "create_app", "csv_text", "event"]
