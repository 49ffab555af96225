"""Pruning the state store: what is old and over goes, what still matters stays.

Goes, when older than the cutoff: runs that ended (with their stages, log events, parts
and delivery keys) and closed quarantine entries (replayed, discarded, superseded) whose
closing run goes too. Stays, whatever its age: live runs, open (and pending, replaying)
quarantine entries, the file ledger, the delivery ledger, cursors, schedules and schema
versions: what keeps a file from loading twice or a record from being sent twice.

The dead-letter copies of the entries that go are returned (those no remaining entry
refers to), for the caller to delete: files are not the state store's.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sluice.state.faults import retry_dropped
from sluice.state.models import (
    Event,
    PipelineLock,
    QuarantineEntry,
    Run,
    RunKey,
    RunPart,
    Stage,
)
from sluice.state.store import StateStore
from sluice.status import LIVE, QUARANTINE_CLOSED

CHUNK = 500  # ids per DELETE: bounded statements and transactions on a big store


@dataclass
class Pruned:
    """What a prune removed (or, on a dry run, would remove)."""

    runs: int = 0
    events: int = 0
    entries: int = 0
    #: dead-letter copies of the removed entries that no remaining entry refers to
    copies: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "events": self.events,
            "entries": self.entries,
            "copies": len(self.copies),
        }


@retry_dropped
class Pruner:
    def __init__(self, store: StateStore) -> None:
        self.store = store

    def prune(self, before: datetime, *, dry_run: bool = False) -> Pruned:
        """Remove what ended before ``before``; ``dry_run``: only count it."""
        runs = self._old_runs(before)
        entries, copies = self._old_entries(before, runs)
        out = Pruned(runs=len(runs), entries=len(entries), copies=copies)
        with self.store.engine.connect() as conn:
            for chunk in _chunks(runs):
                found = conn.execute(
                    sa.select(sa.func.count()).select_from(Event).where(Event.run_id.in_(chunk))
                )
                out.events += int(found.scalar() or 0)
        if dry_run:
            return out
        for chunk in _chunks(entries):
            with self.store.engine.begin() as conn:
                conn.execute(sa.delete(QuarantineEntry).where(QuarantineEntry.id.in_(chunk)))
        for chunk in _chunks(runs):
            with self.store.engine.begin() as conn:  # a run's rows, then the run: one go
                for child in (Event, Stage, RunPart, RunKey, PipelineLock):
                    conn.execute(sa.delete(child).where(child.run_id.in_(chunk)))
                conn.execute(sa.delete(Run).where(Run.id.in_(chunk), Run.status.notin_(LIVE)))
        return out

    def _old_runs(self, before: datetime) -> list[str]:
        ended = sa.func.coalesce(Run.finished_at, Run.started_at)
        q = sa.select(Run.id).where(Run.status.notin_(LIVE), ended < before)
        with self.store.engine.connect() as conn:
            return list(conn.execute(q).scalars())

    def _old_entries(self, before: datetime, runs: Sequence[str]) -> tuple[list[int], list[str]]:
        """Closed entries made before ``before`` whose closing run is not kept, and the
        copies only they refer to."""
        q = QuarantineEntry
        gone = set(runs)
        with self.store.engine.connect() as conn:
            kept = set(
                conn.execute(sa.select(Run.id).where(Run.id.notin_(gone) if gone else sa.true()))
                .scalars()
                .all()
            )
            rows = conn.execute(
                sa.select(q.id, q.kind, q.payload, q.replay_run_id, q.superseded_by).where(
                    q.status.in_(QUARANTINE_CLOSED), q.created_at < before
                )
            ).all()
            old = [r for r in rows if r.replay_run_id not in kept and r.superseded_by not in kept]
            ids = {r.id for r in old}
            copies = {c for r in old if (c := _copy(r.kind, r.payload))}
            if copies:  # a copy another entry still refers to stays
                others = conn.execute(
                    sa.select(q.id, q.kind, q.payload).where(q.kind == "file")
                ).all()
                copies -= {c for r in others if r.id not in ids and (c := _copy(r.kind, r.payload))}
        return sorted(ids), sorted(copies)


def _copy(kind: str, payload: dict[str, Any] | None) -> str | None:
    """The dead-letter copy of a file entry (a row entry's payload is its values)."""
    if kind != "file" or not payload:
        return None
    copy = payload.get("copy")
    return copy if isinstance(copy, str) and copy else None


def _chunks(items: Sequence[Any]) -> Iterator[list[Any]]:
    for i in range(0, len(items), CHUNK):
        yield list(items[i : i + CHUNK])
