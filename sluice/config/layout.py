"""``sluice.yaml`` models for normalized layouts and PII policies.

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
:func:`check_layout` checks that both refer to real columns and fit together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator

from sluice.config.base import AliasedModel, identifier, or_shorthand
from sluice.config.destinations import HttpDestinationConfig
from sluice.schema import ScalarType

if TYPE_CHECKING:
    from sluice.config.pipeline import PipelineConfig

PiiPolicy = Literal["drop", "hash", "mask", "restricted"]


class ChildColumn(AliasedModel):
    """A column of a normalized table: which record column (or list-item field) fills it."""

    source: str = Field(
        alias="from",
        description="record column; in a list table, the item's field path (. = the item)",
    )
    # A list item's field holds one value: any column type but `list`.
    type: ScalarType | None = Field(
        default=None, description="list tables: the item field's type (default string)"
    )


#: what ``city: location_city`` may say: the record column alone
_FROM_SHORTHAND: dict[str, Any] = {"type": "string", "description": "shorthand for {from: ...}"}


class ChildTable(AliasedModel):
    """A related table each record is split into: a child, a lookup or a list table."""

    columns: dict[str, ChildColumn] = Field(
        description="table column -> record column (or {from, type})",
        json_schema_extra=lambda s: or_shorthand(s, _FROM_SHORTHAND),
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


def check_layout(pipe: PipelineConfig) -> None:
    """Normalized tables and PII policies refer to real columns and fit together."""
    cols = pipe.table.columns
    hidden = {n: c.pii for n, c in cols.items() if c.pii}
    if not pipe.tables and not hidden:
        return
    if isinstance(pipe.destination, HttpDestinationConfig):
        if pipe.tables or "restricted" in hidden.values():
            raise ValueError("tables and pii: restricted need a SQL destination")
    elif pipe.destination.mode == "snapshot" and (pipe.tables or "restricted" in hidden.values()):
        raise ValueError("tables (and pii: restricted) work with append, replace and merge")
    names = {pipe.table.name}
    for tname, t in pipe.tables.items():
        identifier(tname)
        if tname in names:
            raise ValueError(f"table {tname!r} is declared twice")
        names.add(tname)
        used = [t.list_of] if t.list_of else [c.source for c in t.columns.values()]
        for name in t.columns:
            identifier(name)
        for src in used:
            if src not in cols:
                raise ValueError(
                    f"tables.{tname} takes {src!r}, which is not a column of table "
                    f"{pipe.table.name!r}"
                )
            if hidden.get(src) == "drop":
                raise ValueError(f"tables.{tname} takes {src!r}, which has pii: drop")
            if hidden.get(src) == "restricted" and not t.restricted:
                raise ValueError(
                    f"tables.{tname} takes {src!r} (pii: restricted): mark the table "
                    "restricted: true, or leave the column to restricted_table"
                )
    for name, policy in hidden.items():
        spec = cols[name]
        if policy in ("hash", "mask") and spec.type != "string":
            raise ValueError(f"column {name!r}: pii: {policy} needs type string")
        if policy in ("drop", "hash", "mask") and (
            spec.regex or spec.accepted or spec.min is not None or spec.max is not None
        ):
            raise ValueError(
                f"column {name!r}: rules check the value after pii: {policy}; "
                "drop regex, accepted, min and max from it"
            )
        if policy == "drop" and name in pipe.table.keys:
            raise ValueError(f"key column {name!r} cannot have pii: drop")
    if pipe.restricted_table is not None:
        identifier(pipe.restricted_table)
        if pipe.restricted_table in names:
            raise ValueError(f"restricted_table {pipe.restricted_table!r} is taken")
