"""The value-changing rules a pipeline states in its run report."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from sluice.batch import LINE
from sluice.config import PipelineConfig, TableConfig
from sluice.transforms import Validator
from sluice.transforms.stated import stated_rules


def pipeline(columns: dict[str, object], transforms: list[object] | None = None) -> PipelineConfig:
    return PipelineConfig.model_validate(
        {
            "sources": {"s": {"type": "file", "path": "*.csv"}},
            "transforms": transforms or [],
            "table": {"name": "t", "columns": columns},
        }
    )


def test_a_date_read_with_a_time_of_day_says_the_time_is_dropped() -> None:
    # 2024-01-05 13:45 in a date column is stored as 2024-01-05: a decision of the
    # configuration, stated in the report as the century rule is.
    formats = ["%Y-%m-%d", "%m/%d/%Y %I:%M %p"]
    columns = {"inspected": {"type": "date", "formats": formats}, "seen": "datetime"}
    assert stated_rules(pipeline(columns)) == [
        "inspected: a date; the time of day its format reads is dropped ('%m/%d/%Y %I:%M %p')",
        "seen: times without an offset read as UTC",
    ]
    table = TableConfig.model_validate({"name": "t", "columns": columns})
    ok, _ = Validator(table).run(
        pl.DataFrame({"inspected": ["01/05/2024 01:45 PM"], "seen": [None], LINE: [2]})
    )
    assert str(ok.get_column("inspected")[0]) == "2024-01-05"
    # a date format alone, and a utc step (which keeps the time), state nothing of it
    steps = [{"utc": {"column": "at", "offset_from": "tz", "formats": ["%Y-%m-%d %H:%M"]}}]
    plain = {"d": {"type": "date", "formats": ["%d.%m.%Y"]}, "at": "datetime", "tz": "string"}
    assert stated_rules(pipeline(plain, steps)) == []


def test_formats_that_swap_day_and_month_say_which_reads_a_value_both_read() -> None:
    # Listed to read US and European files alike, `%m/%d/%Y` took 01/02/2024 as
    # 2 January in the European files too, without a word.
    formats = ["%m/%d/%Y", "%Y-%m-%d", "%d/%m/%Y"]
    (said,) = stated_rules(pipeline({"day": {"type": "date", "formats": formats}}))
    assert said == (
        "day: a value both '%m/%d/%Y' and '%d/%m/%Y' read (a day of 1-12, as in "
        "01/02/2024) is read by '%m/%d/%Y', the first listed"
    )
    # as Python reads the example: both formats, two days
    first, then = (datetime.strptime("01/02/2024", f).date() for f in (formats[0], formats[2]))
    assert (str(first), str(then)) == ("2024-01-02", "2024-02-01")
    table = TableConfig.model_validate(
        {"name": "t", "columns": {"day": {"type": "date", "formats": formats}}}
    )
    ok, _ = Validator(table).run(pl.DataFrame({"day": ["01/02/2024"], LINE: [2]}))
    assert ok.get_column("day").to_list() == [first]
    # formats that no value reads both ways state nothing
    apart = ["%m/%d/%Y", "%d.%m.%Y", "%d/%m/%y"]
    assert stated_rules(pipeline({"day": {"type": "date", "formats": apart}})) == [
        "day: two-digit years (%y) read as Python's rule: 00-68 -> 2000-2068, 69-99 -> 1969-1999"
    ]
