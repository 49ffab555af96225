"""Words for schema drift: what a run report notes about drift it loaded (``evolve``),
and the hint that settles a drift set aside (``quarantine``) or stopped at (``fail``).

Every hint ends with the command that works under the source's policy: a unit set
aside comes back with ``sluice quarantine replay``; under ``fail`` nothing was set
aside, and the next ``sluice run`` reads the unit again.
"""

from __future__ import annotations

# typing's TypedDict is not one Pydantic reads before Python 3.12
from typing_extensions import TypedDict

from sluice.engine.report import DriftEntry
from sluice.transforms import MappingPlan


def then(policy: str, pipeline: str) -> str:
    """The command that loads a drifted unit once its config is fixed."""
    if policy == "fail":
        return f"`sluice run {pipeline}`"
    return "`sluice quarantine replay`"


def hint(stream: str, missing: list[str], unexpected: list[str], command: str) -> str:
    """What to do with a drift of a unit's header (its first page, for an API)."""
    fixes = []
    if unexpected:
        fixes.append(
            f"map the new headers (sources.{stream}.columns or synonyms), list them in "
            f"sources.{stream}.ignore"
        )
    if missing:
        fixes.append(
            f"map the missing columns (sources.{stream}.columns or synonyms; null for one "
            "this source never has)"
        )
    return ", ".join(fixes) + f", or set drift: evolve; then {command}"


class _Drifted(TypedDict, total=False):
    """The lists of a drift entry that has some (between its ``file`` and its ``note``)."""

    missing: list[str]
    added: list[str]
    vanished: list[str]


def note(unit: str, plan: MappingPlan, vanished: dict[str, str], what: str) -> DriftEntry | None:
    """The report's entry for a unit loaded with drift (None: it had none).

    ``vanished``: fields an API stopped sending after its first page, each with the
    page where no record had it any more; ``what``: "column" or "field".
    """
    if not (plan.unfilled or plan.evolved or vanished):
        return None
    notes = []
    found: _Drifted = {}
    if plan.unfilled:
        found["missing"] = list(plan.unfilled)
        notes.append(f"no {what} for {', '.join(plan.unfilled)}: loaded as null")
    if plan.evolved:
        found["added"] = list(plan.evolved.values())
        notes.append("new columns added: " + ", ".join(plan.evolved.values()))
    if vanished:
        found["vanished"] = list(vanished)
        at: dict[str, list[str]] = {}
        for name, where in vanished.items():
            at.setdefault(where, []).append(name)
        notes += [
            f"vanished after the first page, null from {where} on: {', '.join(names)}"
            for where, names in at.items()
        ]
    return {"file": unit, **found, "note": "; ".join(notes)}
