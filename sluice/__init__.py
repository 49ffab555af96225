"""sluice: declarative ETL with every row accounted for.

import sluice

project = sluice.load_project("examples/leads")
report = sluice.run_pipeline(project, "leads")
print(report.status, report.totals)
"""

from sluice.config import Project, load_project, parse_project
from sluice.engine import RunReport, run_pipeline
from sluice.engine.replay import replay
from sluice.errors import (
    AccountingError,
    ConfigError,
    DriftError,
    LoadError,
    SluiceError,
    SourceError,
    StateError,
    TransformError,
)

__version__ = "0.1.0"

__all__ = [
    "AccountingError",
    "ConfigError",
    "DriftError",
    "LoadError",
    "Project",
    "RunReport",
    "SluiceError",
    "SourceError",
    "StateError",
    "TransformError",
    "__version__",
    "load_project",
    "parse_project",
    "replay",
    "run_pipeline",
]
