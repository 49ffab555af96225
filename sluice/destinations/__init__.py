"""Destinations: one module per database, registered by URL scheme.

A database's module (and its driver) is imported when a URL first asks for it, so a
run into PostgreSQL never pays for DuckDB's or ADBC's import.
"""

from sluice.destinations.base import (
    Capabilities,
    DeliveryLedger,
    Destination,
    LoadMeta,
    LoadResult,
    Target,
    Warehouse,
    WarehouseDestination,
    connect,
)

__all__ = [
    "Capabilities",
    "DeliveryLedger",
    "Destination",
    "LoadMeta",
    "LoadResult",
    "Target",
    "Warehouse",
    "WarehouseDestination",
    "connect",
]
