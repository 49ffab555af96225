"""Under ``merge``: row entries of older units whose keys a newer load wrote again.

A row set aside from an older file, and since then a row with the same keys loaded
from a newer one: replaying the old row would upsert it over the newer. So a merge
load watches the keys of its rows against the keys of the open row entries of older
units, and once it commits closes those it wrote again as ``superseded`` by its run
(``sluice quarantine list --status superseded``), like a file loaded again.

An entry's keys are read as a replay would read its row (the current mapping and
steps, then the key columns' types and rules); an entry whose key columns do not
validate, or whose headers no longer map, has no keys and stays open.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

import polars as pl

from sluice.batch import LINE
from sluice.engine.opener import decimal_mark, file_delimiter
from sluice.errors import SluiceError
from sluice.status import EntryKind, QuarantineStatus
from sluice.transforms import StepRunner, Validator, apply_mapping, plan_mapping
from sluice.transforms.pii import PiiPlan

if TYPE_CHECKING:
    from sluice.config import PipelineConfig, Project
    from sluice.state.models import QuarantineEntry
    from sluice.state.store import StateStore

ENTRY, UNIT = "_sluice_entry", "_sluice_unit"


class NewerKeys:
    """The open row entries a merge load of this run wrote again, per ledger entry."""

    def __init__(self, project: Project, pipeline: str, store: StateStore, run_id: str) -> None:
        self.project, self.name, self.store, self.run_id = project, pipeline, store, run_id
        self.pipe: PipelineConfig = project.pipeline(pipeline)
        self.keys = list(self.pipe.table.keys)
        self._known: pl.DataFrame | None = None
        self._hits: dict[int, set[int]] = defaultdict(set)

    def watch(self, rows: object, file_id: int) -> None:
        """Note the entries of units older than ``file_id`` whose keys ``rows`` holds."""
        if not isinstance(rows, pl.DataFrame) or not self.keys:
            return
        known = self._entries()
        if known.is_empty() or not set(self.keys) <= set(rows.columns):
            return
        older = known.filter(pl.col(UNIT) < file_id)
        if older.is_empty():
            return
        found = rows.select(self.keys).join(older, on=self.keys, how="inner", nulls_equal=False)
        self._hits[file_id].update(found.get_column(ENTRY).to_list())

    def supersede(self, file_id: int, run_id: str) -> int:
        """Close what the committed load of ``file_id`` wrote again; how many."""
        ids = sorted(self._hits.pop(file_id, ()))
        if not ids:
            return 0
        n = self.store.supersede_entries(ids, run_id)
        assert self._known is not None  # watched before: a closed entry is no candidate
        self._known = self._known.filter(~pl.col(ENTRY).is_in(ids))
        return n

    def add(self, file_id: int) -> None:
        """The rows a committed load of this run set aside are candidates too (a newer
        file of the same run may hold their keys)."""
        if self._known is not None and self.keys:
            more = self._read(file_id)
            if not more.is_empty():
                frames = [f for f in (self._known, more) if not f.is_empty()]
                self._known = pl.concat(frames, how="vertical_relaxed")

    def forget(self, file_id: int) -> None:
        """The load of ``file_id`` did not commit: it wrote nothing again."""
        self._hits.pop(file_id, None)

    def _entries(self) -> pl.DataFrame:
        if self._known is None:
            self._known = self._read()
        return self._known

    def _read(self, file_id: int | None = None) -> pl.DataFrame:
        """The typed keys of the open row entries (of ``file_id``'s load, or all)."""
        found = [
            e
            for e in self.store.quarantined(
                pipeline=self.name, status=QuarantineStatus.OPEN, file_id=file_id
            )
            if e.kind == EntryKind.ROW and e.file_id is not None and "_raw" not in (e.payload or {})
        ]
        by_source: dict[str, list[QuarantineEntry]] = defaultdict(list)
        for e in found:
            if e.source in self.pipe.sources:
                by_source[e.source].append(e)
        frames = [k for s, es in by_source.items() if (k := self._safe_keys(s, es)) is not None]
        if not frames:
            return pl.DataFrame()
        return pl.concat(frames, how="vertical_relaxed")

    def _safe_keys(self, source: str, entries: list[QuarantineEntry]) -> pl.DataFrame | None:
        # Reading old rows through today's config may fail (a step that no longer fits
        # them): those entries then stay open, as before; the load goes on regardless.
        try:
            return self._keys_of(source, entries)
        except (SluiceError, pl.exceptions.PolarsError) as exc:
            self.store.log(
                self.run_id,
                "warning",
                f"{source}: the keys of {len(entries)} quarantined row(s) could not be read "
                f"({exc}); a replay may put them over newer rows of the same keys",
            )
            return None

    def _keys_of(self, source: str, entries: list[QuarantineEntry]) -> pl.DataFrame | None:
        headers = list(dict.fromkeys(h for e in entries for h in (e.payload or {})))
        plan = plan_mapping(headers, self.pipe, self.pipe.sources[source], self.project.synonyms)
        if plan.drifted:
            return None
        data = pl.DataFrame(
            {h: [_text((e.payload or {}).get(h)) for e in entries] for h in headers},
            schema=dict.fromkeys(headers, pl.String),
        ).with_columns(pl.Series(LINE, range(len(entries)), dtype=pl.Int64))
        pii = PiiPlan.build(self.pipe, plan.rename, self.project.pii_salt)
        if pii is not None:
            data = pii.restore(data)  # a restricted value was never kept: no key
        columns = list(self.pipe.table.columns)
        table = self.pipe.table.model_copy(
            update={"columns": {k: self.pipe.table.columns[k] for k in self.keys}}
        )
        # Each entry's keys read as its file reads numbers (a CSV's csv.decimal), in
        # the steps as in the casts.
        cfg = self.pipe.sources[source]
        delimiters = {f: file_delimiter(self.store, f) for f in {e.file_id for e in entries}}
        marks = pl.Series(
            [decimal_mark(cfg, e.unit or "", delimiters[e.file_id]) for e in entries],
            dtype=pl.String,
        )
        typed: list[pl.DataFrame] = []
        for mark in marks.unique(maintain_order=True).to_list():
            steps = StepRunner(self.pipe, columns, mark=mark)
            rows = steps.drop_blank(data.filter(marks == mark), headers)
            rows = steps.run(apply_mapping(rows, plan, columns))
            typed.append(Validator(table, mark=mark).run(rows.select(*self.keys, LINE))[0])
        good = pl.concat(typed)
        ids = pl.DataFrame(
            {
                LINE: range(len(entries)),
                ENTRY: [e.id for e in entries],
                UNIT: [e.file_id for e in entries],
            },
            schema={LINE: pl.Int64, ENTRY: pl.Int64, UNIT: pl.Int64},
        )
        return good.join(ids, on=LINE).drop(LINE)


def _text(value: object) -> str | None:
    return None if value is None else str(value)
