"""What an existing column keeps, where that is less than sluice's type keeps.

A table its owner made may hold a declared ``decimal`` in ``NUMERIC(10, 2)``, a
``datetime`` in MySQL's ``DATETIME`` (whole seconds), a ``float`` in a 4-byte ``REAL``,
an ``integer`` in an ``INTEGER`` or a ``string`` in a ``VARCHAR(50)``. Such a column
is no other type (:mod:`~sluice.destinations.found_types` lets it load), but the
database would round, cut or refuse a value that does not fit: :func:`kept` says what
it keeps, as a :class:`~sluice.schema.Narrow` the validator checks values against.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from sluice.destinations.found_types import Found, family
from sluice.schema import DECIMAL_PLACES, Narrow

#: MySQL's TIMESTAMP: seconds since 1970 in 32 bits, in UTC (MariaDB 11.5 and later on
#: 64-bit hosts go on to 2106, :data:`TIMESTAMP_SPAN_64`)
TIMESTAMP_SPAN = (
    datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC),
    datetime(2038, 1, 19, 3, 14, 7, 999999, tzinfo=UTC),
)
TIMESTAMP_SPAN_64 = (TIMESTAMP_SPAN[0], datetime(2106, 2, 7, 6, 28, 15, 999999, tzinfo=UTC))

#: an integer column's bits, by its type (BIGINT, as sluice makes it, is not narrow)
_BITS: list[tuple[type[sa.types.TypeEngine[Any]], int]] = [
    (mysql.TINYINT, 8),
    (mysql.MEDIUMINT, 24),
    (sa.BigInteger, 64),
    (sa.SmallInteger, 16),
    (sa.Integer, 32),
]
#: MySQL's text types shorter than LONGTEXT (which sluice makes): their bytes
_TEXT_BYTES: dict[type[Any], int] = {
    mysql.TINYTEXT: 255,
    mysql.TEXT: 65_535,
    mysql.MEDIUMTEXT: 16_777_215,
}
#: DuckDB's integer types: (bits, unsigned)
_DUCKDB_INTEGERS = {
    "TINYINT": (8, False),
    "SMALLINT": (16, False),
    "INTEGER": (32, False),
    "UTINYINT": (8, True),
    "USMALLINT": (16, True),
    "UINTEGER": (32, True),
    "UBIGINT": (64, True),
    "UHUGEINT": (128, True),
}


def kept(type_: sa.types.TypeEngine[Any], shown: str) -> Narrow | None:
    """What a reflected column keeps where less than the type sluice makes for its
    family; None where as much (PostgreSQL's ``numeric`` without digits keeps every one)."""
    made_for = family(type_)
    if made_for == "decimal" and isinstance(type_, sa.Numeric):
        if type_.precision is None:
            return None
        return _places(int(type_.precision), int(type_.scale or 0), shown)
    if made_for == "datetime":
        digits: int | None = getattr(type_, "precision", None)
        if isinstance(type_, (mysql.DATETIME, mysql.TIMESTAMP)):
            digits = type_.fsp or 0  # MySQL's DATETIME: whole seconds
        fraction = int(digits) if digits is not None and digits < 6 else None
        span = TIMESTAMP_SPAN if isinstance(type_, mysql.TIMESTAMP) else None
        if fraction is None and span is None:
            return None
        return Narrow(shown, fraction=fraction, span=span)
    single = isinstance(type_, (sa.REAL, mysql.FLOAT)) and not isinstance(type_, mysql.REAL)
    if made_for == "float" and isinstance(type_, mysql.FLOAT | mysql.DOUBLE | mysql.REAL):
        digits, places = type_.precision, type_.scale
        if digits is not None and places is not None:  # FLOAT(7, 2) rounds to 2 places
            return Narrow(shown, single=single, float_places=(int(digits), int(places)))
    if made_for == "float" and single:
        return Narrow(shown, single=True)
    if made_for == "integer":
        bits = next(b for kind, b in _BITS if isinstance(type_, kind))
        return _integers(bits, bool(getattr(type_, "unsigned", False)), shown)
    if made_for == "string" and isinstance(type_, sa.Enum) and type_.enums:
        return Narrow(shown, accepted=tuple(type_.enums))
    if made_for == "string" and isinstance(type_, sa.String) and type_.length:
        return Narrow(shown, length=int(type_.length))
    if made_for == "string" and type(type_) in _TEXT_BYTES:
        return Narrow(shown, octets=_TEXT_BYTES[type(type_)])
    if isinstance(type_, sa.Uuid):  # no type sluice makes: a string loads into it
        return Narrow(shown, uuid=True)
    return None


def duckdb_kept(shown: str) -> Narrow | None:
    """:func:`kept` of a DuckDB column type as it shows it (``DECIMAL(10,2)``)."""
    upper = shown.strip().upper()
    places = re.fullmatch(r"(?:DECIMAL|NUMERIC)\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)", upper)
    if places:
        return _places(int(places[1]), int(places[2]), shown)
    fraction = {"TIMESTAMP_S": 0, "TIMESTAMP_MS": 3}.get(upper)
    if fraction is not None:
        return Narrow(shown, fraction=fraction)
    if upper in _DUCKDB_INTEGERS:
        return _integers(*_DUCKDB_INTEGERS[upper], shown)
    return Narrow(shown, single=True) if upper in ("FLOAT", "REAL", "FLOAT4") else None


def narrow(have: dict[str, Found], declared: dict[str, str]) -> dict[str, Narrow]:
    """The columns of ``declared`` (name -> declared type) whose existing column, made for
    that type, keeps less than sluice makes it keep."""
    out = {}
    for name, type_ in declared.items():
        found = have.get(name)
        if found is None or found.keeps is None:
            continue
        # a type sluice never makes (uuid) takes a string, as the database reads it
        if found.family == type_ or (found.family is None and type_ == "string"):
            out[name] = found.keeps
    return out


def _places(precision: int, scale: int, shown: str) -> Narrow | None:
    whole, places = DECIMAL_PLACES[0] - DECIMAL_PLACES[1], DECIMAL_PLACES[1]
    if scale < places or precision - scale < whole:
        return Narrow(shown, places=(precision, scale))
    return None


def _integers(bits: int, unsigned: bool, shown: str) -> Narrow | None:
    if unsigned:
        return Narrow(shown, bounds=(0, min(2**bits, 2**63) - 1))
    if bits >= 64:
        return None
    return Narrow(shown, bounds=(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1))
