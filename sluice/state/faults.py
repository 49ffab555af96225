"""When the state store itself fails: said as such, and tried again if its connection dropped.

Every error of the state store's database reaches callers as a
:class:`~sluice.errors.StateStoreError` naming the state store, its cause in one line
and what to do: a full disk is not a failed warehouse load. (Integrity errors pass
unchanged: callers that race on a key catch them.)

A connection lost *before* a commit (a restarted server, ``pg_terminate_backend``)
rolled its transaction back, so the call is simply made again on a fresh connection
(:func:`retry_dropped`); a pooled connection that sat idle a second or more is pinged
and, if it died there, replaced before use (:func:`sluice.dbpool.ping_when_idle`). A
connection lost *during* a commit is not retried: whether the commit happened is
unknown, and a write made twice could count a row twice.
"""

from __future__ import annotations

import functools
import inspect
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa

from sluice.dburl import redact
from sluice.errors import StateStoreError

T = TypeVar("T")

RETRIES = 4  # further tries of a call whose connection dropped (0.1 + 0.2 + 0.4 + 0.8 s)

#: (words in the database's message, what to do), the first that matches
HINTS = [
    (
        ("disk is full", "no space left", "could not extend", "disk full"),
        "free space on the disk that holds it, then run again: the next run settles "
        "what this one left",
    ),
    (
        ("readonly", "read-only"),
        "make its file (and the folder it is in) writable, then run again",
    ),
    (("unable to open",), "check that its folder exists and is writable"),
    (
        ("locked",),
        "another process held its write lock too long: run again; if it recurs, move "
        "the state store to PostgreSQL (SLUICE_STATE_URL)",
    ),
]
DROPPED_HINT = (
    "its database went away and did not come back: check that it runs and is reachable; "
    "sluice reconnects by itself"
)
OTHER_HINT = "check `state:` in sluice.yaml or SLUICE_STATE_URL, and the database's log"


def error_of(url: str, exc: BaseException, *, dropped: bool = False) -> StateStoreError:
    """``exc`` of the state store at ``url`` as the error a user reads."""
    orig = getattr(exc, "orig", None) or exc
    reason = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    low = reason.lower()
    hint = next((h for words, h in HINTS if any(w in low for w in words)), None)
    return StateStoreError(
        f"the state store ({redact(url)}) failed: {reason}",
        reason=reason,
        dropped=dropped,
        hint=hint or (DROPPED_HINT if dropped else OTHER_HINT),
    )


def translate_errors(engine: sa.Engine, url: str) -> None:
    """Raise every database error of ``engine`` as a :class:`StateStoreError`."""

    @sa.event.listens_for(engine, "handle_error")
    def _translate(ctx: sa.engine.ExceptionContext) -> None:
        if ctx.is_pre_ping or isinstance(ctx.sqlalchemy_exception, sa.exc.IntegrityError):
            return  # the pool replaces the connection itself; a key race is the caller's
        if not isinstance(ctx.original_exception, Exception):
            return  # KeyboardInterrupt and the like go as they are
        # A statement failed on a lost connection: its transaction is gone, retrying is
        # safe. (No statement: a commit or rollback failed; a commit may have happened.)
        dropped = ctx.is_disconnect and ctx.statement is not None
        raise error_of(url, ctx.original_exception, dropped=dropped) from None


_depth = threading.local()


def retrying(fn: Callable[..., T]) -> Callable[..., T]:
    """``fn``, made again (a few times, backing off) while its connection drops. Only
    the outermost such call retries: a store method calling another counts once."""

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> T:
        if getattr(_depth, "n", 0):
            return fn(*args, **kwargs)
        _depth.n = 1
        try:
            for attempt in range(RETRIES + 1):
                try:
                    return fn(*args, **kwargs)
                except StateStoreError as exc:
                    if not exc.dropped or attempt == RETRIES:
                        raise
                time.sleep(0.1 * 2**attempt)
            raise AssertionError("unreachable")
        finally:
            _depth.n = 0

    return call


def retry_dropped(cls: type[T]) -> type[T]:
    """Class decorator: each public method of ``cls`` (each one short transaction, or a
    few) is made again when its connection dropped before a commit."""
    for name, member in list(vars(cls).items()):
        if name.startswith("_") or not inspect.isfunction(member):
            continue
        if inspect.isgeneratorfunction(inspect.unwrap(member)):
            continue  # session(): the caller's block cannot be made again from here
        setattr(cls, name, retrying(member))
    return cls
