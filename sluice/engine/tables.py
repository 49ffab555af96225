"""How a pipeline's layout meets its destination: the tables, their modes, their DDL.

A plain pipeline loads one table with the pipeline's mode. A normalized one loads
several in one unit (see :mod:`sluice.transforms.normalize`): lookups are upserted
under every mode but ``replace`` (they are shared by the records of every load), and
under ``merge`` a child table's rows are replaced for the records in the load.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sluice.destinations import Destination, Target
from sluice.destinations.base import Mode
from sluice.errors import TableMismatch
from sluice.transforms.normalize import Layout, Splitter

if TYPE_CHECKING:
    from sluice.engine.context import RunContext


def targets(layout: Layout, mode: Mode) -> list[Target]:
    """The tables of one load, referenced tables first, each with how it is written."""
    out = []
    for p in layout.parts:
        if p.kind == "lookup":
            out.append(Target(p.spec, "replace" if mode == "replace" else "merge"))
        elif p.kind == "root" or mode != "merge":
            out.append(Target(p.spec, mode))
        else:
            out.append(Target(p.spec, mode, tuple(layout.keys), layout.root_name))
    return out


def prepare(dest: Destination, layout: Layout, mode: Mode) -> list[str]:
    """Create or evolve every table of the layout; the root's added columns."""
    warehouse = dest.warehouse()
    if warehouse is None:  # an API: it holds no tables to make
        return []
    added: list[str] = []
    for t in targets(layout, mode):
        new = warehouse.prepare(t.table, t.mode)
        if t.table.name == layout.root_name:
            added = new
    return added


class RunTables:
    """A run's tables: the pipeline's layout with the columns ``drift: evolve`` added,
    made in the warehouse and recorded in the state store's schema history."""

    def __init__(self, ctx: RunContext, dest: Callable[[], Destination]) -> None:
        self.ctx, self._dest = ctx, dest
        self.extra: list[str] = []  # columns added by `evolve`
        self.layout = Layout(ctx.pipe)
        #: one per load: lookup rows are sent once per load
        self.splitter: Splitter | None = None

    def make(self, mode: Mode) -> list[str]:
        """Create or evolve the tables under ``mode``; the root's added columns."""
        ctx = self.ctx
        self.layout = Layout(ctx.pipe, self.extra)
        try:
            added = prepare(self._dest(), self.layout, mode)
        except TableMismatch as exc:
            exc.name_pipeline(ctx.name)
            raise
        for part in self.layout.parts:
            columns = {c.name: c.type for c in part.spec.columns}
            ctx.store.record_schema(ctx.name, part.spec.name, columns, ctx.run_id)
        return added

    def evolve(self, columns: list[str]) -> None:
        """Add the columns of ``columns`` the table lacks (``drift: evolve``)."""
        new = [c for c in columns if c not in self.extra and c not in self.ctx.pipe.table.columns]
        if not new:
            return
        self.extra += new
        self.make(self.ctx.mode)
        if self.splitter is not None:
            # The load's splitter, shared by its units' processors, splits by the evolved
            # layout from now on; what it sent of the lookups this load is kept.
            self.splitter.layout = self.layout
        self.ctx.log("warning", "schema evolved: added " + ", ".join(new))

    def begin_load(self) -> None:
        """Start a new load: lookup rows are sent once per load."""
        self.splitter = self.layout.splitter() if self.layout.split_up else None
