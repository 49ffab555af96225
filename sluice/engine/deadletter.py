"""Setting a whole file aside: a quarantine entry with its reason and a copy of its bytes.

The copy (under ``.sluice/deadletter/<load id>/``) is what ``sluice quarantine replay``
reads, so a file can be replayed even after its drop folder was cleaned up. An API's
pull is kept whole as ``pull.jsonl``: its records with the pipeline's PII policies
applied, as in any quarantine payload (the fields hidden are listed in the entry, so
a replay does not hide them twice), and it is replayed from there, never pulled again.

An entry a later load made obsolete is closed as ``superseded`` with that run's id:
the same content loaded again, or a newer pull of the same API.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import polars as pl

from sluice.config import HttpSourceConfig, Project
from sluice.engine.report import RunReport
from sluice.errors import DriftError, SluiceError, SourceError
from sluice.sources import Unit
from sluice.sources.http.records import text
from sluice.state.quarantine import NewEntry
from sluice.state.store import StateStore
from sluice.status import EntryKind, FileStatus, QuarantineStatus
from sluice.transforms import plan_mapping
from sluice.transforms.pii import RESTRICTED, WITHHELD, PiiPlan

DEADLETTER = Path(".sluice") / "deadletter"


class DeadLetter:
    def __init__(
        self, store: StateStore, project: Project, run_id: str, pipeline: str, report: RunReport
    ) -> None:
        self.store, self.project, self.root, self.run_id = store, project, project.root, run_id
        self.pipeline, self.report = pipeline, report
        #: file id -> the entry being replayed: set aside again, it updates that entry
        self.requarantine: dict[int, int] = {}
        #: file id -> fields of a kept pull whose PII policies were applied when it was kept
        self.concealed: dict[int | None, frozenset[str]] = {}

    def set_aside(self, stream: str, unit: Unit, file_id: int, exc: SluiceError) -> None:
        """Record the file in quarantine, the ledger, the run report and the log."""
        kept: dict[str, Any] = {}
        records = unit.record_copy()  # an API's pull: kept as its records, PII hidden
        if records is not None:
            copy = self.root / DEADLETTER / str(file_id) / "pull.jsonl"
        else:
            copy = self.root / DEADLETTER / str(file_id) / _copy_name(unit.name)
        try:
            if copy.exists():  # a replayed unit is read from this very copy
                kept = self._kept_before(file_id)
            elif records is not None:
                hider = _Hider(self.project, self.pipeline, stream)
                whole = records.keep_records(copy, hider.records, hider.raw)
                kept = {"kept": "pull" if whole else "partial", "concealed": sorted(hider.hidden)}
            else:
                unit.copy_to(copy)
        except (OSError, SourceError):
            copy = Path("")
        payload: dict[str, Any] = {
            "copy": str(copy) if copy.name else None,
            **kept,
            **exc.as_dict(),
        }
        if isinstance(exc, DriftError):
            payload["diff"] = {"missing": exc.missing, "unexpected": exc.unexpected}
        if file_id in self.requarantine:
            self.store.update_quarantine(
                self.requarantine[file_id],
                reasons=[exc.message],
                payload=payload,
                status=QuarantineStatus.OPEN,
            )
        else:
            entry = NewEntry(
                self.run_id,
                self.pipeline,
                stream,
                EntryKind.FILE,
                unit.name,
                exc.where.line,
                [exc.message],
                payload,
                file_id,
            )
            self.store.quarantine([entry])
        self.store.update_file(file_id, status=FileStatus.QUARANTINED)
        self.report.stream(stream).quarantined_files.append(
            {"file": unit.name, "reason": exc.message, "hint": exc.hint, "load_id": file_id}
        )
        self.store.log(
            self.run_id, "warning", f"{unit.name}: quarantined: {exc.message}", stream=stream
        )

    def _kept_before(self, file_id: int) -> dict[str, Any]:
        """What the entry being replayed says of its kept pull."""
        entry = self.requarantine.get(file_id)
        found = self.store.quarantined(status=None, ids=[entry]) if entry is not None else []
        before = (found[0].payload or {}) if found else {}
        return {k: before[k] for k in ("kept", "concealed") if k in before}

    def supersede(self, stream: str, unit: str, file_id: int, *, whole: bool) -> None:
        """Close the entries a committed unit made obsolete: set-aside copies and rows of
        the same content (a file loaded again), or of an API's earlier pulls (a newer
        pull reads them again; its rows too, unless the pull is incremental). ``whole``:
        the unit is a whole pull, not some pages of one (a part of a Celery run)."""
        source = self.project.pipeline(self.pipeline).sources[stream]
        if isinstance(source, HttpSourceConfig):
            n = self.store.supersede_quarantine(
                self.pipeline,
                stream,
                file_id,
                self.run_id,
                same_content=False,
                unit=None if whole else unit,
                rows=source.incremental is None,
            )
        else:
            n = self.store.supersede_quarantine(
                self.pipeline, stream, file_id, self.run_id, same_content=True
            )
        if n:
            self.store.log(
                self.run_id,
                "info",
                f"{unit}: {n} quarantine entr{'y' if n == 1 else 'ies'} superseded by this "
                f"load (`sluice quarantine list --status superseded` lists them)",
                stream=stream,
            )


def _copy_name(unit: str) -> str:
    """The copy's file name: a zip member's own, a download's without its query."""
    name = unit.split("!")[-1]
    if "://" in name:
        name = urlsplit(name).path
    return Path(name).name or "unit"


class _Hider:
    """The PII policies of a pull's fields, applied to records kept in the dead letter
    as :class:`~sluice.engine.process.UnitProcessor` applies them to a row it quarantines:
    ``drop``, ``hash`` and ``mask`` hide the value, ``restricted`` shows a placeholder."""

    def __init__(self, project: Project, pipeline: str, stream: str) -> None:
        self.pipe = project.pipeline(pipeline)
        self.source = self.pipe.sources[stream]
        self.salt, self.synonyms = project.pii_salt, project.synonyms
        #: fields whose values were hidden
        self.hidden: set[str] = set()
        self.any_pii = any(c.pii is not None for c in self.pipe.table.columns.values())

    def records(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        fields = list(dict.fromkeys(k for r in records for k in r))
        plan = plan_mapping(fields, self.pipe, self.source, self.synonyms)
        pii = PiiPlan.build(self.pipe, plan.rename, self.salt)
        present = [h for h in pii.fields if h in fields]
        if not present:
            return records
        values = pl.DataFrame(
            {h: [text(r.get(h)) for r in records] for h in present},
            schema=dict.fromkeys(present, pl.String),
        )
        applied = pii.apply(values)
        hidden = {h: applied.get_column(h).to_list() for h in present}
        out = []
        for i, r in enumerate(records):
            r = dict(r)
            for h in present:
                if r.get(h) is not None:  # an absent field stays absent (vanished is drift)
                    r[h] = RESTRICTED if pii.fields[h][0] == "restricted" else hidden[h][i]
            out.append(r)
        self.hidden.update(present)
        return out

    def raw(self, payload: Any) -> Any:
        """A payload that is not a record: withheld when the pipeline hides PII."""
        return WITHHELD if self.any_pii else payload
