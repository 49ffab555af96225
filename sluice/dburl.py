"""Database URLs: pick the driver sluice uses and hide passwords when showing them."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from sluice.errors import ConfigError

_DRIVERS = {
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
    "sqlite": "sqlite",
    "mysql": "mysql+pymysql",
    "mysql+pymysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
    "mariadb+pymysql": "mysql+pymysql",
    "duckdb": "duckdb",
}


def normalize(url: str) -> sa.URL:
    """``postgres://`` and ``postgresql://`` use psycopg 3; anything unknown is an error."""
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError:
        raise ConfigError(
            f"not a database URL: {redact(url)!r}",
            hint=(
                "use sqlite:///path/to/file.db, postgresql://user@host:5432/dbname, "
                "mysql://user@host:3306/dbname or duckdb:///path/to/file.duckdb"
            ),
        ) from None
    driver = _DRIVERS.get(parsed.drivername)
    if driver is None:
        raise ConfigError(
            f"unsupported database {parsed.drivername!r} in {redact(url)!r}",
            hint="supported: " + ", ".join(sorted({d.split("+")[0] for d in _DRIVERS})),
        )
    return parsed.set(drivername=driver)


def dialect_name(url: str) -> str:
    return normalize(url).get_backend_name()


def redact(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<invalid url>"
