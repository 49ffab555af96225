"""Setting a whole file aside: a quarantine entry with its reason and a copy of its bytes.

The copy (under ``.sluice/deadletter/<load id>/``) is what ``sluice quarantine replay``
reads, so a file can be replayed even after its drop folder was cleaned up.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sluice.engine.report import RunReport
from sluice.errors import DriftError, SluiceError, SourceError
from sluice.sources import Unit
from sluice.state.store import StateStore

DEADLETTER = Path(".sluice") / "deadletter"


class DeadLetter:
    def __init__(
        self, store: StateStore, root: Path, run_id: str, pipeline: str, report: RunReport
    ) -> None:
        self.store, self.root, self.run_id = store, root, run_id
        self.pipeline, self.report = pipeline, report
        #: file id -> the entry being replayed: set aside again, it updates that entry
        self.requarantine: dict[int, int] = {}

    def set_aside(self, stream: str, unit: Unit, file_id: int, exc: SluiceError) -> None:
        """Record the file in quarantine, the ledger, the run report and the log."""
        copy = self.root / DEADLETTER / str(file_id) / _copy_name(unit.name)
        try:
            if not copy.exists():  # a replayed file is read from this very copy
                unit.copy_to(copy)
        except (OSError, SourceError):
            copy = Path("")
        payload: dict[str, Any] = {"copy": str(copy) if copy.name else None, **exc.as_dict()}
        if isinstance(exc, DriftError):
            payload["diff"] = {"missing": exc.missing, "unexpected": exc.unexpected}
        if file_id in self.requarantine:
            self.store.update_quarantine(
                self.requarantine[file_id], reasons=[exc.message], payload=payload, status="open"
            )
        else:
            entry = {
                "run_id": self.run_id,
                "pipeline": self.pipeline,
                "source": stream,
                "kind": "file",
                "unit": unit.name,
                "line": exc.where.line,
                "reasons": [exc.message],
                "payload": payload,
                "file_id": file_id,
                "status": "open",
            }
            self.store.quarantine([entry])
        self.store.update_file(file_id, status="quarantined")
        self.report.stream(stream).quarantined_files.append(
            {"file": unit.name, "reason": exc.message, "hint": exc.hint, "load_id": file_id}
        )
        self.store.log(self.run_id, "warning", f"{unit.name}: quarantined: {exc.message}")


def _copy_name(unit: str) -> str:
    """The copy's file name: a zip member's own, a download's without its query."""
    name = unit.split("!")[-1]
    if "://" in name:
        name = urlsplit(name).path
    return Path(name).name or "unit"
