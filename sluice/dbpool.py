"""What the state store and the warehouses share about SQLAlchemy's connection pools.

When a connection dies under it (a server restarted, ``pg_terminate_backend``), the
pool logs "Exception during reset or similar" with the whole traceback: 22 lines on
stderr in the middle of a run's output, for something sluice handles (the connection
is dropped and the next one is fresh). :func:`quiet_pool_logs` keeps that record to
one line: its message and the error's first line.

:func:`ping_when_idle` replaces SQLAlchemy's ``pool_pre_ping`` where connections are
taken out of the pool many times a second (a Celery worker's parts): a connection that
sat in the pool a while is pinged before use, one just handed back is not.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import sqlalchemy as sa

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


#: a connection back in the pool for longer than this is pinged before its next use
IDLE_PING_SECONDS = 1.0


def ping_when_idle(engine: sa.Engine, idle: float | None = None) -> None:
    """Ping a pooled connection before use only when it sat idle ``idle`` seconds or more
    (None: :data:`IDLE_PING_SECONDS`, read when the engine's listener is made).

    ``pool_pre_ping`` pings on every checkout: one more round trip for each short
    transaction (4 ms of a Celery part's 28 ms of state-store bookkeeping, bench/README).
    A connection dies while idle (a server restart, an idle timeout, a proxy); one handed
    back a moment ago is almost always alive, and if it is not, its first statement
    fails as a dropped connection, which the state store makes again on a fresh one
    (:func:`~sluice.state.faults.retry_dropped`). A failed ping makes the pool replace
    the connection at once, as ``pool_pre_ping`` does (SQLAlchemy's "pessimistic"
    disconnect handling: the checkout event raises ``DisconnectionError``).
    """

    after = IDLE_PING_SECONDS if idle is None else idle

    @sa.event.listens_for(engine, "checkin")
    def _back(dbapi_conn: Any, record: Any) -> None:
        record.info["sluice_idle_since"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _out(dbapi_conn: Any, record: Any, proxy: Any) -> None:
        since = record.info.get("sluice_idle_since")
        if since is None or time.monotonic() - since < after:
            return  # new, or handed back a moment ago
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as exc:
            if engine.dialect.is_disconnect(exc, dbapi_conn, None):
                # the pool drops this connection and hands out a fresh one
                raise sa.exc.DisconnectionError(str(exc).strip() or type(exc).__name__) from exc
            raise
