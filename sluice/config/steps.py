"""``sluice.yaml`` models of a pipeline's transforms: the steps run on each batch, in order.

Each step is a mapping with one key, its name (``trim``, ``cast``, ``utc`` ...)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Discriminator, Field, Tag, field_validator, model_validator

from sluice.config.base import Model
from sluice.config.columns import DateReading
from sluice.dateformat import EPOCH_FORMATS, compile_format
from sluice.schema import ColumnType


class TrimStep(Model):
    """Strip surrounding spaces; a field of only spaces becomes null."""

    trim: Literal["all"] | list[str] = Field(description="all, or a list of columns")


class CaseStep(Model):
    """Change the case of text columns."""

    class Args(Model):
        columns: list[str] = Field(description="the columns changed")
        to: Literal["upper", "lower", "title"] = Field(description="upper, lower or title")

    case: Args = Field(description="{columns: [state], to: upper}")


class CastStep(Model):
    """Cast a column early (before a step that needs its type); a failure quarantines the row."""

    class Args(DateReading):
        column: str = Field(description="the column cast")
        to: ColumnType = Field(description="the type: string, integer, float, decimal, ...")

    cast: Args = Field(description="{column: joined, to: date, formats: ['%d/%m/%Y']}")


class DeriveStep(Model):
    """Set a column from a SQL expression over the row."""

    class Args(Model):
        column: str = Field(description="the column set (new or replaced)")
        sql: str = Field(description="a SQL expression over the row, e.g. upper(city)")

    derive: Args = Field(description="{column: city, sql: initcap(city)}")


class FilterStep(Model):
    """Keep the rows where a SQL condition is true; the rest are counted as filtered."""

    class Args(Model):
        keep: str = Field(description="SQL condition; rows where it is not true are filtered")
        name: str | None = Field(default=None, description="rule name in the run report")

    filter: Args = Field(description="{name: test rows, keep: \"name NOT LIKE 'test%'\"}")


class DedupeStep(Model):
    """Keep one row per key within a file (or pull); the others are counted as filtered."""

    class Args(Model):
        keys: list[str] = Field(description="the columns whose values make the key")
        keep: Literal["first"] = Field(
            default="first", description="the row kept: the first one read"
        )

        @field_validator("keep", mode="before")
        @classmethod
        def _first_only(cls, value: object) -> object:
            # `last` was once accepted and silently kept the first row: say so instead.
            if value == "last":
                raise ValueError(
                    "dedupe keeps the first row of each key: rows stream in batches, so the "
                    "last one is not known until the file ends; remove `keep: last` (under "
                    "mode: merge with keys, a later load updates the row instead)"
                )
            return value

    dedupe: Args = Field(description="{keys: [license_number]}")


class AmountStep(Model):
    """Money text ($1,234.56, (5.00), 10.00K) -> a decimal; anything else quarantines the row."""

    class Args(Model):
        columns: list[str] = Field(description="text like 10.00K, 2.5M, 1B -> decimal")

    amount: Args = Field(description="{columns: [damage_property]}")


class UtcStep(Model):
    """A local time shifted by the UTC offset in another column -> a UTC datetime."""

    class Args(Model):
        column: str = Field(description="a local time, replaced by the same instant in UTC")
        offset_from: str = Field(description="the column with the UTC offset: CST-6, +05:30")
        formats: list[str] | None = Field(
            default=None, description="Python strptime formats of the local time, without a zone"
        )
        century_pivot: int | None = Field(default=None, ge=1, le=9900, description="as a column's")
        century_from: str | None = Field(default=None, description="as a column's")

        @field_validator("formats")
        @classmethod
        def _no_zone(cls, v: list[str] | None) -> list[str] | None:
            for fmt in v or []:
                if fmt in EPOCH_FORMATS or compile_format(fmt).zoned:
                    raise ValueError(f"format {fmt!r} has a zone: utc reads local times")
            return v

        @model_validator(mode="after")
        def _century_rule(self) -> UtcStep.Args:
            DateReading(
                formats=self.formats,
                century_pivot=self.century_pivot,
                century_from=self.century_from,
            )
            return self

    utc: Args = Field(description="{column: begin, offset_from: tz, formats: [...]}")


def _step_kind(v: Any) -> str | None:
    if isinstance(v, dict) and len(v) == 1:
        return str(next(iter(v)))
    if isinstance(v, BaseModel):
        return next(iter(type(v).model_fields))
    return None


#: the step kinds, as a step's one key names them
STEP_KINDS = ("amount", "utc", "trim", "case", "cast", "derive", "filter", "dedupe")

Step = Annotated[
    Annotated[TrimStep, Tag("trim")]
    | Annotated[CaseStep, Tag("case")]
    | Annotated[CastStep, Tag("cast")]
    | Annotated[DeriveStep, Tag("derive")]
    | Annotated[FilterStep, Tag("filter")]
    | Annotated[DedupeStep, Tag("dedupe")]
    | Annotated[AmountStep, Tag("amount")]
    | Annotated[UtcStep, Tag("utc")],
    Discriminator(
        _step_kind,
        custom_error_type="unknown_step",
        custom_error_message=(
            "a step is a mapping with one key: "
            + ", ".join(STEP_KINDS[:-1])
            + f" or {STEP_KINDS[-1]}"
        ),
    ),
]
