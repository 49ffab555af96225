"""Database URLs: pick the driver sluice uses and hide passwords when showing them."""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from sluice.errors import ConfigError, Where
from sluice.redact import redact_url

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


EXAMPLES = (
    "sqlite:///path/to/file.db, postgresql://user:password@host:5432/dbname, "
    "mysql://user:password@host:3306/dbname or duckdb:///path/to/file.duckdb"
)


def normalize(url: str, *, label: str | None = None, where: Where | None = None) -> sa.URL:
    """``postgres://`` and ``postgresql://`` use psycopg 3; anything unknown is an error.

    ``label`` names where the URL came from in the error (``SLUICE_WAREHOUSE_URL``);
    the URL is shown with its password masked.
    """
    what = f"{label} is " if label else ""
    try:
        parsed = make_url(url)
    except (sa.exc.ArgumentError, ValueError) as exc:
        why = _why(url, exc)
        raise ConfigError(
            f"{what}not a database URL: {redact(url)!r}" + (f" ({why})" if why else ""),
            hint=f"use {EXAMPLES}",
            where=where,
        ) from None
    driver = _DRIVERS.get(parsed.drivername)
    if driver is None:
        raise ConfigError(
            f"{what}a URL of an unsupported database {parsed.drivername!r}: {redact(url)!r}"
            if label
            else f"unsupported database {parsed.drivername!r} in {redact(url)!r}",
            hint="supported: " + ", ".join(sorted({d.split("+")[0] for d in _DRIVERS})),
            where=where,
        )
    return parsed.set(drivername=driver)


def _why(url: str, exc: Exception) -> str | None:
    if isinstance(exc, ValueError) and "int()" in str(exc):
        return "its port is not a number"
    if "://" not in url:
        return "no scheme:// at its start"
    return None


def dialect_name(url: str) -> str:
    return normalize(url).get_backend_name()


#: the password of ``scheme://user:password@host`` (the scheme may be missing): up to
#: the last ``@`` before a query
_PASSWORD = re.compile(r"^((?:[A-Za-z][\w+.-]*://)?[^:/@?#]*):[^?#]*@")
#: the same when the URL has a scheme, which must then come first (``pg://u@h:port``
#: has no password: its ``:`` belongs to the port)
_PASSWORD_AFTER_SCHEME = re.compile(r"^([A-Za-z][\w+.-]*://[^:/@?#]*):[^?#]*@")


def redact(url: str) -> str:
    """The URL with its password shown as ``***``, and the values of secret query
    parameters (``?password=``, ``sslpassword=``: :func:`sluice.redact.redact_url`);
    never fails, even on a malformed URL."""
    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except (sa.exc.ArgumentError, ValueError):
        pattern = _PASSWORD_AFTER_SCHEME if "://" in url else _PASSWORD
        shown = pattern.sub(r"\1:***@", url)
    return redact_url(shown)
