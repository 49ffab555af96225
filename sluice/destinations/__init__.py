"""Destinations: one module per database, registered by URL scheme."""

from sluice.destinations import duckdb as _duckdb  # noqa: F401
from sluice.destinations import mysql as _mysql  # noqa: F401
from sluice.destinations import postgres as _postgres  # noqa: F401
from sluice.destinations import sqlite as _sqlite  # noqa: F401
from sluice.destinations.base import (
    Capabilities,
    Destination,
    LoadMeta,
    LoadResult,
    Target,
    connect,
)

__all__ = ["Capabilities", "Destination", "LoadMeta", "LoadResult", "Target", "connect"]
