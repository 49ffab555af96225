"""The Destination interface and the registry of destination kinds by URL scheme.

A destination does one thing: ``load`` a stream of batches into a table as one atomic
unit, under a ``load_key``. The key is written in the same transaction as the data
(table ``_sluice_loads``), so a load that was committed is never repeated, even when
the process died before the state store heard of it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

import polars as pl

from sluice.dburl import dialect_name
from sluice.schema import TableSpec

Mode = Literal["append", "replace", "merge", "snapshot"]
LOADS_TABLE = "_sluice_loads"
SNAPSHOT_COLUMNS = ("_load_id", "_loaded_at", "_source")


@dataclass(frozen=True)
class Capabilities:
    bulk_path: str
    transactional_ddl: bool
    modes: tuple[str, ...] = ("append", "replace", "merge", "snapshot")


@dataclass(frozen=True)
class LoadMeta:
    """Stamped on every row under ``snapshot``: which load, when, from which source."""

    load_id: int
    source: str
    loaded_at: datetime


@dataclass(frozen=True)
class Target:
    """One table of a multi-table load and how it is written.

    ``parent`` and ``parent_keys``: under ``merge``, a child table's rows for the
    parents in this load (the rows of table ``parent``) replace the ones it had, so a
    list that shrank leaves no stale rows behind.
    """

    table: TableSpec
    mode: Mode
    parent_keys: tuple[str, ...] = ()
    parent: str = ""


@dataclass(frozen=True)
class LoadResult:
    #: rows of the (first) table, the count the engine checks against what it passed
    rows: int
    already_loaded: bool = False
    #: rows not sent because an earlier run delivered their key (http destinations)
    skipped: int = 0
    #: rows the target refused for good: (the record, why); they go to quarantine
    rejected: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    #: rows written per table, for loads of several tables
    tables: dict[str, int] = field(default_factory=dict)


class Destination(Protocol):
    capabilities: Capabilities

    def prepare(self, table: TableSpec, mode: Mode) -> list[str]:
        """Create or evolve the table (and its ``_latest`` view); return columns added."""
        ...

    def load(
        self,
        table: TableSpec,
        mode: Mode,
        load_key: str,
        batches: Iterable[pl.DataFrame],
        meta: LoadMeta | None = None,
    ) -> LoadResult:
        """Load every batch, atomically; a ``load_key`` already committed loads nothing."""
        ...

    def is_loaded(self, load_key: str) -> bool: ...

    def preview(
        self, relation: str, limit: int, offset: int = 0
    ) -> tuple[list[str], list[tuple[Any, ...]]]: ...

    def close(self) -> None: ...


DestinationFactory = Callable[[str], Destination]
_REGISTRY: dict[str, DestinationFactory] = {}


def register(dialect: str) -> Callable[[DestinationFactory], DestinationFactory]:
    def deco(factory: DestinationFactory) -> DestinationFactory:
        _REGISTRY[dialect] = factory
        return factory

    return deco


#: dialect -> the module that registers it (imported on first use).
BUILT_IN = {
    "sqlite": "sluice.destinations.sqlite",
    "postgresql": "sluice.destinations.postgres",
    "mysql": "sluice.destinations.mysql",
    "duckdb": "sluice.destinations.duckdb",
}


def connect(url: str) -> Destination:
    """The destination for a warehouse URL (``sqlite:///...``, ``postgresql://...``)."""
    dialect = dialect_name(url)
    if dialect not in _REGISTRY and dialect in BUILT_IN:
        importlib.import_module(BUILT_IN[dialect])
    return _REGISTRY[dialect](url)
