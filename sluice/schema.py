"""Column types and table layouts.

A table's layout is declared in ``sluice.yaml``; the Polars dtype the data plane uses for
a declared type is :mod:`sluice.dtypes`'s and the SQL type each destination creates is
:mod:`sluice.sqltypes`'s, so reading a config imports neither Polars nor SQLAlchemy.
Identifiers that come from files or APIs pass through :func:`sanitize_identifier`
before they are ever used as a column name.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

#: The type of one value; a list column holds several (a list table's items are scalars).
ScalarType = Literal["string", "integer", "float", "decimal", "boolean", "date", "datetime"]
ColumnType = Literal[ScalarType, "list"]
COLUMN_TYPES: tuple[str, ...] = (
    "string",
    "integer",
    "float",
    "decimal",
    "boolean",
    "date",
    "datetime",
    "list",
)

#: the digits a declared ``decimal`` keeps: (precision, scale), as every warehouse makes it
DECIMAL_PLACES = (38, 6)


#: A MySQL character set that stores fewer characters than Unicode has -> a regular
#: expression of one it cannot store. ``utf8mb3`` (MySQL's old ``utf8``) stops at
#: U+FFFF (no emoji); MySQL's ``latin1`` is Windows-1252 (five of its bytes stand for
#: C1 controls); ``ascii`` stops at U+007F.
CHARSET_LACKS = {
    "utf8mb3": "[\U00010000-\U0010ffff]",
    "utf8": "[\U00010000-\U0010ffff]",
    "latin1": "[^\x00-\x7f\xa0-\xff\x81\x8d\x8f\x90\x9d"
    "\u20ac\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u017d"
    "\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u017e\u0178]",
    "ascii": "[^\x00-\x7f]",
}


@dataclass(frozen=True)
class Narrow:
    """What a column of an existing table keeps where that is less than its declared
    type does (a table its owner made: ``NUMERIC(10,2)``, MySQL's ``DATETIME``, ``REAL``):
    the database would round, cut or refuse a value past it, so the validator refuses
    such a value first, naming this."""

    #: the column's type as the database shows it (``NUMERIC(10, 2)``)
    shown: str
    #: a decimal's (precision, scale)
    places: tuple[int, int] | None = None
    #: a datetime's digits of a second (0: whole seconds)
    fraction: int | None = None
    #: a float of 4 bytes (about 7 significant digits)
    single: bool = False
    #: a datetime's first and last (MySQL's ``TIMESTAMP``: 1970 to 2038, in UTC)
    span: tuple[datetime, datetime] | None = None
    #: an integer's least and greatest (``INTEGER``, MySQL's ``UNSIGNED``)
    bounds: tuple[int, int] | None = None
    #: a string's characters (``VARCHAR(50)``)
    length: int | None = None
    #: the values an enumerated type holds (PostgreSQL's ``CREATE TYPE ... AS ENUM``,
    #: MySQL's ``ENUM``, which would store ``ACTIVE`` as ``active``)
    accepted: tuple[str, ...] | None = None
    #: a string's character set where it stores fewer characters than Unicode has
    #: (MySQL's ``utf8mb3``, ``latin1``, ``ascii``: see :data:`CHARSET_LACKS`)
    charset: str | None = None
    #: a string's bytes (MySQL's ``TINYTEXT`` 255, ``TEXT`` 65,535, ``MEDIUMTEXT``
    #: 16,777,215; in a single-byte character set, its characters)
    octets: int | None = None
    #: a float's digits and places where the column rounds to places (MySQL's
    #: ``FLOAT(7, 2)``, ``DOUBLE(10, 3)``)
    float_places: tuple[int, int] | None = None
    #: a PostgreSQL ``uuid`` column: a string must read as one
    uuid: bool = False


IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_NON_WORD = re.compile(r"[^0-9a-zA-Z]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def normalize_header(name: str) -> str:
    """The form headers are compared in: ``"Licensed Since"`` == ``licensed_since``."""
    return _NON_WORD.sub("_", _CAMEL.sub("_", name.strip())).strip("_").lower()


def ignored(header: str, patterns: list[str]) -> bool:
    """Whether ``header`` is listed in ``ignore`` (names compare normalized; globs allowed)."""
    name = normalize_header(header)
    for pattern in patterns:
        if any(c in pattern for c in "*?["):
            glob = pattern.strip().lower()
            if fnmatch.fnmatchcase(name, glob) or fnmatch.fnmatchcase(header.lower(), glob):
                return True
        elif name == normalize_header(pattern):
            return True
    return False


def sanitize_identifier(name: str, *, fallback: str = "column") -> str:
    """Turn any header into a safe SQL identifier (letters, digits, underscore)."""
    out = normalize_header(name)[:63] or fallback
    if out[0].isdigit():
        out = f"c_{out}"[:63]
    return out


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    type: str = "string"
    nullable: bool = True


@dataclass(frozen=True)
class ForeignKey:
    """``columns`` of a table reference ``ref_columns`` (its keys) of table ``table``."""

    columns: tuple[str, ...]
    table: str
    ref_columns: tuple[str, ...]


@dataclass
class TableSpec:
    """What a destination needs to know to create and load a table."""

    name: str
    columns: list[ColumnSpec]
    keys: list[str] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]
