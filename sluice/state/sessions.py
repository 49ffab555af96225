"""The deny-list of signed-out sessions of ``sluice serve``, kept in the state store.

A session cookie is signed, not stored: signing out deletes it from the browser, but a
copy stays valid until it expires (12 hours). Signing out therefore writes the
session's id here until that expiry, and every request made with a session cookie
looks it up, on whichever server (or ``uvicorn`` worker) it lands: they share the
state store, not their memory. Expired rows are deleted as new ones are written.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from sluice.state.faults import retry_dropped
from sluice.state.models import RevokedSession, utcnow
from sluice.state.store import StateStore


@retry_dropped
class RevokedSessions:
    def __init__(self, store: StateStore) -> None:
        self.store = store
        self.table = sa.Table(RevokedSession.__tablename__, RevokedSession.metadata)

    def revoke(self, sid: str, expires_at: datetime) -> None:
        """Refuse session ``sid`` from now until ``expires_at`` (again: no change)."""
        t = self.table
        with self.store.engine.begin() as conn:
            conn.execute(t.delete().where(t.c.expires_at < utcnow()))
            if conn.execute(sa.select(t.c.sid).where(t.c.sid == sid)).first() is None:
                try:
                    with conn.begin_nested():
                        conn.execute(t.insert().values(sid=sid, expires_at=expires_at))
                except sa.exc.IntegrityError:
                    pass  # signed out twice at once: the other did it

    def revoked(self, sid: str) -> bool:
        t = self.table
        with self.store.engine.connect() as conn:
            until = conn.execute(sa.select(t.c.expires_at).where(t.c.sid == sid)).scalar()
        if until is None:
            return False
        if until.tzinfo is None:  # SQLite keeps no zone
            until = until.replace(tzinfo=UTC)
        return bool(until > utcnow())
