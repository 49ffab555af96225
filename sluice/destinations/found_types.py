"""The declared type an existing column holds, read back from the warehouse.

A table made by an earlier run keeps the types it was made with. When ``sluice.yaml``
later declares a column with another type, loading into the old column would have the
database convert every value: PostgreSQL reads ``00123`` into a BIGINT as ``123``,
SQLite turns an integer past BIGINT into a REAL, a DATE column drops a datetime's time.
:func:`family` names the declared type a found column was made for, so ``prepare`` can
refuse such a load before it starts (:class:`sluice.errors.TypesChanged`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from sluice.schema import Narrow, TableSpec

#: DuckDB's ``information_schema`` type names (duckdb-engine cannot reflect DuckDB 2)
_DUCKDB = {
    **dict.fromkeys(["VARCHAR", "TEXT", "STRING", "CHAR", "BPCHAR"], "string"),
    **dict.fromkeys(["TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"], "integer"),
    **dict.fromkeys(["UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"], "integer"),
    **dict.fromkeys(["FLOAT", "REAL", "DOUBLE"], "float"),
    **dict.fromkeys(["DECIMAL", "NUMERIC"], "decimal"),
    "BOOLEAN": "boolean",
    "DATE": "date",
    **dict.fromkeys(["TIMESTAMP", "DATETIME", "TIMESTAMPTZ"], "datetime"),
    **dict.fromkeys(["TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS"], "datetime"),
    "JSON": "list",
}

#: the families each declared type loads into unchanged: MariaDB keeps JSON as LONGTEXT
ACCEPTS = {"list": {"list", "string"}}


@dataclass(frozen=True)
class Found:
    """A column of an existing table: whether it takes NULL, and its type."""

    nullable: bool
    #: the type as the database shows it (``BIGINT``, ``TIMESTAMP WITH TIME ZONE``)
    shown: str
    #: the declared type it was made for, or None for a type sluice never makes
    family: str | None
    #: what it keeps where that is less than sluice makes its family keep (None: as much)
    keeps: Narrow | None = None
    #: the database fills it when a row leaves it out (a default, an identity, a
    #: sequence, AUTO_INCREMENT, a generated column): a table its owner made
    filled: bool = False


@dataclass(frozen=True)
class Unique:
    """A unique key of an existing table: a primary key, constraint or index."""

    kind: str  # "its primary key", "a unique constraint", "a unique index"
    name: str | None
    columns: list[str]


def unique_name(table: TableSpec, uniques: list[Unique], limit: int) -> str:
    """The name of the unique index a merge makes on its keys: ``ux_<table>_keys``, or
    one naming the keys' digest when an index for older keys has that name already."""
    name = f"ux_{table.name}_keys"[:limit]
    if any(u.name == name for u in uniques):
        digest = hashlib.sha256("\0".join(table.keys).encode()).hexdigest()[:8]
        name = f"ux_{table.name}"[: limit - 14] + f"_keys_{digest}"
    return name


def family(type_: sa.types.TypeEngine[Any]) -> str | None:
    """The declared type a reflected SQLAlchemy type was made for (None: unknown)."""
    if isinstance(type_, mysql.TINYINT) and type_.display_width == 1:
        return "boolean"  # MySQL's BOOLEAN is TINYINT(1)
    kinds: list[tuple[type[sa.types.TypeEngine[Any]], str]] = [
        (sa.Boolean, "boolean"),
        (sa.Integer, "integer"),
        (sa.Float, "float"),  # before Numeric: SQLAlchemy's Float is a Numeric
        (sa.Numeric, "decimal"),
        (sa.DateTime, "datetime"),
        (sa.Date, "date"),
        (sa.JSON, "list"),
        (sa.String, "string"),
    ]
    return next((name for kind, name in kinds if isinstance(type_, kind)), None)


def duckdb_family(shown: str) -> str | None:
    """The declared type a DuckDB column type (``DECIMAL(38,6)``) was made for."""
    base = re.split(r"[ (]", shown.strip().upper(), maxsplit=1)[0]
    return _DUCKDB.get(base)


def shown(type_: sa.types.TypeEngine[Any], dialect: sa.engine.Dialect) -> str:
    """A reflected type as its database writes it (``TINYINT(1)``, not ``TINYINT``)."""
    try:
        return str(type_.compile(dialect=dialect))
    except sa.exc.CompileError:  # a type SQLAlchemy only knows by name
        return str(type_)


def accepts(declared: str, found: str | None) -> bool:
    """Whether a column made for ``found`` takes values declared ``declared`` unchanged.
    A type sluice never makes (None) is the table owner's choice: the database checks
    what goes in."""
    return found is None or found in ACCEPTS.get(declared, {declared})


def converted(column: str, made_for: str | None, declared: str, type_sql: str) -> str:
    """The expression (``ALTER ... TYPE ... USING``) that converts a column's values to
    ``type_sql``. Between dates and times it goes through UTC, as sluice reads them:
    a plain cast would take the zone of whatever session runs it."""
    if made_for == "datetime" and declared == "date":
        return f"({column} AT TIME ZONE 'UTC')::{type_sql}"
    if made_for == "date" and declared == "datetime":
        return f"({column}::TIMESTAMP AT TIME ZONE 'UTC')"
    return f"{column}::{type_sql}"
