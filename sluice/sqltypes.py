"""The SQL type each destination creates for a declared column type.

Apart from :mod:`sluice.schema` so that reading ``sluice.yaml`` (``sluice validate``,
every command's start) does not import SQLAlchemy, about 0.1 s.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

#: Declared type -> SQLAlchemy type; each dialect compiles it (see :func:`sql_type`).
SA_TYPES: dict[str, sa.types.TypeEngine[Any]] = {
    "string": sa.Text(),
    "integer": sa.BigInteger(),
    "float": sa.Float(53),
    "decimal": sa.Numeric(38, 6),
    "boolean": sa.Boolean(),
    "date": sa.Date(),
    "datetime": sa.DateTime(timezone=True),
    "list": sa.JSON(),  # a list of strings, stored as a JSON array
}


def sql_type(type_: str, dialect: sa.engine.Dialect) -> str:
    """The SQL type a destination creates for a declared type (docs/reference/types.md)."""
    return SA_TYPES[type_].compile(dialect=dialect)
