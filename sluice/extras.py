"""The distribution and its optional dependencies: which extra a missing module comes from.

The base install (``pip install sluice-etl``) is the CLI with file and HTTP sources into
SQLite. Anything else is an extra, imported where it is first needed through
:func:`require`, so that a missing one is a one-line :class:`~sluice.errors.MissingExtra`
naming the command to run, never an ImportError's traceback:

    >>> require("sluice_no_such_module", "serve", "sluice serve")
    Traceback (most recent call last):
    ...
    sluice.errors.MissingExtra: sluice serve needs the serve extra: pip install 'sluice-etl[serve]'
"""

from __future__ import annotations

import contextlib
import importlib
from types import ModuleType

from sluice.errors import MissingExtra

#: the distribution's name on the package index (the import name stays ``sluice``)
DISTRIBUTION = "sluice-etl"
#: the names it was installed under, newest first (``sluice`` before 0.1.0 was published)
DISTRIBUTIONS = (DISTRIBUTION, "sluice")

#: a database (SQLAlchemy's backend name) -> the driver module sluice uses, its extra
#: and the database's name in messages. SQLite's driver is in the base install.
DATABASES: dict[str, tuple[str, str, str]] = {
    "postgresql": ("psycopg", "postgres", "PostgreSQL"),
    "mysql": ("pymysql", "mysql", "MySQL/MariaDB"),
    "duckdb": ("duckdb_engine", "duckdb", "DuckDB"),
}


def distribution_version() -> str | None:
    """The installed distribution's version, None when sluice runs from a source tree
    without being installed: ``sluice --version`` and ``GET /api/health``."""
    from importlib.metadata import PackageNotFoundError, version

    for name in DISTRIBUTIONS:
        with contextlib.suppress(PackageNotFoundError):
            return version(name)
    return None


def install_command(extra: str) -> str:
    """What to run to get ``extra``: ``pip install 'sluice-etl[postgres]'``."""
    return f"pip install '{DISTRIBUTION}[{extra}]'"


def require(module: str, extra: str, what: str) -> ModuleType:
    """``module`` imported, or :class:`MissingExtra` saying that ``what`` (``sluice
    serve``, ``the PostgreSQL warehouse``) needs ``extra`` and how to install it.

    Also when the module is there but one of its own dependencies is not (a partial
    install): installing the extra again mends both.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError:
        raise MissingExtra(
            f"{what} needs the {extra} extra: {install_command(extra)}", extra=extra
        ) from None


def require_database(backend: str, role: str) -> None:
    """The driver of a database URL's ``backend`` (``postgresql``), or
    :class:`MissingExtra`; ``role`` is what the URL is for (``warehouse``, ``state store``).
    """
    if backend in DATABASES:
        module, extra, name = DATABASES[backend]
        require(module, extra, f"the {name} {role}")
