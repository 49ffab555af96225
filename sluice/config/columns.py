"""``sluice.yaml`` models of a pipeline's table: its columns, their rules, and how text
becomes a date."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator, model_validator

from sluice.config.base import Model, identifier, or_shorthand
from sluice.config.layout import PiiPolicy
from sluice.dateformat import EPOCH_FORMATS, check_formats, compile_format, known_zone
from sluice.schema import COLUMN_TYPES, ColumnType


class DateReading(Model):
    """How text becomes a date or datetime: Python strptime formats and the gap rules."""

    formats: list[str] | None = Field(
        default=None,
        description=(
            "Python strptime formats tried in order for date/datetime columns (%Y is four "
            "digits, %y two, %f a fraction); epoch_s, epoch_ms, epoch_us for numbers since 1970, "
            "excel for Excel's day numbers"
        ),
    )
    century_pivot: int | None = Field(
        default=None,
        ge=1,
        le=9900,
        description="%y: two-digit years land in pivot..pivot+99 (1950: 50 -> 1950, 49 -> 2049)",
    )
    century_from: str | None = Field(
        default=None,
        description=(
            "%y: the year ending in those digits nearest the four-digit year that starts "
            "this column of the same row (a YEAR or YYYYMM column)"
        ),
    )
    timezone: str | None = Field(
        default=None,
        description="IANA zone of times written without an offset (default UTC)",
    )

    @field_validator("formats")
    @classmethod
    def _formats_read(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and not v:
            raise ValueError("formats is empty: list at least one, or leave it out")
        return check_formats(v)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str | None) -> str | None:
        return None if v is None else known_zone(v)

    @model_validator(mode="after")
    def _century_rule(self) -> DateReading:
        if self.century_pivot is not None and self.century_from is not None:
            raise ValueError("set century_pivot or century_from, not both")
        if self.century_pivot is not None or self.century_from is not None:
            two_digit = [
                f
                for f in self.formats or []
                if f not in EPOCH_FORMATS and compile_format(f).two_digit_year
            ]
            if not two_digit:
                raise ValueError(
                    "century_pivot / century_from apply to two-digit years: no format here uses %y"
                )
        return self


class ColumnConfig(DateReading):
    """A column of the table, its type and its rules (``city: string`` is short for
    ``city: {type: string}``). A row failing a rule is quarantined with every reason."""

    type: ColumnType = Field(
        default="string",
        description="string, integer, float, decimal, boolean, date, datetime or list; "
        "a value that does not cast quarantines its row",
    )
    required: bool = Field(default=False, description="an empty (null) value quarantines the row")
    unique: bool = Field(
        default=False, description="a value seen twice within a file quarantines the row"
    )
    regex: str | None = Field(
        default=None, description="a regular expression found in the value (anchor it: ^...$)"
    )
    min: int | float | str | None = Field(
        default=None, description="the smallest value allowed: a number or an ISO date"
    )
    max: int | float | str | None = Field(
        default=None, description="the largest value allowed: a number or an ISO date"
    )
    accepted: list[str | int | float] | None = Field(
        default=None, description="the only values allowed"
    )
    separator: str = Field(default=",", description="list columns: what separates the items")
    pii: PiiPolicy | None = Field(
        default=None, description="drop, hash (sha256 with pii_salt), mask, restricted"
    )
    keep: int = Field(default=4, ge=0, description="pii: mask keeps this many last characters")
    synonyms: list[str] = Field(default_factory=list, description="other header names")
    description: str = Field(default="", description="a note for readers; sluice ignores it")

    @field_validator("regex")
    @classmethod
    def _regex_compiles(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"regex {v!r} does not compile: {exc}") from None
        return v


#: what ``city: string`` may say: a column type alone
_TYPE_SHORTHAND: dict[str, Any] = {
    "enum": list(COLUMN_TYPES),
    "type": "string",
    "description": "shorthand for {type: ...}",
}


class TableConfig(Model):
    """The target table: every record is validated as one row of it."""

    name: str = Field(description="the table's name in the warehouse (letters, digits, _)")
    columns: dict[str, ColumnConfig] = Field(
        description="column name -> its type and rules, or just its type (city: string)",
        json_schema_extra=lambda s: or_shorthand(s, _TYPE_SHORTHAND),
    )
    keys: list[str] = Field(
        default_factory=list,
        description="the record's key columns: merge upserts on them",
    )

    @field_validator("name")
    @classmethod
    def _check_name(cls, v: str) -> str:
        return identifier(v)

    @field_validator("columns", mode="before")
    @classmethod
    def _short_form(cls, v: Any) -> Any:
        # `phone: string` is shorthand for `phone: {type: string}`.
        if isinstance(v, dict):
            return {k: ({"type": c} if isinstance(c, str) else c) for k, c in v.items()}
        return v

    @field_validator("columns")
    @classmethod
    def _column_names(cls, v: dict[str, ColumnConfig]) -> dict[str, ColumnConfig]:
        for name in v:
            identifier(name)
            if name.startswith("_"):
                raise ValueError(f"column {name!r}: names starting with '_' are reserved")
        if not v:
            raise ValueError("a table needs at least one column")
        return v

    @model_validator(mode="after")
    def _keys_exist(self) -> TableConfig:
        for k in self.keys:
            if k not in self.columns:
                raise ValueError(f"key {k!r} is not a column of table {self.name!r}")
        for name, col in self.columns.items():
            if col.century_from is not None and col.century_from not in self.columns:
                raise ValueError(
                    f"column {name!r}: century_from {col.century_from!r} is not a column "
                    f"of table {self.name!r}"
                )
        return self
