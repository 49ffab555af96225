"""A pipeline run: plan its loads against the ledger, then load each atomically.

Per unit (a file, a zip member, an API pull): hash it, check the file ledger, map its
header (drift -> the source's policy), stream its rows through the steps and
validation into the destination in one transaction, then record the outcome. Under
``replace`` all units of the run form one load, so the table is swapped once.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from sluice.config import Project
from sluice.engine.context import Progress, RunContext, start
from sluice.engine.kit import RunKit
from sluice.engine.lifecycle import execute
from sluice.engine.plan import file_gone, streams
from sluice.engine.report import RunReport
from sluice.sources import Unit


def run(
    ctx: RunContext,
    *,
    source: str | None = None,
    file: str | None = None,
    files: Sequence[str] | None = None,
    full_refresh: bool = False,
) -> RunReport:
    """Carry out the run of ``ctx`` (a part of a Celery run: the part ``ctx`` names):
    every stream, or ``source``; ``file``: only that file of it (``files``: only those,
    in that order: a part that packs several); ``full_refresh``: load units the ledger
    has seen. The run's report."""
    chosen = streams(ctx, source, file if files is None else files[0])

    def work(kit: RunKit) -> None:
        units = []
        targets: Sequence[str | None] = [file] if files is None else files
        for f in targets:
            # A part's files were listed by the run's plan, maybe a while ago.
            if ctx.part is not None and f is not None and not os.path.lexists(f):
                file_gone(ctx, chosen[0] if len(chosen) == 1 else None, f)
                continue
            units += kit.planner.units(chosen, f)
        sizes = _Sizes(ctx, units)
        # Each unit is planned (hashed) as its turn comes, not all before the first loads.
        for load in kit.planner.loads(units, full_refresh, skipped=sizes.skipped):
            ctx.check_cancelled()
            kit.loader.load(load)

    return execute(ctx, work)


class _Sizes:
    """A display that shows bytes (``planned(stream, size)``, see
    :data:`~sluice.engine.context.Progress`) learns each stream's bytes to load, so its
    percent and ETA are the stream's, not its file's: every listed unit's at first, less
    each unit the ledger then skips. Unknown (0) while a unit's size is."""

    def __init__(self, ctx: RunContext, units: list[tuple[str, Unit]]) -> None:
        self.planned = getattr(ctx.progress, "planned", None)
        self.sizes: dict[str, list[int]] = {}
        for stream, unit in units:
            self.sizes.setdefault(stream, []).append(unit.size or 0)
        for stream in self.sizes:
            self._tell(stream)

    def skipped(self, stream: str, unit: Unit) -> None:
        self.sizes[stream].remove(unit.size or 0)
        self._tell(stream)

    def _tell(self, stream: str) -> None:
        if self.planned is not None:
            known = self.sizes[stream]
            self.planned(stream, sum(known) if all(known) else 0)


def run_pipeline(
    project: Project,
    pipeline: str,
    *,
    source: str | None = None,
    file: str | None = None,
    full_refresh: bool = False,
    progress: Progress | None = None,
) -> RunReport:
    """Run one pipeline of a project; the report says what happened to every row."""
    ctx = start(project, pipeline, progress=progress)
    return run(ctx, source=source, file=file, full_refresh=full_refresh)
