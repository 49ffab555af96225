"""Limits of the databases themselves, told apart from passing faults.

A table past its database's column limit (``drift: evolve`` adding headers, a wide
file) fails the same way on every attempt; the drivers report it among their
"operational" errors, next to a dropped connection, so it is recognised here and
raised as :class:`~sluice.errors.LimitExceeded`, never as retryable.
"""

from __future__ import annotations


def limit_hit(exc: BaseException) -> str | None:
    """The limit ``exc`` says the database hit, in words; None for anything else."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).lower()
    sqlstate = getattr(orig, "sqlstate", None) or getattr(
        getattr(orig, "diag", None), "sqlstate", None
    )
    args = getattr(orig, "args", ())
    errno = args[0] if args and isinstance(args[0], int) else None
    if sqlstate == "54011" or "at most 1600 columns" in text:
        return "PostgreSQL allows at most 1,600 columns in a table"
    if sqlstate and str(sqlstate).startswith("54"):
        return f"a limit of PostgreSQL (SQLSTATE {sqlstate}: program limit exceeded)"
    if errno == 1117 or (errno is not None and "too many columns" in text):
        return "MySQL allows at most 4,096 columns in a table (InnoDB: 1,017)"
    if errno == 1118 or "row size too large" in text:
        return "MySQL rows hold at most 65,535 bytes (each text column counts 9 to 12)"
    if "too many columns" in text:
        return "SQLite allows at most 2,000 columns in a table (SQLITE_MAX_COLUMN)"
    return None
