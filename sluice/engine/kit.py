"""The pieces one run works with, wired once per run: what a run body composes.

A run (:mod:`sluice.engine.run`) plans its loads and loads them; a replay
(:mod:`sluice.engine.replay`) loads set-aside units and rows through the same opener
and loader. Both get a :class:`RunKit` from :func:`sluice.engine.lifecycle.execute`.
The destination is opened on first use (a run cancelled while it waited never
connects) and closed when the run ends.
"""

from __future__ import annotations

from sluice.destinations import Destination
from sluice.engine.context import RunContext
from sluice.engine.deadletter import DeadLetter
from sluice.engine.destination import open_destination
from sluice.engine.load import Loader
from sluice.engine.newer import NewerKeys
from sluice.engine.opener import UnitOpener
from sluice.engine.plan import Planner
from sluice.engine.tables import RunTables
from sluice.httpclient.stats import HttpStatsRecord


class RunKit:
    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.opened: Destination | None = None
        self.tables = RunTables(ctx, self.destination)
        self.deadletter = DeadLetter(ctx.store, ctx.project, ctx.run_id, ctx.name, ctx.report)
        #: under merge: row entries of older units whose keys this run's loads write again
        self.newer = NewerKeys(ctx.project, ctx.name, ctx.store, ctx.run_id)
        self.planner = Planner(ctx, self.destination)
        self.opener = UnitOpener(ctx, self.destination, self.tables, self.deadletter)
        self.loader = Loader(
            ctx, self.destination, self.tables, self.opener, self.deadletter, self.newer
        )

    def destination(self) -> Destination:
        """The run's destination, opened on first use."""
        if self.opened is None:
            ctx = self.ctx
            if ctx.borrowed is not None:
                self.opened = ctx.borrowed()
            else:
                self.opened = open_destination(
                    ctx.project, ctx.pipe, ctx.name, ctx.store, ctx.run_id
                )
        return self.opened

    def delivery_stats(self) -> HttpStatsRecord | None:
        """An API destination's requests and retries (None: not one, or never opened)."""
        return self.opened.delivery_stats() if self.opened is not None else None

    def close(self) -> None:
        """Close the destination (if it was opened, and not borrowed)."""
        if self.opened is not None and self.ctx.borrowed is None:
            self.opened.close()
        self.opened = None
