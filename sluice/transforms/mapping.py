"""Column mapping: a file's headers onto the pipeline's table columns.

For each table column the first match wins: the source's own override
(``sources.X.columns``), then the column's name, its ``synonyms``, the pipeline's and the
project's shared synonyms, then the source's extra synonyms. Headers are compared
normalized (``"Licensed Since"`` == ``licensed_since``), so a new source with new header
names is configuration only. What does not match is the file's drift.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import polars as pl

from sluice.batch import LINE
from sluice.config import DeriveStep, MappedSource, PipelineConfig
from sluice.schema import ignored, normalize_header, sanitize_identifier


@dataclass
class MappingPlan:
    rename: dict[str, str]  # header -> table column
    missing: list[str]  # table columns the file lacks
    unexpected: list[str]  # headers that map to nothing and are not ignored
    absent: list[str] = field(default_factory=list)  # columns this source never has
    evolved: dict[str, str] = field(default_factory=dict)  # header -> new column (evolve)
    #: columns the file lacks that ``evolve`` loads as null (drift all the same: reported)
    unfilled: list[str] = field(default_factory=list)
    #: unexpected header -> the mapped header it is alike once normalized (`First Name`
    #: beside `first_name`): said in the drift, which would otherwise puzzle
    twins: dict[str, str] = field(default_factory=dict)
    #: unexpected header -> the header it repeats (a file with two `id` headers reads the
    #: second as `id_2`): said in the drift, or `id_2` would be a column out of nowhere
    repeats: dict[str, str] = field(default_factory=dict)

    @property
    def drifted(self) -> bool:
        return bool(self.missing or self.unexpected)

    def diff(self) -> dict[str, list[str]]:
        return {"missing": self.missing, "unexpected": self.unexpected}

    def describe(self) -> str:
        parts = []
        if self.missing:
            parts.append("expected but not found: " + _listed(self.missing))
        if self.unexpected:
            shown = [
                f"{h!r} (same as {self.twins[h]!r} ignoring case and punctuation, which "
                f"maps to {self.rename[self.twins[h]]})"
                if h in self.twins
                else f"{h!r} (the file's {self.repeats[h]!r} header again)"
                if h in self.repeats
                else repr(h)
                for h in self.unexpected
            ]
            parts.append("found but not mapped: " + _listed(shown))
        return "; ".join(parts)

    def evolve(self, taken: set[str]) -> MappingPlan:
        """The plan under the ``evolve`` policy: new headers become new nullable columns."""
        evolved: dict[str, str] = {}
        for header in self.unexpected:
            name = base = sanitize_identifier(header)
            n = 1
            while name in taken or name in evolved.values():
                n += 1
                name = f"{base}_{n}"
            evolved[header] = name
        return MappingPlan(
            rename={**self.rename, **evolved},
            missing=[],
            unexpected=[],
            absent=self.absent + self.missing,
            evolved=evolved,
            unfilled=list(self.missing),
        )


#: how many names a drift message lists before it counts the rest
LISTED = 30


def _listed(names: list[str]) -> str:
    """At most LISTED names, then how many more (the full lists stay in the diff)."""
    shown = ", ".join(names[:LISTED])
    more = len(names) - LISTED
    return f"{shown} ... and {more:,} more" if more > 0 else shown


def candidates(
    column: str,
    pipeline: PipelineConfig,
    source: MappedSource,
    shared: dict[str, list[str]],
) -> list[str]:
    names = [column, *pipeline.table.columns[column].synonyms]
    names += pipeline.synonyms.get(column, []) + shared.get(column, [])
    names += source.synonyms.get(column, [])
    return names


def plan_mapping(
    headers: list[str],
    pipeline: PipelineConfig,
    source: MappedSource,
    shared: dict[str, list[str]] | None = None,
) -> MappingPlan:
    by_norm: dict[str, list[str]] = {}
    for h in headers:
        by_norm.setdefault(normalize_header(h), []).append(h)
    used: set[str] = set()
    derived = {s.derive.column for s in pipeline.transforms if isinstance(s, DeriveStep)}
    rename: dict[str, str] = {}
    missing: list[str] = []
    absent: list[str] = []
    for column in pipeline.table.columns:
        if column in source.columns:
            override = source.columns[column]
            if override is None:
                absent.append(column)
                continue
            names = [override]
        else:
            names = candidates(column, pipeline, source, shared or {})
        for name in names:
            free = [h for h in by_norm.get(normalize_header(name), []) if h not in used]
            if free:
                # Two headers alike once normalized (`First Name`, `first_name`): the one
                # written as the name is the match; the other is drift, said as such.
                header = name if name in free else free[0]
                rename[header] = column
                used.add(header)
                break
        else:
            if column in derived:  # a derive step makes it: the source need not have it
                absent.append(column)
            else:
                missing.append(column)
    unexpected = [h for h in headers if h not in used and not ignored(h, source.ignore)]
    twins = {
        h: t for h in unexpected for t in by_norm[normalize_header(h)] if t in rename and t != h
    }
    present, repeats = set(headers), dict[str, str]()
    for h in unexpected:
        m = _REPEAT.match(h)
        # said of the first repeat of a name: a file with a header 20,000 times lists a
        # few of them, and the rest need no saying
        if m and m[1] in present and h not in twins and m[1] not in repeats.values():
            repeats[h] = m[1]
    return MappingPlan(rename, missing, unexpected, absent, twins=twins, repeats=repeats)


#: how a file's second header of a name is told apart (see ``unique_headers``)
_REPEAT = re.compile(r"^(.+)_([2-9]|[1-9][0-9]+)$")


def apply_mapping(data: pl.DataFrame, plan: MappingPlan, columns: list[str]) -> pl.DataFrame:
    """Select and rename to table columns (in table order); absent columns are null."""
    by_column = {column: header for header, column in plan.rename.items()}
    exprs = [
        pl.col(by_column[c]).alias(c) if c in by_column else pl.lit(None, pl.String).alias(c)
        for c in columns
    ]
    return data.select([*exprs, pl.col(LINE)])
