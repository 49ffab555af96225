"""Schema versions: each table's columns, recorded when they change."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from sluice.state.core import StoreCore
from sluice.state.faults import retry_dropped
from sluice.state.models import SchemaVersion


@retry_dropped
class SchemaVersions(StoreCore):
    """The columns of each table a pipeline loads, one version per change."""

    def record_schema(self, pipeline: str, table: str, columns: dict[str, str], run_id: str) -> int:
        """Store the table's columns if they changed; return the current version."""
        with self.session() as s:
            last = s.scalars(
                sa.select(SchemaVersion)
                .where(SchemaVersion.pipeline == pipeline, SchemaVersion.table_name == table)
                .order_by(SchemaVersion.version.desc())
            ).first()
            if last is not None and last.columns == columns:
                return last.version
            version = (last.version + 1) if last else 1
            s.add(
                SchemaVersion(
                    pipeline=pipeline,
                    table_name=table,
                    version=version,
                    columns=columns,
                    run_id=run_id,
                )
            )
            return version

    def schema_versions(self, pipeline: str) -> Sequence[SchemaVersion]:
        with self.session() as s:
            return s.scalars(
                sa.select(SchemaVersion)
                .where(SchemaVersion.pipeline == pipeline)
                .order_by(SchemaVersion.id)
            ).all()
