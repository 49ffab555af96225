"""What NOAA's Storm Events "details" files hold, as tables: the 51 columns, which are
written bare, the eras' cut-over years, states and territories with their zones, event
types per era, and the words rows are made of (:mod:`sluice.sim.noaa` writes the rows).
"""

from __future__ import annotations

from typing import NamedTuple

# fmt: off
COLUMNS = (
    "BEGIN_YEARMONTH", "BEGIN_DAY", "BEGIN_TIME", "END_YEARMONTH", "END_DAY", "END_TIME",
    "EPISODE_ID", "EVENT_ID", "STATE", "STATE_FIPS", "YEAR", "MONTH_NAME", "EVENT_TYPE",
    "CZ_TYPE", "CZ_FIPS", "CZ_NAME", "WFO", "BEGIN_DATE_TIME", "CZ_TIMEZONE",
    "END_DATE_TIME", "INJURIES_DIRECT", "INJURIES_INDIRECT", "DEATHS_DIRECT",
    "DEATHS_INDIRECT", "DAMAGE_PROPERTY", "DAMAGE_CROPS", "SOURCE", "MAGNITUDE",
    "MAGNITUDE_TYPE", "FLOOD_CAUSE", "CATEGORY", "TOR_F_SCALE", "TOR_LENGTH", "TOR_WIDTH",
    "TOR_OTHER_WFO", "TOR_OTHER_CZ_STATE", "TOR_OTHER_CZ_FIPS", "TOR_OTHER_CZ_NAME",
    "BEGIN_RANGE", "BEGIN_AZIMUTH", "BEGIN_LOCATION", "END_RANGE", "END_AZIMUTH",
    "END_LOCATION", "BEGIN_LAT", "BEGIN_LON", "END_LAT", "END_LON", "EPISODE_NARRATIVE",
    "EVENT_NARRATIVE", "DATA_SOURCE",
)
# Written without quotes (NOAA quotes text, not these numbers).
BARE = frozenset({
    "BEGIN_YEARMONTH", "BEGIN_DAY", "BEGIN_TIME", "END_YEARMONTH", "END_DAY", "END_TIME",
    "EPISODE_ID", "EVENT_ID", "STATE_FIPS", "YEAR", "CZ_FIPS", "BEGIN_LON", "END_LON",
})
# fmt: on
TIME_FORMAT = "%d-%b-%y %H:%M:%S"  # 28-APR-50 14:45:00 (the month in capitals)
FIRST_YEAR = 1950
EPISODE_ERA = 1996
OFFSET_ERA = 2007


class State(NamedTuple):
    name: str
    fips: int
    zone: str  # the standard zone's name
    hours: int  # its offset from UTC
    daylight: str | None  # the daylight zone's name, where clocks change
    lat: float
    lon: float


# fmt: off
STATES = (
    State("NEW YORK", 36, "EST", -5, "EDT", 42.9, -75.5),
    State("FLORIDA", 12, "EST", -5, "EDT", 28.6, -82.4),
    State("GEORGIA", 13, "EST", -5, "EDT", 32.7, -83.4),
    State("OHIO", 39, "EST", -5, "EDT", 40.3, -82.8),
    State("PENNSYLVANIA", 42, "EST", -5, "EDT", 40.9, -77.8),
    State("VIRGINIA", 51, "EST", -5, "EDT", 37.5, -78.8),
    State("TEXAS", 48, "CST", -6, "CDT", 31.5, -98.6),
    State("KANSAS", 20, "CST", -6, "CDT", 38.5, -98.4),
    State("OKLAHOMA", 40, "CST", -6, "CDT", 35.6, -97.5),
    State("IOWA", 19, "CST", -6, "CDT", 42.1, -93.5),
    State("ILLINOIS", 17, "CST", -6, "CDT", 40.0, -89.2),
    State("NEBRASKA", 31, "CST", -6, "CDT", 41.5, -99.8),
    State("MISSOURI", 29, "CST", -6, "CDT", 38.4, -92.5),
    State("COLORADO", 8, "MST", -7, "MDT", 39.0, -105.5),
    State("ARIZONA", 4, "MST", -7, None, 34.3, -111.7),
    State("MONTANA", 30, "MST", -7, "MDT", 47.0, -109.6),
    State("NEW MEXICO", 35, "MST", -7, "MDT", 34.4, -106.1),
    State("CALIFORNIA", 6, "PST", -8, "PDT", 37.2, -119.4),
    State("OREGON", 41, "PST", -8, "PDT", 43.9, -120.6),
    State("WASHINGTON", 53, "PST", -8, "PDT", 47.4, -120.5),
    State("NEVADA", 32, "PST", -8, "PDT", 39.3, -116.6),
    State("ALASKA", 2, "AKST", -9, "AKDT", 61.4, -150.0),
    State("HAWAII", 15, "HST", -10, None, 20.8, -156.3),
)
TERRITORIES = (
    State("PUERTO RICO", 72, "AST", -4, None, 18.2, -66.5),
    State("GUAM", 66, "GST", 10, None, 13.4, 144.8),
    State("AMERICAN SAMOA", 60, "SST", -11, None, -14.3, -170.7),
)
# (type, weight, located: has a begin point; False for zone-wide events)
EVENT_TYPES = (
    ("Thunderstorm Wind", 30, True), ("Hail", 25, True), ("Flash Flood", 10, True),
    ("Flood", 6, True), ("Tornado", 6, True), ("Lightning", 3, True), ("Wildfire", 2, False),
    ("Winter Storm", 5, False), ("Heavy Snow", 4, False), ("High Wind", 5, False),
    ("Heat", 2, False), ("Drought", 2, False),
)
OLD_TYPES = (("Thunderstorm Wind", 40, True), ("Hail", 40, True), ("Tornado", 20, True))
COUNTIES = ("ADAMS", "BENTON", "CLAY", "DOUGLAS", "FRANKLIN", "GREENE", "JACKSON",
            "JEFFERSON", "LINCOLN", "MADISON", "MARION", "MONROE", "UNION", "WAYNE")
ZONES = ("NORTHERN HIGHLANDS", "COASTAL PLAIN", "UPPER VALLEY", "EASTERN FOOTHILLS")
TOWNS = ("GREER", "SPRINGFIELD", "FAIRVIEW", "RIVERSIDE", "MILLVILLE", "OAK GROVE")
OFFICES = ("GSP", "OUN", "TOP", "DMX", "LOT", "BOU", "PSR", "SEW", "AFC", "HFO", "SJU")
SOURCES = ("Trained Spotter", "Emergency Manager", "Law Enforcement", "Public", "ASOS",
           "NWS Storm Survey", "Broadcast Media", "Mesonet")
AZIMUTHS = ("N", "NNE", "NE", "E", "SE", "S", "SSW", "SW", "W", "NW")
EPISODES = (
    "A strong cold front moved across the region, with a line of thunderstorms ahead of it.",
    "Low pressure deepened over the plains, bringing heavy snow, strong winds and drifting.",
    'An upper-level trough brought "training" storms, heavy rain, and flooding.',
)
EVENTS = (
    "Trees and power lines were blown down, a few onto homes.",
    "Quarter size hail covered the ground, per a trained spotter.",
    "Water, up to a foot deep, covered the road near the bridge.",
    'A "bow echo" produced a 60 mph gust, measured at the airport.',
)
BAD_DAMAGE = ("12.5X", "about 3K", "n/a", "K")
BAD_ZONES = ("UNK", "CSC", "SCT")
# fmt: on
