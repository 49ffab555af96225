"""How a pipeline's layout meets its destination: the tables, their modes, their DDL.

A plain pipeline loads one table with the pipeline's mode. A normalized one loads
several in one unit (see :mod:`sluice.transforms.normalize`): lookups are upserted
under every mode but ``replace`` (they are shared by the records of every load), and
under ``merge`` a child table's rows are replaced for the records in the load.
"""

from __future__ import annotations

from sluice.destinations import Destination, Target
from sluice.destinations.base import Mode
from sluice.transforms.normalize import Layout


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
    added: list[str] = []
    for t in targets(layout, mode):
        new = dest.prepare(t.table, t.mode)
        if t.table.name == layout.root_name:
            added = new
    return added
