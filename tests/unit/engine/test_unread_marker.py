"""Which sources' text may hold a database dump's missing-value marker (``\\N``) that
they do not read as null: a CSV source whose ``csv.null_values`` is left at its default."""

from __future__ import annotations

from sluice.config.sources import FileSourceConfig
from sluice.engine.opener import unread_marker


def _source(**given: object) -> FileSourceConfig:
    return FileSourceConfig.model_validate({"type": "file", "path": "data/*", **given})


def test_a_csv_source_at_its_default_may_hold_the_marker_unread() -> None:
    assert unread_marker(_source(), "dump.csv") == "\\N"
    assert unread_marker(_source(csv={"delimiter": "\t"}), "dump.tsv") == "\\N"


def test_stated_null_values_and_other_formats_hold_no_marker_unread() -> None:
    assert unread_marker(_source(csv={"null_values": [""]}), "dump.csv") is None
    assert unread_marker(_source(csv={"null_values": ["", "\\N"]}), "dump.csv") is None
    assert unread_marker(_source(), "events.jsonl") is None
    assert unread_marker(_source(), "events.parquet") is None
