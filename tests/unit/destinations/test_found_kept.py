"""What an existing column keeps, read from what the database shows: where less than
the type sluice makes for its family, the validator refuses what it would change."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql

from sluice.destinations.found_kept import TIMESTAMP_SPAN, duckdb_kept, kept, narrow
from sluice.destinations.found_types import Found
from sluice.schema import Narrow


@pytest.mark.parametrize(
    ("type_", "keeps"),
    [
        (sa.Numeric(10, 2), Narrow("T", places=(10, 2))),
        (postgresql.NUMERIC(12), Narrow("T", places=(12, 0))),  # scale unstated: none
        (postgresql.NUMERIC(), None),  # PostgreSQL's numeric keeps every digit
        (postgresql.NUMERIC(38, 6), None),  # as sluice makes it
        (postgresql.NUMERIC(40, 8), None),
        (postgresql.NUMERIC(20, 6), Narrow("T", places=(20, 6))),  # 14 before the point
        (mysql.DECIMAL(10, 2), Narrow("T", places=(10, 2))),
        (postgresql.TIMESTAMP(timezone=True, precision=0), Narrow("T", fraction=0)),
        (postgresql.TIMESTAMP(precision=3), Narrow("T", fraction=3)),
        (postgresql.TIMESTAMP(timezone=True), None),  # microseconds
        (mysql.DATETIME(), Narrow("T", fraction=0)),  # MySQL's default: whole seconds
        (mysql.DATETIME(fsp=6), None),
        (mysql.TIMESTAMP(fsp=3), Narrow("T", fraction=3, span=TIMESTAMP_SPAN)),
        (mysql.TIMESTAMP(fsp=6), Narrow("T", span=TIMESTAMP_SPAN)),
        (postgresql.REAL(), Narrow("T", single=True)),
        (mysql.FLOAT(), Narrow("T", single=True)),
        (postgresql.DOUBLE_PRECISION(precision=53), None),
        (mysql.DOUBLE(asdecimal=True), None),
        (sa.BigInteger(), None),
        (postgresql.INTEGER(), Narrow("T", bounds=(-(2**31), 2**31 - 1))),
        (postgresql.SMALLINT(), Narrow("T", bounds=(-32768, 32767))),
        (mysql.TINYINT(display_width=4), Narrow("T", bounds=(-128, 127))),
        (mysql.TINYINT(display_width=1), None),  # MySQL's BOOLEAN
        (mysql.MEDIUMINT(unsigned=True), Narrow("T", bounds=(0, 2**24 - 1))),
        (mysql.BIGINT(unsigned=True), Narrow("T", bounds=(0, 2**63 - 1))),
        (mysql.BIGINT(), None),
        (postgresql.VARCHAR(50), Narrow("T", length=50)),
        (mysql.CHAR(3), Narrow("T", length=3)),
        (postgresql.VARCHAR(), None),
        (postgresql.TEXT(), None),
        (mysql.LONGTEXT(), None),
        (mysql.TEXT(), Narrow("T", octets=65_535)),
        (mysql.TINYTEXT(), Narrow("T", octets=255)),
        (mysql.MEDIUMTEXT(), Narrow("T", octets=16_777_215)),
        (mysql.FLOAT(6, 2), Narrow("T", single=True, float_places=(6, 2))),
        (mysql.DOUBLE(10, 3, asdecimal=True), Narrow("T", float_places=(10, 3))),
        (postgresql.UUID(), Narrow("T", uuid=True)),
        (
            postgresql.ENUM("active", "on hold", name="st"),
            Narrow("T", accepted=("active", "on hold")),
        ),
        (mysql.ENUM("a", "b"), Narrow("T", accepted=("a", "b"))),
    ],
)
def test_what_a_reflected_column_keeps(
    type_: sa.types.TypeEngine[object], keeps: Narrow | None
) -> None:
    assert kept(type_, "T") == keeps


@pytest.mark.parametrize(
    ("shown", "keeps"),
    [
        ("DECIMAL(10,2)", Narrow("DECIMAL(10,2)", places=(10, 2))),
        ("DECIMAL(38,6)", None),
        ("TIMESTAMP_S", Narrow("TIMESTAMP_S", fraction=0)),
        ("TIMESTAMP_MS", Narrow("TIMESTAMP_MS", fraction=3)),
        ("TIMESTAMP WITH TIME ZONE", None),
        ("FLOAT", Narrow("FLOAT", single=True)),  # DuckDB's FLOAT and REAL: 4 bytes
        ("DOUBLE", None),
        ("VARCHAR", None),
        ("INTEGER", Narrow("INTEGER", bounds=(-(2**31), 2**31 - 1))),
        ("UBIGINT", Narrow("UBIGINT", bounds=(0, 2**63 - 1))),
        ("BIGINT", None),
        ("HUGEINT", None),
    ],
)
def test_what_a_duckdb_column_keeps(shown: str, keeps: Narrow | None) -> None:
    assert duckdb_kept(shown) == keeps


def test_only_columns_made_for_the_declared_type_and_keeping_less_are_narrow() -> None:
    two = Narrow("NUMERIC(10, 2)", places=(10, 2))
    have = {
        "a": Found(True, "NUMERIC(10, 2)", "decimal", two),
        "b": Found(True, "NUMERIC(38, 6)", "decimal"),
        "c": Found(True, "NUMERIC(10, 2)", "decimal", two),  # declared otherwise
        "d": Found(True, "DATETIME", "datetime", Narrow("DATETIME", fraction=0)),
    }
    declared = {"a": "decimal", "b": "decimal", "c": "string", "d": "datetime", "e": "float"}
    assert narrow(have, declared) == {"a": two, "d": Narrow("DATETIME", fraction=0)}
