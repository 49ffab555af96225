"""``sluice.yaml`` models for normalized layouts and PII policies (part of the config).

A pipeline's ``table`` declares the columns of one record, flattened (``location_city``,
``login_uuid``). ``tables`` then splits each record over related tables:

- a **child** table takes some of the record's columns, one row per record, keyed by the
  record's key (``logins``, ``media``);
- a **lookup** table (``lookup: true``) takes columns many records share, deduplicated
  on its natural ``keys`` or on a hash of its columns; the record keeps a reference to
  it (``timezones``, ``countries``);
- a **list** table (``list: orders``) has one row per item of a JSON array column, with
  the record's key and the item's ``position``.

PII policies are set per column (``pii: drop | hash | mask | restricted``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PiiPolicy = Literal["drop", "hash", "mask", "restricted"]
#: Policies that change or remove the value before anything else sees it.
HIDING: tuple[str, ...] = ("drop", "hash", "mask", "restricted")

ChildType = Literal["string", "integer", "float", "decimal", "boolean", "date", "datetime"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ChildColumn(_Model):
    """A column of a normalized table: which record column (or list-item field) fills it."""

    source: str = Field(
        alias="from",
        description="record column; in a list table, the item's field path (. = the item)",
    )
    type: ChildType | None = Field(
        default=None, description="list tables: the item field's type (default string)"
    )


class ChildTable(_Model):
    columns: dict[str, ChildColumn] = Field(
        description="table column -> record column (or {from, type})"
    )
    lookup: bool = Field(default=False, description="deduplicated, referenced by the record")
    keys: list[str] = Field(
        default_factory=list,
        description="lookup: its natural key (default: a hash of its columns, column id)",
    )
    # `list` in sluice.yaml; another name here, or it would shadow the builtin.
    list_of: str | None = Field(
        default=None,
        alias="list",
        description="a record column holding a JSON array: one row per item",
    )
    restricted: bool = Field(
        default=False, description="holds restricted columns (pii: restricted)"
    )

    @field_validator("columns", mode="before")
    @classmethod
    def _short_form(cls, v: Any) -> Any:
        # `city: location_city` is shorthand for `city: {from: location_city}`.
        if isinstance(v, dict):
            return {k: ({"from": c} if isinstance(c, str) else c) for k, c in v.items()}
        return v

    @model_validator(mode="after")
    def _consistent(self) -> ChildTable:
        if not self.columns:
            raise ValueError("a table needs at least one column")
        if self.lookup and self.list_of:
            raise ValueError("a table is a lookup or a list table, not both")
        for k in self.keys:
            if k not in self.columns:
                raise ValueError(f"key {k!r} is not one of its columns")
        if self.keys and not self.lookup:
            raise ValueError("keys are for lookup tables (the others use the record's key)")
        for name, col in self.columns.items():
            if col.type is not None and not self.list_of:
                raise ValueError(
                    f"column {name!r}: a type is for list tables; others take the record "
                    "column's type"
                )
        return self
