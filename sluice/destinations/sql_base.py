"""What every SQL destination starts from: its engine, quoting, table shapes, errors.

The DDL (:mod:`sluice.destinations.sql_ddl`) and the loads
(:mod:`sluice.destinations.sql_load`) build on this; a database's module overrides the
hooks it needs (``_engine_options``, ``_column_type``, ``_sa_table``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from sluice.dbpool import quiet_pool_logs
from sluice.dburl import normalize, redact
from sluice.destinations.base import Mode
from sluice.errors import LoadError, RetryableLoadError
from sluice.schema import ColumnSpec, TableSpec
from sluice.sqltypes import SA_TYPES


class SqlBase:
    """A warehouse at ``url``: its SQLAlchemy engine and the dialect's quoting."""

    #: whether a merge's stage carries the table's key (a dialect whose upsert reads the
    #: stage by it); the keys are unique within a load either way (the validator's rule)
    STAGE_KEYED = True

    def __init__(self, url: str) -> None:
        self.url = url
        quiet_pool_logs()  # a connection dropped under the pool: one line, no traceback
        try:
            self.engine = sa.create_engine(normalize(url), **self._engine_options())
        except (sa.exc.ArgumentError, ImportError) as exc:
            raise LoadError(f"cannot use warehouse {redact(url)}: {exc}") from None
        self.quote: Callable[[str], str] = self.engine.dialect.identifier_preparer.quote

    # ---------------------------------------------------------------- subclass hooks

    def _engine_options(self) -> dict[str, Any]:
        return {}

    def _column_type(self, spec: TableSpec, column: ColumnSpec) -> sa.types.TypeEngine[Any]:
        """The SQL type of a column (MySQL needs a bounded type for key columns)."""
        return SA_TYPES[column.type]

    def _sa_table(self, spec: TableSpec, mode: Mode, name: str | None = None) -> sa.Table:
        """The table as SQLAlchemy sees it; a stage (``name`` given) has no foreign keys.

        Exactly the declared columns: their type, NOT NULL where not ``nullable``, and
        no default of any kind. (SQLAlchemy would make a lone integer primary key
        generated: BIGSERIAL in PostgreSQL, AUTO_INCREMENT in MySQL; keys are data.)
        """
        metadata = sa.MetaData()
        cols = [
            sa.Column(c.name, self._column_type(spec, c), nullable=c.nullable, autoincrement=False)
            for c in [*spec.columns, *snapshot_columns(mode)]
        ]
        args: list[Any] = []
        if mode == "merge" and spec.keys and (name is None or self.STAGE_KEYED):
            args.append(sa.PrimaryKeyConstraint(*spec.keys))
        for fk in spec.foreign_keys if name is None else []:
            # The referenced table only needs to be known by name and key columns.
            if fk.table not in metadata.tables:
                sa.Table(fk.table, metadata, *(sa.Column(c, sa.Integer) for c in fk.ref_columns))
            refs = [f"{fk.table}.{c}" for c in fk.ref_columns]
            args.append(sa.ForeignKeyConstraint(list(fk.columns), refs))
        return sa.Table(name or spec.name, metadata, *cols, *args)

    def _connect_error(self, exc: Exception) -> LoadError:
        msg = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        cls = RetryableLoadError if isinstance(exc, sa.exc.OperationalError) else LoadError
        return cls(
            f"warehouse {redact(self.url)}: {msg}",
            hint="check that the database is running and the URL is right",
        )


def snapshot_columns(mode: Mode) -> list[ColumnSpec]:
    if mode != "snapshot":
        return []
    return [
        ColumnSpec("_load_id", "integer", nullable=False),
        ColumnSpec("_loaded_at", "datetime", nullable=False),
        ColumnSpec("_source", "string", nullable=False),
    ]
