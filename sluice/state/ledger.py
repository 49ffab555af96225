"""The file ledger: what was loaded, by content hash, so nothing is loaded twice; and the
cursors of incremental sources, saved with the load that reached them.

A unit's ledger entry is ``loading`` while its load goes; its counts are staged before
the warehouse commits (:meth:`FileLedger.stage_unit`), so a run that dies past the
commit is settled from them; :meth:`FileLedger.commit_unit` then records it ``loaded``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypedDict

import sqlalchemy as sa
from sqlalchemy.orm import Session

from sluice.state.core import StoreCore
from sluice.state.faults import retry_dropped
from sluice.state.models import Cursor, FileRecord, QuarantineEntry, utcnow
from sluice.status import EntryKind, FileStatus, QuarantineStatus


class UnitEntry(TypedDict):
    """What a unit's ledger entry says of it: where it comes from, its content, and the
    run and load that write it."""

    pipeline: str
    source: str
    name: str
    fingerprint: str
    size: int
    run_id: str
    load_key: str


@retry_dropped
class FileLedger(StoreCore):
    """Ledger entries (:class:`FileRecord`) and cursors."""

    def find_or_add_file(self, entry: UnitEntry) -> tuple[FileRecord | None, FileRecord | None]:
        """(the latest entry with the unit's fingerprint, None); or, when there is none (a
        new file: nearly always), (None, a new ``loading`` entry for it), in one
        transaction where a run's planner took two for each file."""
        with self.session() as s:
            latest = _latest(entry["pipeline"], entry["source"], entry["fingerprint"])
            found = s.scalars(latest).first()
            if found is not None:
                return found, None
            return None, _added(s, FileRecord(status=FileStatus.LOADING, **entry))

    def add_file(self, entry: UnitEntry, status: FileStatus) -> FileRecord:
        """A new ledger entry for a unit (a file, a zip member or an API pull) that its
        run starts to load."""
        with self.session() as s:
            return _added(s, FileRecord(status=status, **entry))

    def update_file(
        self,
        file_id: int,
        *,
        status: FileStatus | None = None,
        run_id: str | None = None,
        load_key: str | None = None,
        counts: dict[str, Any] | None = None,
    ) -> None:
        """Change a ledger entry: each field given (not None) is set, the rest kept."""
        with self.session() as s:
            rec = s.get_one(FileRecord, file_id)
            if status is not None:
                rec.status = status
            if run_id is not None:
                rec.run_id = run_id
            if load_key is not None:
                rec.load_key = load_key
            if counts is not None:
                rec.counts = counts
            rec.updated_at = utcnow()

    def file(self, file_id: int) -> FileRecord | None:
        with self.session() as s:
            return s.get(FileRecord, file_id)

    def files_of(self, run_id: str) -> Sequence[FileRecord]:
        """The ledger entries a run holds (loading, loaded, quarantined, failed)."""
        with self.session() as s:
            q = sa.select(FileRecord).where(FileRecord.run_id == run_id).order_by(FileRecord.id)
            return s.scalars(q).all()

    def stage_unit(self, file_id: int, load_key: str, counts: dict[str, Any]) -> None:
        """A unit about to commit: its counts (and cursor) and the key its load marker will
        have, so that a run that dies past the commit can be settled from them."""
        self.update_file(file_id, load_key=load_key, counts=counts)

    def commit_unit(self, file_id: int, counts: dict[str, Any]) -> None:
        """A unit's load committed in the warehouse: in one transaction, its ledger entry
        is ``loaded`` with its counts, its quarantined rows are open (they were pending)
        and its pull's cursor (``counts["cursor"]``) is saved."""
        with self.session() as s:
            rec = s.get_one(FileRecord, file_id)
            rec.status, rec.rows, rec.counts = (
                FileStatus.LOADED,
                int(counts.get("loaded", 0)),
                counts,
            )
            rec.updated_at = utcnow()
            s.execute(
                sa.update(QuarantineEntry)
                .where(
                    QuarantineEntry.file_id == file_id,
                    QuarantineEntry.kind == EntryKind.ROW,
                    QuarantineEntry.status == QuarantineStatus.PENDING,
                )
                .values(status=QuarantineStatus.OPEN)
            )
            cursor = counts.get("cursor")
            if cursor is not None:
                row = s.get(Cursor, (rec.pipeline, rec.source))
                if row is None:
                    s.add(
                        Cursor(
                            pipeline=rec.pipeline,
                            source=rec.source,
                            value=cursor,
                            run_id=rec.run_id,
                        )
                    )
                else:
                    row.value, row.run_id, row.updated_at = cursor, rec.run_id, utcnow()

    def cursor(self, pipeline: str, source: str) -> str | None:
        """The saved cursor of an incremental source, or None before its first load."""
        with self.session() as s:
            row = s.get(Cursor, (pipeline, source))
            return row.value if row is not None else None

    def save_cursor(self, pipeline: str, source: str, value: str, run_id: str) -> None:
        with self.session() as s:
            row = s.get(Cursor, (pipeline, source))
            if row is None:
                s.add(Cursor(pipeline=pipeline, source=source, value=value, run_id=run_id))
            else:
                row.value, row.run_id, row.updated_at = value, run_id, utcnow()


def _latest(pipeline: str, source: str, fingerprint: str) -> sa.Select[FileRecord]:
    """The ledger entries of a unit's content, the latest first."""
    return (
        sa.select(FileRecord)
        .where(
            FileRecord.pipeline == pipeline,
            FileRecord.source == source,
            FileRecord.fingerprint == fingerprint,
        )
        .order_by(FileRecord.id.desc())
    )


def _added(s: Session, entry: FileRecord) -> FileRecord:
    s.add(entry)
    s.flush()  # its id
    return entry
