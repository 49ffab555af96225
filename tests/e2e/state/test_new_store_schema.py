"""A new state store is made from the models and marked as migrated (no Alembic run):
its tables must be exactly those the migrations make, on every database it runs on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sluice.dburl import normalize
from sluice.state import store
from sluice.state.models import Base
from sluice.state.store import StateStore
from tests.conftest import warehouse_url


def _described(url: str) -> dict[str, Any]:
    """Every table's columns, keys, indexes and constraints, as the database reports them."""
    engine = sa.create_engine(normalize(url))
    try:
        inspect = sa.inspect(engine)
        out: dict[str, Any] = {}
        for table in inspect.get_table_names():
            out[table] = {
                # A column added by a migration comes last: order aside, the same columns.
                "columns": sorted(
                    (c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                    for c in inspect.get_columns(table)
                ),
                "primary key": inspect.get_pk_constraint(table)["constrained_columns"],
                "indexes": sorted(
                    (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                    for i in inspect.get_indexes(table)
                ),
                "unique": sorted(
                    tuple(u["column_names"]) for u in inspect.get_unique_constraints(table)
                ),
                "foreign keys": sorted(
                    (tuple(f["constrained_columns"]), f["referred_table"])
                    for f in inspect.get_foreign_keys(table)
                ),
            }
        with engine.connect() as conn:
            version = conn.execute(sa.text(f"SELECT version_num FROM {store.VERSION_TABLE}"))
            out["version"] = version.scalar()
        return out
    finally:
        engine.dispose()


def _drop_everything(url: str) -> None:
    engine = sa.create_engine(normalize(url))
    with engine.begin() as conn:
        Base.metadata.drop_all(conn)
        conn.execute(sa.text(f"DROP TABLE {store.VERSION_TABLE}"))
    engine.dispose()


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql", "mysql"])
def test_a_new_store_has_the_tables_the_migrations_make(
    request: pytest.FixtureRequest, dialect: str, tmp_path: Path
) -> None:
    url = warehouse_url(request, dialect, tmp_path)
    engine = sa.create_engine(normalize(url))
    with engine.begin() as conn:
        store._upgrade(conn)  # what a store made by an older sluice went through
    engine.dispose()
    migrated = _described(url)
    _drop_everything(url)

    StateStore(url).close()
    made = _described(url)
    assert made == migrated
    assert made["version"] == store.HEAD

    # Alembic reads it as its own: an upgrade finds nothing to do.
    engine = sa.create_engine(normalize(url))
    with engine.begin() as conn:
        store._upgrade(conn)
    engine.dispose()
    assert _described(url) == made
