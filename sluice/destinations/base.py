"""The Destination interface and the registry of destination kinds by URL scheme.

A destination does one thing: ``load`` a stream of batches into a table as one atomic
unit, under a ``load_key``. The key is written in the same transaction as the data
(table ``_sluice_loads``), so a load that was committed is never repeated, even when
the process died before the state store heard of it.

Two interfaces, so that nothing has to pretend: :class:`Destination` is what every
destination does (an API that takes POSTs included); :class:`Warehouse` is what a
destination that holds tables does besides (create them, load several at once, show
rows). ``Destination.warehouse()`` gives it, or None: the engine asks instead of
testing concrete classes. A destination that keeps a record of deliveries gets a
:class:`DeliveryLedger` from the engine: plugins never touch the state store.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

import polars as pl

from sluice.dburl import dialect_name
from sluice.extras import require_database
from sluice.httpclient.stats import HttpStatsRecord
from sluice.schema import Narrow, TableSpec
from sluice.status import DeliveryOutcome, DeliveryStatus

Mode = Literal["append", "replace", "merge", "snapshot"]
LOADS_TABLE = "_sluice_loads"
SNAPSHOT_COLUMNS = ("_load_id", "_loaded_at", "_source")


@dataclass(frozen=True)
class Capabilities:
    """What the engine does differently for a destination, each field read by it."""

    #: it may refuse single rows after they left (``LoadResult.rejected``): the engine
    #: then hands it frames with each row's line (``_line``) and keeps the rows' raw
    #: fields until it answers, so a refused row is quarantined as it was read
    #: (http: True; a warehouse takes a load whole or fails it: False)
    keeps_raw: bool = False
    #: significant digits a ``decimal`` keeps there (None: every one): validation
    #: quarantines a value with more (SQLite's NUMERIC values are 8-byte floats: 15)
    decimal_digits: int | None = None
    #: input bytes the engine may read and validate ahead of what the destination has
    #: taken (0: one batch): for one that takes batches in bursts, so that reading goes
    #: on meanwhile (DuckDB)
    read_ahead_bytes: int = 0


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


class Warehouse(Protocol):
    """A destination that holds tables: it makes them, loads several as one, shows rows."""

    def prepare(self, table: TableSpec, mode: Mode) -> list[str]:
        """Create or evolve the table (and its ``_latest`` view); return columns added."""
        ...

    def narrow_columns(
        self, table: str, declared: dict[str, str], run_id: str
    ) -> dict[str, Narrow]:
        """The columns of ``declared`` (name -> declared type) whose existing column in
        ``table`` keeps less than its type does (a table its owner made), as the run
        ``run_id`` finds them."""
        ...

    def load_tables(
        self,
        targets: list[Target],
        load_key: str,
        batches: Iterable[dict[str, pl.DataFrame]],
        meta: LoadMeta | None = None,
        counted: str | None = None,
    ) -> LoadResult:
        """Load several tables as one unit (normalized records): all of them or none."""
        ...

    def preview(
        self, relation: str, limit: int, offset: int = 0
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Columns and rows of a table or view, a page of them."""
        ...

    def has_relation(self, relation: str) -> bool:
        """Whether a table or view of that name exists (a dataset not loaded yet)."""
        ...


class Destination(Protocol):
    """What every destination does; see :class:`Warehouse` for one that holds tables."""

    capabilities: Capabilities

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

    def is_loaded(self, load_key: str) -> bool:
        """Whether a load under ``load_key`` committed (False where loads leave no marker)."""
        ...

    def delivery_stats(self) -> HttpStatsRecord | None:
        """Requests, retries and statuses of the deliveries so far (None: not an API)."""
        ...

    def warehouse(self) -> Warehouse | None:
        """The tables this destination holds: itself for a database, None for an API."""
        ...

    def close(self) -> None: ...


class DeliveryLedger(Protocol):
    """Each record key's fate at one target, kept by the engine in the state store.

    Statuses (:class:`~sluice.status.DeliveryStatus`): ``sending`` (on its way),
    ``acked`` (the target took it), ``rejected`` (refused for good). Outcomes recorded
    for a run (:class:`~sluice.status.DeliveryOutcome`): ``pending``, ``delivered``,
    ``resent``, ``already``, ``rejected``; ``sluice audit`` reads both.
    """

    def status(self, keys: list[str]) -> dict[str, str]:
        """The known status of each of ``keys`` (keys never seen are left out)."""
        ...

    def record(self, outcomes: Mapping[str, DeliveryOutcome]) -> None:
        """What this run did with each key (the audit's view of the run)."""
        ...

    def mark(self, keys: list[str], status: DeliveryStatus) -> None:
        """Set the status of ``keys``: before a batch leaves and once it is answered."""
        ...


class WarehouseDestination(Destination, Warehouse, Protocol):
    """What a warehouse URL connects to: a destination that holds its own tables."""


DestinationFactory = Callable[[str], WarehouseDestination]
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


def connect(url: str) -> WarehouseDestination:
    """The destination for a warehouse URL (``sqlite:///...``, ``postgresql://...``)."""
    dialect = dialect_name(url)
    if dialect not in _REGISTRY and dialect in BUILT_IN:
        require_database(dialect, "warehouse")  # its driver: an extra, but for SQLite's
        importlib.import_module(BUILT_IN[dialect])
    return _REGISTRY[dialect](url)
