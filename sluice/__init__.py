"""sluice: declarative ETL with every row accounted for.

The public, typed Python API is the names in ``__all__``; everything else is internal::

    import sluice

    project = sluice.load_project("examples/leads")
    report = sluice.run_pipeline(project, "leads")
    print(report.status, report.totals)

- :func:`load_project` / :func:`parse_project`: a :class:`Project` from ``sluice.yaml``
  (or its text), validated; a bad file raises :class:`ConfigError` listing every problem.
- :func:`run_pipeline`: run one pipeline in this process; returns its :class:`RunReport`
  (the document ``sluice run --json`` prints).
- :func:`replay`: load open quarantine entries again, once; one report per pipeline.
- :class:`SluiceError` and its subclasses: every error sluice raises on purpose, each
  with a ``hint`` and where it happened.

The names below are imported on first use (PEP 562): ``python -m sluice --help`` and
every other import of a ``sluice.*`` module runs this file first, and loading Polars,
SQLAlchemy and Pydantic here would cost each CLI call about a second before it starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sluice.lazy import lazy_exports

if TYPE_CHECKING:
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

#: public name -> the module that defines it
_HOMES = {
    "AccountingError": "sluice.errors",
    "ConfigError": "sluice.errors",
    "DriftError": "sluice.errors",
    "LoadError": "sluice.errors",
    "Project": "sluice.config",
    "RunReport": "sluice.engine",
    "SluiceError": "sluice.errors",
    "SourceError": "sluice.errors",
    "StateError": "sluice.errors",
    "TransformError": "sluice.errors",
    "load_project": "sluice.config",
    "parse_project": "sluice.config",
    "replay": "sluice.engine.replay",
    "run_pipeline": "sluice.engine",
}

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

__getattr__, __dir__ = lazy_exports(__name__, _HOMES, globals())
