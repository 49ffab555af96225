"""Sources: one module per kind, registered by name."""

from sluice.sources import file as _file  # noqa: F401
from sluice.sources.base import Reader, Source, SourceContext, Unit, create_source
from sluice.sources.file_unit import hash_units_ahead

__all__ = ["Reader", "Source", "SourceContext", "Unit", "create_source", "hash_units_ahead"]
