"""A time that names its zone by an abbreviation (``EST``): the step its reason names
writes the offset the zone's own database gives that abbreviation."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import polars as pl
import pytest
import yaml

from sluice.transforms.zone_names import GROUPS, zone_note

#: a zone of the IANA database where each abbreviation is written, and a month it is
WRITTEN_IN = {
    "America/New_York": (1, 7),
    "America/Chicago": (1, 7),
    "America/Denver": (1, 7),
    "America/Los_Angeles": (1, 7),
    "America/Anchorage": (1, 7),
    "Pacific/Honolulu": (1,),
    "America/Halifax": (1, 7),
    "America/St_Johns": (1, 7),
    "Europe/Lisbon": (1, 7),
    "Europe/Berlin": (1, 7),
    "Europe/Athens": (1, 7),
    "Europe/Moscow": (1,),
    "Asia/Kolkata": (1,),
    "Europe/London": (7,),
    "Asia/Tokyo": (1,),
    "Asia/Seoul": (1,),
    "Australia/Perth": (1,),
    "Australia/Adelaide": (1, 7),
    "Australia/Sydney": (1, 7),
    "Pacific/Auckland": (1, 7),
}


def _step(note: str) -> str:
    """The step's SQL, as YAML reads the step pasted from the note."""
    step = yaml.safe_load("derive: " + note.split("add the step derive: ")[1].split(", then")[0])
    return str(step["derive"]["sql"])


@pytest.mark.parametrize(("zone", "months"), sorted(WRITTEN_IN.items()))
def test_each_abbreviation_is_written_as_the_offset_its_zone_gives_it(
    zone: str, months: tuple[int, ...]
) -> None:
    for month in months:
        local = datetime(2024, month, 5, 10, 0, tzinfo=ZoneInfo(zone))
        abbr = local.tzname()
        written = f"2024-{month:02d}-05 10:00:00 {abbr}"
        frame = pl.DataFrame({"at": [written]})
        note = frame.select(zone_note("at", pl.col("at"))).item()
        assert note.startswith(f"; it names its zone {abbr}, which %z does not read"), zone
        fixed = frame.select(pl.sql_expr(_step(note))).item()
        read = datetime.strptime(fixed, "%Y-%m-%d %H:%M:%S%z")
        assert read.astimezone(UTC) == local.astimezone(UTC), (zone, written, fixed)


def test_every_abbreviation_listed_is_one_a_listed_zone_writes() -> None:
    seen = {
        datetime(2024, m, 5, 10, tzinfo=ZoneInfo(z)).tzname()
        for z, months in WRITTEN_IN.items()
        for m in months
    }
    assert {abbr for group in GROUPS for abbr in group} == seen


def test_a_name_more_than_one_zone_writes_says_the_other_and_others_get_no_note() -> None:
    values = ["2024-01-05 10:00 CST", "2024-01-05 10:00:00 CEST", "CEST", "10:00 XYZ", None]
    notes = pl.DataFrame({"at": values}).select(zone_note("at", pl.col("at"))).to_series()
    assert "China's CST is +08:00" in notes[0]
    assert "China" not in notes[1] and "CEST as +02:00" in notes[1]
    assert notes.to_list()[2:] == ["", "", ""]
