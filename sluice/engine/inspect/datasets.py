"""The latest rows a pipeline loaded, for ``GET /api/datasets`` and previews.

A table is named only by the pipeline's own config: its table, or one of the tables
its layout splits records into. A name from outside is looked up among those, never
put into SQL, so a crafted one (``users; DROP TABLE x``, ``../../etc/passwd``) is
"not found" and nothing runs. Restricted tables (``pii: restricted``) are not listed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from sluice.config import HttpDestinationConfig, Project
from sluice.destinations import WarehouseDestination, connect
from sluice.errors import NotFound, UsageError
from sluice.transforms.normalize import Layout


@dataclass
class Rows:
    relation: str  # the table or view read
    columns: list[str]
    rows: list[tuple[Any, ...]]
    limit: int
    offset: int


@dataclass
class Warehouses:
    """Open warehouse connections, kept for the life of a service: a read of the
    latest rows then costs one query, not a new engine, a connect and a catalog look."""

    _open: dict[str, WarehouseDestination] = field(default_factory=dict)
    _seen: set[tuple[str, str]] = field(default_factory=set)  # (url, relation) that exist
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, url: str) -> WarehouseDestination:
        with self._lock:
            if url not in self._open:
                self._open[url] = connect(url)
            return self._open[url]

    def exists(self, url: str, dest: WarehouseDestination, relation: str) -> bool:
        """Whether the relation exists; once seen, it is not looked up again."""
        if (url, relation) in self._seen:
            return True
        if dest.has_relation(relation):
            self._seen.add((url, relation))
            return True
        return False

    def close(self) -> None:
        with self._lock:
            for dest in self._open.values():
                dest.close()
            self._open.clear()


def dataset_tables(project: Project, pipeline: str) -> list[str]:
    """The tables of a pipeline one may read, its own table first."""
    pipe = project.pipeline(pipeline)
    if isinstance(pipe.destination, HttpDestinationConfig):
        return []
    parts = Layout(pipe).parts
    root = [p.spec.name for p in parts if p.kind == "root"]
    return root + [p.spec.name for p in parts if p.kind not in ("root", "restricted")]


def latest_rows(
    project: Project,
    pipeline: str,
    table: str | None = None,
    *,
    limit: int = 100,
    offset: int = 0,
    warehouses: Warehouses | None = None,
) -> Rows:
    """Rows of the pipeline's table (for snapshots its ``_latest`` view), a page of them.

    ``warehouses``: connections to reuse (a service keeps one); else one for this call.
    """
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
    url = project.warehouse_url(pipe)
    own = warehouses is None
    cache = warehouses or Warehouses()
    dest = cache.get(url)
    try:
        if not cache.exists(url, dest, relation):
            raise NotFound(
                f"table {relation!r} does not exist yet", hint=f"run the pipeline {pipeline!r}"
            )
        columns, rows = dest.preview(relation, limit, offset)
    finally:
        if own:
            cache.close()
    return Rows(relation, columns, rows, limit, offset)
