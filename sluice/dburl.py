"""Database URLs: pick the driver sluice uses and hide passwords when showing them.

SQLAlchemy is imported by the functions that parse with it, not here: ``sluice validate``
checks a URL with :func:`check`, which needs it only for a URL it cannot plainly accept.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from sluice.errors import ConfigError, Where
from sluice.redact import redact_url

if TYPE_CHECKING:
    import sqlalchemy as sa

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
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

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


#: SQLAlchemy's own grammar of a URL (``sqlalchemy.engine.url._parse_url``, 2.x), copied
#: as it is: what it matches at the start of a string, make_url parses
_SA_URL = re.compile(
    r"""
        (?P<name>[\w\+]+)://
        (?:
            (?P<username>[^:/]*)
            (?::(?P<password>[^@]*))?
        @)?
        (?:
            (?:
                \[(?P<ipv6host>[^/\?]+)\] |
                (?P<ipv4host>[^/:\?]+)
            )?
            (?::(?P<port>[^/\?]*))?
        )?
        (?:/(?P<database>[^\?]*))?
        (?:\?(?P<query>.*))?
        """,
    re.X,
)
_DIGITS = re.compile(r"[0-9]+")


def plainly_supported(url: str) -> bool:
    """True only when :func:`normalize` surely accepts ``url``: SQLAlchemy's grammar
    matches, the port (if any) is ASCII digits (make_url's ``int()`` cannot fail: an empty
    port after ``:`` fails it) and the scheme is one sluice supports. False means "ask
    SQLAlchemy", not "invalid"."""
    m = _SA_URL.match(url)
    if m is None or m["name"] not in _DRIVERS:
        return False
    return m["port"] is None or _DIGITS.fullmatch(m["port"]) is not None


def check(url: str, *, label: str | None = None, where: Where | None = None) -> None:
    """The :class:`ConfigError` :func:`normalize` would raise for ``url``, if any, without
    importing SQLAlchemy for a URL that is :func:`plainly_supported`."""
    if not plainly_supported(url):
        normalize(url, label=label, where=where)


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
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except (sa.exc.ArgumentError, ValueError):
        pattern = _PASSWORD_AFTER_SCHEME if "://" in url else _PASSWORD
        shown = pattern.sub(r"\1:***@", url)
    return redact_url(shown)
