"""The rules a pipeline applies that change a value, stated for its run report.

Reading ``24`` as 2024 or a naive ``10:00`` as UTC is a decision, not a fact of the
file: DESIGN's rule is that every such default is said in the docs and in the report,
so someone reading the numbers later knows what was assumed.
"""

from __future__ import annotations

from sluice.config import CastStep, PipelineConfig, UtcStep
from sluice.dateformat import EPOCH_FORMATS
from sluice.transforms.cast import DEFAULT_FORMATS
from sluice.transforms.dates import DateRule, rules_of


def _formats(formats: list[str] | None, to: str) -> list[str]:
    return [f for f in (formats or DEFAULT_FORMATS[to]) if f not in EPOCH_FORMATS]


def _excel(name: str, formats: list[str] | None, to: str) -> list[str]:
    """The rule of Excel's day numbers, where a column reads them."""
    if "excel" not in (formats or []):
        return []
    said = f"{name}: Excel day numbers read in its 1900 date system (45292 is 2024-01-01)"
    return [said + (", times rounded to the millisecond" if to != "date" else "")]


def stated_rules(pipe: PipelineConfig) -> list[str]:
    """One sentence per column or step whose values a stated rule decides."""
    out: list[str] = []
    converted: set[str] = set()  # typed by a step: the column's own formats never apply
    for step in pipe.transforms:
        if isinstance(step, CastStep) and step.cast.to in ("date", "datetime"):
            a = step.cast
            converted.add(a.column)
            out += _excel(f"cast {a.column}", a.formats, a.to)
            fmts = _formats(a.formats, a.to)
            if fmts:
                rule = DateRule.of(fmts, a.century_pivot, a.century_from, a.timezone)
                out += rules_of(f"cast {a.column}", rule, a.to)
        if isinstance(step, UtcStep):
            u = step.utc
            converted.add(u.column)
            fmts = _formats(u.formats, "datetime")
            rule = DateRule.of(fmts, u.century_pivot, u.century_from, "UTC")
            # The offset column gives the zone and the time is kept: only the century
            # can be a stated rule.
            out += rules_of(f"utc {u.column}", rule, "utc")
    for name, col in pipe.table.columns.items():
        if col.type not in ("date", "datetime") or name in converted:
            continue
        out += _excel(name, col.formats, col.type)
        fmts = _formats(col.formats, col.type)
        if fmts:
            rule = DateRule.of(fmts, col.century_pivot, col.century_from, col.timezone)
            out += rules_of(name, rule, col.type)
    return out


__all__ = ["stated_rules"]
