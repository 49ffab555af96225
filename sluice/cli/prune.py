"""``sluice prune``: remove old runs, their logs and closed quarantine entries."""

from __future__ import annotations

from typing import Annotated

import typer

from sluice.cli.errors import handle_errors
from sluice.cli.options import ProjectOpt
from sluice.cli.runs import JsonOpt, dump
from sluice.cli.terminal import console
from sluice.durations import parse_duration
from sluice.errors import UsageError


@handle_errors
def prune(
    older_than: Annotated[
        str, typer.Option("--older-than", help="what ended longer ago than this: 30d, 12h, 2w")
    ],
    project: ProjectOpt = ".",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="count what would go, remove nothing")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Remove runs that ended before a cutoff, with their logs, and closed quarantine
    entries (replayed, discarded, superseded) with their dead-letter copies.

    Never a run still going, an open quarantine entry, the file ledger or the delivery
    ledger: nothing that keeps a file from loading twice. `sluice serve` does this daily
    with `retention: 30d` in sluice.yaml.

        sluice prune --older-than 30d -p examples/leads
    """
    # Imported here, as in every command: the CLI starts without the engine.
    from sluice.config import load_project
    from sluice.engine.retention import prune as prune_store
    from sluice.state.store import StateStore

    try:
        span = parse_duration(older_than)
    except ValueError as exc:
        raise UsageError(f"--older-than: {exc}", hint="e.g. --older-than 30d") from None
    proj = load_project(project)
    store = StateStore(proj.state_url())
    try:
        pruned = prune_store(proj, store, span, dry_run=dry_run)
    finally:
        store.close()
    if as_json:
        dump({**pruned.as_dict(), "dry_run": dry_run})
        return
    verb = "would remove" if dry_run else "removed"
    console().print(
        f"{verb} {pruned.runs:,} runs ended over {older_than} ago ({pruned.events:,} log "
        f"events), {pruned.entries:,} closed quarantine entries and "
        f"{len(pruned.copies):,} dead-letter copies"
    )
