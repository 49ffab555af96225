"""US severe-weather events in the layout of NOAA's Storm Events "details" files.

    GET  /events/                         a listing of the files below (latest version)
    GET  /events/latest.zip[?version=N]   a zip holding one CSV (``StormEvents_details-...csv``)
    GET  /events/StormEvents_details-ftp_v1.0_d2024_c20250101.csv.gz
                                          the same CSV gzipped, as NCEI publishes it
    POST /_sim/publish                    the next version becomes the latest
    GET  /_sim/stats; POST /_sim/reset

The CSV has NOAA's 51 columns and formats (see :mod:`sluice.sim.noaa`). A real file
holds one year; this one mixes years of every era, so that one download shows each
era's quirks: ``28-APR-50 14:45:00`` (two-digit years, the century in ``YEAR``), zones
as ``CST-6`` or as bare names (``CST``, ``PDT``, ``ESt``), damages as ``10.00K``,
``.5K``, ``250K`` or ``0``, quoted narratives with commas, quotes and newlines, empty
coordinates and narratives in old rows.

Event ``i`` is a pure function of ``(seed, i, revision)``, and the files' bytes of
``(config, version)``: the same request always returns the same bytes. Version 1 has
``n_events`` events; each later version updates about 10% of them (new damage, injury
and death figures, the same id) and adds ``n_events // 20`` new ones, so a loader that
merges on ``EVENT_ID`` sees updates and inserts. The latest version is ``version``
(default 1), moved on by ``POST /_sim/publish``; ``?version=N`` asks for an older or
newer one (up to 100); the ``c`` date in the file's name is 2025-01-01 plus N - 1 days.

``dirty_rate`` (default 0.01) is the share of events written with a bad value, as real
exports have: an impossible or garbled date, damage text that is not an amount
(``12.5X``, ``about 3K``, ``n/a``), or a zone that names none (``UNK``, ``CSC``). Chaos
knobs are off by default.
"""

from __future__ import annotations

import html
import io
import re
import threading
import zipfile
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse, Response

from sluice.errors import ConfigError
from sluice.sim.knobs import Chaos, Knobs, install_chaos, rng
from sluice.sim.noaa import details_csv, details_name, details_row, gzipped
from sluice.sim.noaa_tables import COLUMNS

FIRST_ID = 1_180_001
YEAR = 2024
# Older years mixed into the file, one each era (1950: tornadoes only, no episodes).
OLDER_YEARS = (1950, 1953, 1957, 1962, 1968, 1974, 1979, 1985, 1991, 1995, 1996, 1999,
               2002, 2006, 2011, 2017, 2021)  # fmt: skip
OLDER_SHARE = 0.4
UPDATE_RATE = 0.1
MAX_VERSION = 100  # the archive of version v costs v draws per event
FIRST_CREATED = date(YEAR + 1, 1, 1)
GZ_NAME = re.compile(rf"^StormEvents_details-ftp_v1\.0_d{YEAR}_c(\d{{8}})\.csv\.gz$")


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


def year_of(seed: int, i: int) -> int:
    """The year of event ``i``: mostly :data:`YEAR`, else one of :data:`OLDER_YEARS`."""
    r = rng(seed, "year", i)
    return r.choice(OLDER_YEARS) if r.random() < OLDER_SHARE else YEAR


def event(config: EventsConfig, i: int, version: int = 1) -> dict[str, str]:
    """Row ``i`` of the CSV (every value as text, as written) in version ``version``."""
    return details_row(
        config.seed,
        i,
        year_of(config.seed, i),
        event_id=FIRST_ID + i,
        revision=revision(config.seed, i, version),
        dirty_rate=config.dirty_rate,
    )


def created(version: int) -> date:
    """The day version ``version`` was made (the ``c`` date of its name)."""
    return FIRST_CREATED + timedelta(days=version - 1)


def file_name(version: int) -> str:
    """The gzipped file's name: ``StormEvents_details-ftp_v1.0_d2024_c20250101.csv.gz``."""
    return details_name(YEAR, created(version))


def member_name(version: int) -> str:
    """The CSV's name inside the archive: the file's name without ``.gz``."""
    return file_name(version).removesuffix(".gz")


def version_of(name: str) -> int | None:
    """The version a file name stands for (None: no such file)."""
    match = GZ_NAME.match(name)
    if match is None:
        return None
    try:
        day = date(int(match[1][:4]), int(match[1][4:6]), int(match[1][6:]))
    except ValueError:
        return None
    version = (day - FIRST_CREATED).days + 1
    return version if 1 <= version <= MAX_VERSION else None


def csv_text(config: EventsConfig, version: int = 1) -> str:
    rows = (event(config, i, version) for i in range(event_count(config, version)))
    return details_csv(rows)


def archive(config: EventsConfig, version: int = 1) -> bytes:
    """The zip archive of ``version``: the same bytes for the same config, every time."""
    info = zipfile.ZipInfo(member_name(version), date_time=(YEAR + 1, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr(info, csv_text(config, version))
    return buffer.getvalue()


def gz_file(config: EventsConfig, version: int = 1) -> bytes:
    """The gzipped CSV of ``version``, as NCEI serves its files."""
    return gzipped(csv_text(config, version))


def create_app(config: EventsConfig | None = None) -> FastAPI:
    """A new events simulator (its own state and stats) for ``config``."""
    cfg = config or EventsConfig()
    chaos = Chaos(cfg)
    lock = threading.Lock()
    state = {"latest": cfg.version, "served": 0, "files": 0}

    def stats() -> dict[str, Any]:
        with lock:
            return {
                "latest_version": state["latest"],
                "archives_served": state["served"],
                "files_served": state["files"],
            }

    def reset() -> None:
        with lock:
            state.update(latest=cfg.version, served=0, files=0)

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

    @app.get("/events/", response_class=HTMLResponse)
    def listing() -> HTMLResponse:
        """The files of the latest version, as a directory listing like NCEI's."""
        with lock:
            names = [file_name(state["latest"]), "latest.zip"]
        links = "".join(f'<a href="{html.escape(n)}">{html.escape(n)}</a>\n' for n in names)
        return HTMLResponse(f"<html><body><pre>\n{links}</pre></body></html>\n")

    @app.get("/events/{name}")
    def gz(name: str) -> Response:
        """A version's CSV, gzipped, by its NCEI-style name (the ``c`` date picks it)."""
        version = version_of(name)
        if version is None:
            first, last = file_name(1), file_name(MAX_VERSION)
            detail = f"no file {name!r}: files go from {first} to {last}"
            return JSONResponse({"detail": detail}, 404)
        body = gz_file(cfg, version)
        with lock:
            state["files"] += 1
        return Response(body, media_type="application/gzip")

    @app.post("/_sim/publish", tags=["_sim"])
    def publish() -> JSONResponse:
        """Make the next version of the archive the latest (some events updated, some new)."""
        with lock:
            state["latest"] += 1
            return JSONResponse({"latest_version": state["latest"]})

    return app


__all__ = [
    "COLUMNS",
    "EventsConfig",
    "archive",
    "create_app",
    "csv_text",
    "event",
    "file_name",
    "gz_file",
    "member_name",
]
