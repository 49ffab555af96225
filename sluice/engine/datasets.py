"""The latest rows a pipeline loaded, for ``GET /api/datasets`` and previews.

A table is named only by the pipeline's own config: its table, or one of the tables
its layout splits records into. A name from outside is looked up among those, never
put into SQL, so a crafted one (``users; DROP TABLE x``, ``../../etc/passwd``) is
"not found" and nothing runs. Restricted tables (``pii: restricted``) are not listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from sluice.config import HttpDestinationConfig, Project
from sluice.destinations import connect
from sluice.destinations.sql import SqlDestination
from sluice.errors import LoadError, NotFound, UsageError
from sluice.transforms.normalize import Layout


@dataclass
class Rows:
    relation: str  # the table or view read
    columns: list[str]
    rows: list[tuple[Any, ...]]
    limit: int
    offset: int


def dataset_tables(project: Project, pipeline: str) -> list[str]:
    """The tables of a pipeline one may read, its own table first."""
    pipe = project.pipeline(pipeline)
    if isinstance(pipe.destination, HttpDestinationConfig):
        return []
    parts = Layout(pipe).parts
    root = [p.spec.name for p in parts if p.kind == "root"]
    return root + [p.spec.name for p in parts if p.kind not in ("root", "restricted")]


def latest_rows(
    project: Project, pipeline: str, table: str | None = None, *, limit: int = 100, offset: int = 0
) -> Rows:
    """Rows of the pipeline's table (for snapshots its ``_latest`` view), a page of them."""
    if pipeline not in project.pipelines:
        raise NotFound(f"no pipeline named {pipeline!r}")
    pipe = project.pipeline(pipeline)
    if isinstance(pipe.destination, HttpDestinationConfig):
        raise UsageError(
            f"pipeline {pipeline!r} delivers to an http endpoint: there is no table to read",
            hint="its runs' reports (and `sluice audit`) say what was delivered",
        )
    tables = dataset_tables(project, pipeline)
    name = tables[0] if table is None else next((t for t in tables if t == table), None)
    if name is None:
        raise NotFound(
            f"pipeline {pipeline!r} has no table {table!r}", hint="tables: " + ", ".join(tables)
        )
    relation = name + "_latest" if pipe.destination.mode == "snapshot" else name
    dest = connect(project.warehouse_url(pipe))
    try:
        if isinstance(dest, SqlDestination) and not _exists(dest, relation):
            raise NotFound(
                f"table {relation!r} does not exist yet", hint=f"run the pipeline {pipeline!r}"
            )
        columns, rows = dest.preview(relation, limit, offset)
    finally:
        dest.close()
    return Rows(relation, columns, rows, limit, offset)


def _exists(dest: SqlDestination, relation: str) -> bool:
    try:
        inspector = sa.inspect(dest.engine)
        return bool(inspector.has_table(relation) or relation in inspector.get_view_names())
    except sa.exc.SQLAlchemyError as exc:
        raise LoadError(
            f"cannot read the warehouse: {str(exc).splitlines()[0]}",
            hint="check `warehouse:` in sluice.yaml or SLUICE_WAREHOUSE_URL",
        ) from None
