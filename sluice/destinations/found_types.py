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

from sluice.schema import DECIMAL_PLACES, Narrow, TableSpec

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


def kept(type_: sa.types.TypeEngine[Any], shown: str) -> Narrow | None:
    """What a reflected column keeps where less than the type sluice makes for its
    family: a decimal's digits (PostgreSQL's ``numeric`` without them keeps every one),
    a datetime's digits of a second (MySQL's ``DATETIME`` keeps none), a 4-byte float."""
    made_for = family(type_)
    if made_for == "decimal" and isinstance(type_, sa.Numeric):
        if type_.precision is None:
            return None
        return _narrow_places(int(type_.precision), int(type_.scale or 0), shown)
    if made_for == "datetime":
        digits: int | None = getattr(type_, "precision", None)
        if isinstance(type_, (mysql.DATETIME, mysql.TIMESTAMP)):
            digits = type_.fsp or 0  # MySQL's DATETIME: whole seconds
        return Narrow(shown, fraction=int(digits)) if digits is not None and digits < 6 else None
    single = isinstance(type_, (sa.REAL, mysql.FLOAT)) and not isinstance(type_, mysql.REAL)
    if made_for == "float" and single:
        return Narrow(shown, single=True)
    return None


def duckdb_kept(shown: str) -> Narrow | None:
    """:func:`kept` of a DuckDB column type as it shows it (``DECIMAL(10,2)``)."""
    upper = shown.strip().upper()
    places = re.fullmatch(r"(?:DECIMAL|NUMERIC)\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)", upper)
    if places:
        return _narrow_places(int(places[1]), int(places[2]), shown)
    fraction = {"TIMESTAMP_S": 0, "TIMESTAMP_MS": 3}.get(upper)
    if fraction is not None:
        return Narrow(shown, fraction=fraction)
    return Narrow(shown, single=True) if upper in ("FLOAT", "REAL", "FLOAT4") else None


def _narrow_places(precision: int, scale: int, shown: str) -> Narrow | None:
    whole, places = DECIMAL_PLACES[0] - DECIMAL_PLACES[1], DECIMAL_PLACES[1]
    if scale < places or precision - scale < whole:
        return Narrow(shown, places=(precision, scale))
    return None


def narrow(have: dict[str, Found], declared: dict[str, str]) -> dict[str, Narrow]:
    """The columns of ``declared`` (name -> declared type) whose existing column, made for
    that type, keeps less than sluice makes it keep (see :class:`~sluice.schema.Narrow`)."""
    out = {}
    for name, type_ in declared.items():
        found = have.get(name)
        if found is not None and found.family == type_ and found.keeps is not None:
            out[name] = found.keeps
    return out


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
