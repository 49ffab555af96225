"""Retention: ``sluice prune --older-than 30d``, and ``sluice serve`` doing it daily
(``retention: 30d`` in sluice.yaml; the daily thread is
:class:`sluice.service.runtime.retention.Retention`).

Ended runs with their logs, and closed quarantine entries with their dead-letter copies,
go once older than the cutoff (:mod:`sluice.state.prune` says exactly what stays:
never a live run, an open entry or a ledger).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sluice.config import Project
from sluice.engine.deadletter import DEADLETTER
from sluice.state.models import utcnow
from sluice.state.prune import Pruned, Pruner
from sluice.state.store import StateStore


def prune(
    project: Project, store: StateStore, older_than: timedelta, *, dry_run: bool = False
) -> Pruned:
    """Remove what ended more than ``older_than`` ago; ``dry_run``: only count it."""
    pruned = Pruner(store).prune(utcnow() - older_than, dry_run=dry_run)
    if not dry_run:
        remove_copies(project, pruned.copies)
    return pruned


def remove_copies(project: Project, copies: list[str]) -> None:
    """Delete dead-letter copies (only under the project's dead-letter folder), and the
    folder of each when it is left empty."""
    home = (project.root / DEADLETTER).resolve()
    for copy in copies:
        path = Path(copy).resolve()
        if not path.is_relative_to(home) or path == home:
            continue  # not ours to delete
        path.unlink(missing_ok=True)
        folder = path.parent
        if folder != home and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
