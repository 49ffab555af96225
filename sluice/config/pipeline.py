"""The ``sluice.yaml`` model of a pipeline: its sources, steps, table, destination and
triggers, and the checks that tie them together."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from sluice.config.base import Model, identifier
from sluice.config.columns import TableConfig
from sluice.config.destinations import AnyDestination, DestinationConfig, HttpDestinationConfig
from sluice.config.layout import ChildTable, check_layout
from sluice.config.sources import SourceConfig
from sluice.config.steps import Step


class PipelineConfig(Model):
    """Sources read into one table: mapped, transformed, validated, then loaded."""

    description: str = Field(default="", description="shown in listings")
    sources: dict[str, SourceConfig] = Field(
        description="source name -> source; each is one stream in the run report"
    )
    synonyms: dict[str, list[str]] = Field(
        default_factory=dict, description="target column -> header names, for every source"
    )
    transforms: list[Step] = Field(
        default_factory=list, description="steps applied in order to every batch"
    )
    table: TableConfig = Field(description="the target table: name, columns, keys")
    destination: AnyDestination = Field(
        default_factory=DestinationConfig,
        description="where rows go: a warehouse table (default) or {type: http, url}",
    )
    skip_blank_rows: bool = Field(
        default=True, description="rows with every field empty are counted as filtered"
    )
    tables: dict[str, ChildTable] = Field(
        default_factory=dict, description="normalize: related tables the record splits into"
    )
    restricted_table: str | None = Field(
        default=None, description="where pii: restricted columns go (default <table>_restricted)"
    )
    schedule: str | None = Field(
        default=None, description="sluice serve: a cron expression (UTC), e.g. '0 * * * *'"
    )
    watch: str | None = Field(
        default=None, description="sluice serve: a folder; a new or changed file starts a run"
    )
    if_running: Literal["reject", "queue"] = Field(
        default="reject",
        description="a trigger while a run of this pipeline is going: reject (409) or queue",
    )

    @field_validator("schedule")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        if v is None:
            return None
        # croniter (and dateutil) only for a project that has a schedule: ~0.01 s of
        # every `sluice validate` and `sluice run` otherwise
        from sluice import cron

        return cron.check(v)

    @model_validator(mode="after")
    def _cross_references(self) -> PipelineConfig:
        cols = self.table.columns
        for sname, src in self.sources.items():
            identifier(sname)
            for target in list(src.columns) + list(src.synonyms):
                if target not in cols:
                    raise ValueError(
                        f"source {sname!r} maps {target!r}, which is not a column of "
                        f"table {self.table.name!r}"
                    )
        for target in self.synonyms:
            if target not in cols:
                raise ValueError(f"synonyms name {target!r}, which is not a column")
        if self.destination.mode == "merge" and not self.table.keys:
            raise ValueError("mode 'merge' needs table.keys (the columns to upsert on)")
        check_layout(self)
        if isinstance(self.destination, HttpDestinationConfig):
            key = self.delivery_key
            if key is None:
                raise ValueError(
                    "an http destination needs a record key for its delivery ledger: "
                    "set destination.key or table.keys"
                )
            if key not in cols:
                raise ValueError(f"destination.key {key!r} is not a column of the table")
        return self

    @property
    def delivery_key(self) -> str | None:
        """The column that keys an http destination's delivery ledger."""
        key = getattr(self.destination, "key", None)
        return key or (self.table.keys[0] if self.table.keys else None)
