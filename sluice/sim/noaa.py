"""Rows in the layout of NOAA's Storm Events "details" files, with each era's quirks.

NCEI publishes one gzipped CSV a year, ``StormEvents_details-ftp_v1.0_d1950_c20251118.csv.gz``
(``d``: the year of the events, ``c``: the day the file was made), 51 columns
(:data:`COLUMNS`), from 1950 on. This module writes files of that shape, so that the
events simulator and the tests exercise a real file's layout without shipping NOAA's
data. What a row looks like depends on its year:

- every year: ``BEGIN_DATE_TIME`` and ``END_DATE_TIME`` are local times with a two-digit
  year (``28-APR-50 14:45:00``, also for 1950: ``YEAR`` and ``BEGIN_YEARMONTH`` give the
  century); damages are text (``10.00K``, ``2.5M``, ``1B`` or empty); text fields are
  quoted, numbers are not. An event begun on New Year's Eve may end in the next year.
- from :data:`OFFSET_ERA`: ``CZ_TIMEZONE`` is a zone with its standard offset (``CST-6``,
  ``AKST-9``, ``GST10`` for Guam: no minus sign); tornadoes are rated ``EF0``..``EF5``
  or ``EFU``; coordinates have four decimals.
- before it: bare zone names, standard or daylight (``CST``, ``CDT``, ``PDT``), now and
  then in odd case (``ESt``, ``cst``); tornadoes ``F0``..``F5``.
- before :data:`EPISODE_ERA`: no episodes (``EPISODE_ID`` empty), no narratives, no
  forecast office, coordinates often missing, damages like ``250K``, ``.5K``, ``.25M``
  or ``0``; only tornadoes (to 1954), then hail and thunderstorm wind too.
- from :data:`EPISODE_ERA`: territories (Puerto Rico, Guam, American Samoa), all event
  types, narratives quoted with commas, doubled quotes and newlines.

(The cut-over years are this generator's; real files change more gradually.)

``dirty_rate`` is the share of rows given one value no reader should accept: a date
that does not exist (``31-FEB-50``), a damage that is not an amount (``12.5X``), or,
among bare zone names, one that names no zone (``UNK``, ``CSC``, ``SCT``). Row ``key``
is a pure function of ``(seed, key, year, revision, dirty_rate)``; ``revision`` changes
only the figures (injuries, deaths, damages), as an updated file does.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path
from random import Random

from sluice.sim.knobs import rng
from sluice.sim.noaa_tables import (
    AZIMUTHS,
    BAD_DAMAGE,
    BAD_ZONES,
    BARE,
    COLUMNS,
    COUNTIES,
    EPISODE_ERA,
    EPISODES,
    EVENT_TYPES,
    EVENTS,
    FIRST_YEAR,
    OFFICES,
    OFFSET_ERA,
    OLD_TYPES,
    SOURCES,
    STATES,
    TERRITORIES,
    TIME_FORMAT,
    TOWNS,
    ZONES,
    State,
)


def _states(year: int) -> tuple[State, ...]:
    return STATES + TERRITORIES if year >= EPISODE_ERA else STATES


def _types(year: int) -> tuple[tuple[str, int, bool], ...]:
    if year >= EPISODE_ERA:
        return EVENT_TYPES
    return OLD_TYPES[2:] if year < 1955 else OLD_TYPES


def local_text(when: datetime) -> str:
    """``28-APR-50 14:45:00``: NOAA's local time (two-digit year, month in capitals)."""
    return when.strftime(TIME_FORMAT).upper()


def _zone(state: State, year: int, month: int, r: Random) -> str:
    if year >= OFFSET_ERA:
        return f"{state.zone}{state.hours}"  # CST-6, GST10
    name = state.zone
    if state.daylight and 4 <= month <= 10 and r.random() < 0.3:
        name = state.daylight
    elif name == "GST" and r.random() < 0.5:
        name = "ChST"  # Guam's Chamorro Standard Time
    if r.random() < 0.02:  # ESt, cst: a known name in odd case
        name = r.choice((name.lower(), name[:-1] + name[-1].lower()))
    return name


def _damage(r: Random, year: int) -> str:
    draw = r.random()
    if year < EPISODE_ERA:  # 250K, .5K, 0, empty
        if draw < 0.3:
            return ""
        if draw < 0.6:
            return "0"
        if draw < 0.997:
            return r.choice(("5K", ".5K", "2.5K", "25K", "50K", "250K", ".25M", "2.5M", "25M"))
        return "1B"
    if draw < 0.08:
        return ""
    if draw < 0.6:
        return "0.00K"
    if draw < 0.95:
        return f"{r.choice((0.5, 1, 2, 5, 10, 15, 25, 50, 100, 250, 500)):.2f}K"
    if draw < 0.997:
        return r.choice(("1.00M", "2.5M", "1.20M", "3M", "10.00M", "0.75M"))
    return r.choice(("1B", "1.5B"))


def _magnitude(kind: str, year: int, r: Random) -> tuple[str, str]:
    """(MAGNITUDE, MAGNITUDE_TYPE): hail in inches, wind in knots."""
    if kind == "Hail":
        size = r.choice((0.75, 1.0, 1.25, 1.75, 2.75))
        return (f"{size:.2f}" if year >= EPISODE_ERA else f"{size:g}"), ""
    if kind in ("Thunderstorm Wind", "High Wind"):
        knots = r.randrange(50, 81)
        if year < EPISODE_ERA:
            return r.choice((str(knots), "0", "")), ""
        return f"{knots:.2f}", r.choice(("EG", "MG", "ES", "MS"))
    return "", ""


def _narrative(texts: tuple[str, ...], r: Random) -> str:
    if r.random() < 0.1:
        return ""
    text = r.choice(texts)
    if r.random() < 0.25:  # a second paragraph
        text += "\n\n" + r.choice(texts)
    return text


def details_row(
    seed: int,
    key: object,
    year: int,
    *,
    event_id: int,
    revision: int = 0,
    dirty_rate: float = 0.0,
) -> dict[str, str]:
    """One row of a details file of ``year``, every value as text, as written."""
    r = rng(seed, "event", key)  # what, where and when: never changed by an update
    state = r.choice(_states(year))
    kind, _, located = r.choices(_types(year), weights=[w for _, w, _ in _types(year)])[0]
    if r.random() < 0.005:  # begun on New Year's Eve, ended in the next year
        begin = datetime(year, 12, 31, 23, r.randrange(60))
        length = r.randrange(61, 240)
    else:
        days = (date(year + 1, 1, 1) - date(year, 1, 1)).days
        begin = datetime(year, 1, 1) + timedelta(minutes=r.randrange(days * 24 * 60))
        length = r.randrange(0, 60) if located else r.randrange(60, 3 * 24 * 60)
    end = begin + timedelta(minutes=length)
    recent, modern = year >= OFFSET_ERA, year >= EPISODE_ERA
    point = located and (modern or r.random() < 0.4)
    lat, lon = state.lat + r.uniform(-1.5, 1.5), state.lon + r.uniform(-2, 2)
    end_lat, end_lon = lat, lon
    if kind == "Tornado":  # a track
        end_lat, end_lon = lat + r.uniform(0, 0.1), lon + r.uniform(0, 0.1)
    digits = 4 if recent else 2
    magnitude, magnitude_type = _magnitude(kind, year, r)
    scale = ""
    if kind == "Tornado":
        scale = r.choice(("EF0", "EF0", "EF1", "EF1", "EF2", "EF3", "EF4", "EF5", "EFU"))
        scale = scale if recent else scale.replace("EFU", "EF0").replace("EF", "F")
    place = ("", "", "")  # range, azimuth and town of the nearest place
    if modern and point:
        place = (str(r.randrange(0, 10)), r.choice(AZIMUTHS), r.choice(TOWNS))
    episode = _narrative(EPISODES, r) if modern else ""
    story = _narrative(EVENTS, r) if modern else ""
    # The figures an update changes come from their own generator.
    f = rng(seed, "figures", key, revision)
    hurt = f.random() < 0.05
    zero = "0.00K" if modern else "0"
    row = {
        "BEGIN_YEARMONTH": f"{begin:%Y%m}",
        "BEGIN_DAY": str(begin.day),
        "BEGIN_TIME": str(begin.hour * 100 + begin.minute),
        "END_YEARMONTH": f"{end:%Y%m}",
        "END_DAY": str(end.day),
        "END_TIME": str(end.hour * 100 + end.minute),
        "EPISODE_ID": str(100_000 + r.randrange(100_000)) if modern else "",
        "EVENT_ID": str(event_id),
        "STATE": state.name,
        "STATE_FIPS": str(state.fips),
        "YEAR": str(year),
        "MONTH_NAME": f"{begin:%B}",
        "EVENT_TYPE": kind,
        "CZ_TYPE": "C" if located or not modern else "Z",
        "CZ_FIPS": str(r.randrange(1, 200, 2)),
        "CZ_NAME": r.choice(COUNTIES if located or not modern else ZONES),
        "WFO": r.choice(OFFICES) if modern else "",
        "BEGIN_DATE_TIME": local_text(begin),
        "CZ_TIMEZONE": _zone(state, year, begin.month, r),
        "END_DATE_TIME": local_text(end),
        "INJURIES_DIRECT": str(f.randint(1, 12) if hurt else 0),
        "INJURIES_INDIRECT": str(int(hurt and f.random() < 0.1)),
        "DEATHS_DIRECT": str(int(hurt and f.random() < 0.2)),
        "DEATHS_INDIRECT": "0",
        "DAMAGE_PROPERTY": _damage(f, year),
        "DAMAGE_CROPS": _damage(f, year) if f.random() < 0.3 else zero,
        "SOURCE": r.choice(SOURCES) if modern else "",
        "MAGNITUDE": magnitude,
        "MAGNITUDE_TYPE": magnitude_type,
        "FLOOD_CAUSE": "Heavy Rain" if modern and "Flood" in kind else "",
        "CATEGORY": "",
        "TOR_F_SCALE": scale,
        "TOR_LENGTH": f"{r.uniform(0.1, 20):.2f}" if scale else "",
        "TOR_WIDTH": str(r.randrange(10, 1500)) if scale else "",
        "TOR_OTHER_WFO": "",
        "TOR_OTHER_CZ_STATE": "",
        "TOR_OTHER_CZ_FIPS": "",
        "TOR_OTHER_CZ_NAME": "",
        "BEGIN_RANGE": place[0],
        "BEGIN_AZIMUTH": place[1],
        "BEGIN_LOCATION": place[2],
        "END_RANGE": place[0],
        "END_AZIMUTH": place[1],
        "END_LOCATION": place[2],
        "BEGIN_LAT": f"{lat:.{digits}f}" if point else "",
        "BEGIN_LON": f"{lon:.{digits}f}" if point else "",
        "END_LAT": f"{end_lat:.{digits}f}" if point else "",
        "END_LON": f"{end_lon:.{digits}f}" if point else "",
        "EPISODE_NARRATIVE": episode,
        "EVENT_NARRATIVE": story,
        "DATA_SOURCE": "CSV" if modern else ("PDC" if year >= 1993 else "PUB"),
    }
    _dirty(row, rng(seed, "dirty", key), dirty_rate, recent)
    return row


def _dirty(row: dict[str, str], d: Random, dirty_rate: float, recent: bool) -> None:
    """Give the row one bad value, for a share ``dirty_rate`` of rows."""
    if d.random() >= dirty_rate:
        return
    kinds = ("date", "damage") if recent else ("date", "damage", "zone")
    kind = d.choice(kinds)
    if kind == "date":
        yy = row["YEAR"][2:]
        month = row["BEGIN_DATE_TIME"][3:6]
        row["BEGIN_DATE_TIME"] = d.choice(
            (f"31-FEB-{yy} 10:00:00", f"00-{month}-{yy} 12:00:00", f"{row['YEAR']}-13-01", "soon")
        )
    elif kind == "damage":
        row["DAMAGE_PROPERTY"] = d.choice(BAD_DAMAGE)
    else:
        row["CZ_TIMEZONE"] = d.choice(BAD_ZONES)


def _field(column: str, value: str) -> str:
    if value == "" or column in BARE:
        return value
    return '"' + value.replace('"', '""') + '"'


def details_csv(rows: Iterable[dict[str, str]]) -> str:
    """The CSV text of a details file: NOAA's header, text quoted, numbers bare."""
    lines = [",".join(COLUMNS)]
    lines += [",".join(_field(c, row[c]) for c in COLUMNS) for row in rows]
    return "\n".join(lines) + "\n"


def details_name(year: int, created: date) -> str:
    """``StormEvents_details-ftp_v1.0_d2024_c20251118.csv.gz``, as NCEI names them."""
    return f"StormEvents_details-ftp_v1.0_d{year}_c{created:%Y%m%d}.csv.gz"


def first_id(year: int) -> int:
    """The first EVENT_ID of a file of ``year`` written here (files never share ids)."""
    return 10_000_000 + (year - FIRST_YEAR) * 100_000


def details_rows(
    year: int, n: int, *, seed: int = 0, dirty_rate: float = 0.005
) -> list[dict[str, str]]:
    """The ``n`` rows of a details file of ``year``."""
    first = first_id(year)
    return [
        details_row(seed, f"{year}:{i}", year, event_id=first + i, dirty_rate=dirty_rate)
        for i in range(n)
    ]


def gzipped(text: str) -> bytes:
    """``text`` gzipped, the same bytes every time (no time stamp in the header)."""
    return gzip.compress(text.encode("utf-8"), mtime=0)


def write_details(
    folder: Path,
    year: int,
    n: int = 2000,
    *,
    seed: int = 0,
    dirty_rate: float = 0.005,
    created: date = date(2025, 11, 18),
) -> Path:
    """Write a gzipped details file of ``year`` into ``folder``, under NCEI's name.

    ``write_details(tmp, 2024)`` is a recent file (``CST-6``, ``EF1``, narratives);
    ``write_details(tmp, 1950)`` an old one (bare ``CST``, ``F3``, ``28-APR-50``).
    """
    path = Path(folder) / details_name(year, created)
    path.write_bytes(gzipped(details_csv(details_rows(year, n, seed=seed, dirty_rate=dirty_rate))))
    return path


__all__ = [
    "COLUMNS",
    "EPISODE_ERA",
    "OFFSET_ERA",
    "STATES",
    "TERRITORIES",
    "TIME_FORMAT",
    "details_csv",
    "details_name",
    "details_row",
    "details_rows",
    "first_id",
    "gzipped",
    "local_text",
    "write_details",
]
