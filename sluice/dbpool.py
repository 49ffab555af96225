"""What the state store and the warehouses share about SQLAlchemy's connection pools.

When a connection dies under it (a server restarted, ``pg_terminate_backend``), the
pool logs "Exception during reset or similar" with the whole traceback: 22 lines on
stderr in the middle of a run's output, for something sluice handles (the connection
is dropped and the next one is fresh). :func:`quiet_pool_logs` keeps that record to
one line: its message and the error's first line.
"""

from __future__ import annotations

import logging

#: the loggers SQLAlchemy's pools log through (one per pool class)
POOL_LOGGERS = tuple(
    f"sqlalchemy.pool.impl.{name}"
    for name in (
        "QueuePool",
        "AsyncAdaptedQueuePool",
        "NullPool",
        "SingletonThreadPool",
        "StaticPool",
        "AssertionPool",
    )
)


class OneLine(logging.Filter):
    """A record with a traceback becomes its message and the error's first line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            record.msg = f"{record.getMessage()}: {type(exc).__name__}: {first}"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


_ONE_LINE = OneLine()


def quiet_pool_logs() -> None:
    """Install the one-line filter on the pools' loggers (once; cheap to call again)."""
    for name in POOL_LOGGERS:
        logger = logging.getLogger(name)
        if _ONE_LINE not in logger.filters:
            logger.addFilter(_ONE_LINE)
