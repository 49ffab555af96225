"""``sluice.yaml`` -> Pydantic models.

One module per concern; import from here, which re-exports every public name:

- :mod:`~sluice.config.base` the shared base model and the checks of names and URLs
- :mod:`~sluice.config.columns` a pipeline's table: columns, their rules, date reading
- :mod:`~sluice.config.layout` normalized tables and PII policies
- :mod:`~sluice.config.http` credentials and retries of the HTTP blocks
- :mod:`~sluice.config.sources` file and HTTP sources
- :mod:`~sluice.config.steps` transform steps
- :mod:`~sluice.config.destinations` SQL and HTTP destinations
- :mod:`~sluice.config.pipeline` a pipeline and the checks that tie it together
- :mod:`~sluice.config.project` the project, and its warehouse and state store URLs
- :mod:`~sluice.config.loader` reading the file: ``${VAR}``, line numbers, errors
- :mod:`~sluice.config.export` the JSON Schema (``sluice schema``)
"""

from sluice.config.base import Model
from sluice.config.columns import ColumnConfig, DateReading, TableConfig
from sluice.config.destinations import AnyDestination, DestinationConfig, HttpDestinationConfig
from sluice.config.export import SCHEMA_FILE, json_schema
from sluice.config.http import HttpAuth, Retry
from sluice.config.layout import ChildColumn, ChildTable, PiiPolicy
from sluice.config.loader import (
    PROJECT_FILE,
    find_project_file,
    interpolate,
    load_project,
    parse_project,
)
from sluice.config.pipeline import PipelineConfig
from sluice.config.project import DEFAULT_STATE, DEFAULT_WAREHOUSE, AlertsConfig, Project
from sluice.config.sources import (
    CsvOptions,
    FanOut,
    FileSourceConfig,
    HttpSourceConfig,
    Incremental,
    MappedSource,
    Paginate,
    SourceConfig,
)
from sluice.config.steps import (
    AmountStep,
    CaseStep,
    CastStep,
    DedupeStep,
    DeriveStep,
    FilterStep,
    Step,
    TrimStep,
    UtcStep,
)

__all__ = [
    "DEFAULT_STATE",
    "DEFAULT_WAREHOUSE",
    "PROJECT_FILE",
    "SCHEMA_FILE",
    "AlertsConfig",
    "AmountStep",
    "AnyDestination",
    "CaseStep",
    "CastStep",
    "ChildColumn",
    "ChildTable",
    "ColumnConfig",
    "CsvOptions",
    "DateReading",
    "DedupeStep",
    "DeriveStep",
    "DestinationConfig",
    "FanOut",
    "FileSourceConfig",
    "FilterStep",
    "HttpAuth",
    "HttpDestinationConfig",
    "HttpSourceConfig",
    "Incremental",
    "MappedSource",
    "Model",
    "Paginate",
    "PiiPolicy",
    "PipelineConfig",
    "Project",
    "Retry",
    "SourceConfig",
    "Step",
    "TableConfig",
    "TrimStep",
    "UtcStep",
    "find_project_file",
    "interpolate",
    "json_schema",
    "load_project",
    "parse_project",
]
