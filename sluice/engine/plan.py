"""Planning a run's loads: list each stream's units, check them against the ledger.

A unit the ledger has as loaded (or set aside) is skipped, with why; one an earlier
run left half-done is taken over (or, if its load committed, only counted); any other
gets its ledger entry (``loading``) and a load. Under ``replace`` every unit of the run
forms one load, so the table is swapped once. Under ``append`` consecutive files of a
stream form one load while their bytes fit :data:`GROUP_BYTES` (a larger file is a load
of its own): a drop of many small files was a transaction, a load marker and a
pipeline filled and drained per file, about 0.25 s a file of 50,000 rows against 0.19 s
per 50,000 rows of one large file. Each file keeps its own ledger entry, counts and
quarantined rows; a file that breaks mid-way is set aside and the rest of its load
tried again without it (:class:`~sluice.engine.load.Loader`). ``merge`` and
``snapshot`` keep a load per unit: a merge's keys repeated across files would meet in
one upsert, and a snapshot stamps each file's rows with its own load.
"""

from __future__ import annotations

import glob
import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from sluice.config import FileSourceConfig, HttpSourceConfig
from sluice.destinations import Destination, LoadMeta
from sluice.engine import tally
from sluice.engine.context import RunContext
from sluice.errors import ConfigError, FileGone, Where
from sluice.sources import SourceContext, Unit, create_source, hash_units_ahead
from sluice.state.ledger import UnitEntry
from sluice.state.models import FileRecord
from sluice.status import FileStatus

#: consecutive files of an ``append`` stream load in one transaction while their bytes
#: (as listed: a .gz's compressed size) fit this
GROUP_BYTES = 64 << 20


class PlannedUnit(NamedTuple):
    stream: str
    unit: Unit
    file_id: int  # its ledger entry


@dataclass
class PlannedLoad:
    """One atomic load the run will make: its units, its key in the warehouse (its load
    marker), its snapshot stamp."""

    units: list[PlannedUnit]
    load_key: str
    meta: LoadMeta | None = None


def streams(ctx: RunContext, source: str | None, file: str | None) -> list[str]:
    """The streams a run reads: ``source``, or every one of the pipeline."""
    if source is not None:
        if source not in ctx.pipe.sources:
            raise ConfigError(
                f"pipeline {ctx.name!r} has no source {source!r}",
                hint="sources: " + ", ".join(ctx.pipe.sources),
            )
        return [source]
    if file is not None and len(ctx.pipe.sources) > 1:
        raise ConfigError(
            "--file needs --source when a pipeline has several sources",
            hint="sources: " + ", ".join(ctx.pipe.sources),
        )
    return list(ctx.pipe.sources)


def source_context(ctx: RunContext, stream: str) -> SourceContext:
    """What a source of ``stream`` is handed: this run's log, its cursor, its warnings."""

    def log(level: str, message: str, data: dict[str, Any]) -> None:
        ctx.log(level, message, stream=stream, **data)

    def warn(message: str, hint: str | None) -> None:
        ctx.report.warnings.append({"stream": stream, "message": message, "hint": hint})
        ctx.log("warning", f"{stream}: {message}", stream=stream)

    # A file is loaded whole, by its content's hash: it has no cursor to read (a Celery
    # part lists each of its files, and read one for each: a state-store query a file).
    files = isinstance(ctx.pipe.sources[stream], FileSourceConfig)
    cursor = None if files else ctx.store.cursor(ctx.name, stream)
    return SourceContext(log=log, cursor=cursor, warn=warn, pipeline=ctx.name)


def file_gone(ctx: RunContext, stream: str | None, shown: str) -> None:
    """A file the run listed, deleted or moved before it was read: the run's error for
    that file alone; its other files still load (a Celery part's too)."""
    # Under replace a run without --full-refresh would swap the table for the files the
    # ledger has not seen: the gone one alone.
    again = f"`sluice run {ctx.name}` loads the folder as it is then"
    if ctx.mode == "replace":
        again = f"`sluice run {ctx.name} --full-refresh` replaces the table with the folder"
    exc = FileGone(
        f"{shown}: no such file (it was there when the run listed its files)",
        where=Where(file=shown),
        hint="it was deleted or moved while the run went on; the run's other files load, "
        f"and {again}",
    )
    ctx.report.fail(exc, stream)
    ctx.log("error", str(exc), error=exc.as_dict())


class Planner:
    def __init__(self, ctx: RunContext, dest: Callable[[], Destination]) -> None:
        self.ctx, self._dest = ctx, dest

    def units(self, streams: list[str], file: str | None) -> list[tuple[str, Unit]]:
        """(stream, unit) of every unit the run reads, listed, not yet opened or hashed."""
        return [(stream, unit) for stream in streams for unit in self._units(stream, file)]

    def loads(
        self,
        units: list[tuple[str, Unit]],
        full_refresh: bool,
        skipped: Callable[[str, Unit], None] | None = None,
    ) -> Iterator[PlannedLoad]:
        """The loads of ``units``, each planned (hashed, checked against the ledger, its
        entry written) as it is asked for: the first file's rows flow while the later
        files are still being hashed, and a file that repeats an earlier one of the same
        run finds that one's entry loaded. Under ``replace`` one load of every unit.
        ``skipped(stream, unit)``: told of each unit the ledger says not to load."""

        hash_units_ahead(unit for _, unit in units)

        def each() -> Iterator[PlannedLoad]:
            for stream, unit in units:
                load = self._one(stream, unit, full_refresh, skipped)
                if load is not None:
                    yield load

        if self.ctx.mode == "append":
            yield from self._grouped(units, full_refresh, skipped)
            return
        if self.ctx.mode != "replace":
            yield from each()
            return
        merged = [planned for load in each() for planned in load.units]
        if merged:
            yield PlannedLoad(merged, f"{self.ctx.name}/replace/{self.ctx.run_id}")

    def _grouped(
        self,
        units: list[tuple[str, Unit]],
        full_refresh: bool,
        skipped: Callable[[str, Unit], None] | None,
    ) -> Iterator[PlannedLoad]:
        """Append loads: consecutive files of a stream together up to :data:`GROUP_BYTES`.

        Whether a unit joins the group is settled before its ledger entry is written, and
        a unit whose content is already in the group closes it first: planned after that
        load, it finds its twin loaded (and is skipped), as it would have one by one."""
        group: list[PlannedLoad] = []
        held: set[str] = set()  # the group's fingerprints
        size = 0
        for stream, unit in units:
            grows = self._groupable(stream, unit)
            if group and (
                not grows or group[0].units[0].stream != stream or size + unit.size > GROUP_BYTES
            ):
                yield self._together(group)
                group, held, size = [], set(), 0
            try:
                fp = self._fingerprint(stream, unit)
            except FileGone:
                self._gone(stream, unit, skipped)
                continue
            if fp in held:
                yield self._together(group)
                group, held, size = [], set(), 0
            load = self._one(stream, unit, full_refresh, skipped, fp)
            if load is None:
                continue
            if not grows:
                yield load
                continue
            group.append(load)
            held.add(fp)
            size += unit.size
        if group:
            yield self._together(group)

    def _groupable(self, stream: str, unit: Unit) -> bool:
        """A file whose size is known (not an API pull, not a file of unknown size)."""
        return unit.size > 0 and isinstance(self.ctx.pipe.sources[stream], FileSourceConfig)

    def _together(self, group: list[PlannedLoad]) -> PlannedLoad:
        """One load of ``group``: its own key, from its units' (as unique as theirs)."""
        if len(group) == 1:
            return group[0]
        first = group[0].units[0]
        digest = hashlib.sha256("\n".join(g.load_key for g in group).encode()).hexdigest()
        key = f"{self.ctx.name}/{first.stream}/{digest}+{len(group)}"
        return PlannedLoad([u for g in group for u in g.units], key)

    def _one(
        self,
        stream: str,
        unit: Unit,
        full_refresh: bool,
        skipped: Callable[[str, Unit], None] | None,
        fp: str | None = None,
    ) -> PlannedLoad | None:
        """The unit's own load, or None (``skipped`` told) when it is not to load."""
        try:
            load = self._plan(stream, unit, full_refresh, fp)
        except FileGone:
            self._gone(stream, unit, skipped)
            return None
        if load is None and skipped is not None:
            skipped(stream, unit)
        return load

    def _gone(self, stream: str, unit: Unit, skipped: Callable[[str, Unit], None] | None) -> None:
        """A file deleted or moved since it was listed: the run's error for it alone."""
        file_gone(self.ctx, stream, unit.name)
        if skipped is not None:
            skipped(stream, unit)

    def _units(self, stream: str, file: str | None) -> Iterator[Unit]:
        ctx = self.ctx
        cfg = ctx.pipe.sources[stream]
        if ctx.pages is not None and isinstance(cfg, HttpSourceConfig):
            cfg = cfg.limited_to(*ctx.pages)
        if file is not None:
            if not isinstance(cfg, FileSourceConfig):
                raise ConfigError(
                    f"--file needs a file source; {stream!r} is {cfg.type}",
                    hint="drop --file, or pick a file source with --source",
                )
            # Not resolved: a link here (a Celery part's file swapped for one) is refused
            # by the source. The operator's own `sluice run --file LINK` is resolved by
            # the CLI: the file chosen on the machine is read wherever it is.
            path = Path(file).absolute()
            if not os.path.lexists(path):
                raise ConfigError(f"no such file: {file}")
            # The source globs its path: a name like `report[1].csv` must match itself.
            escaped = glob.escape(str(path))
            cfg = cfg.model_copy(update={"path": escaped, "url": None, "min_files": 0})
        context = source_context(ctx, stream)
        yield from create_source(stream, cfg, ctx.project.root, context).units()

    def _plan(
        self, stream: str, unit: Unit, full_refresh: bool, fp: str | None = None
    ) -> PlannedLoad | None:
        """The unit's load, or None when the ledger says it is done or set aside.
        ``fp``: its fingerprint, when it was taken already."""
        ctx = self.ctx
        store = ctx.store
        srep = ctx.report.stream(stream)
        if fp is None:
            fp = self._fingerprint(stream, unit)
        load_key = f"{ctx.name}/{stream}/{fp}" + (f"/{ctx.run_id}" if full_refresh else "")
        entry = UnitEntry(
            pipeline=ctx.name,
            source=stream,
            name=unit.name,
            fingerprint=fp,
            size=unit.size,
            run_id=ctx.run_id,
            load_key=load_key,
        )
        rec, new = store.find_or_add_file(entry)
        if new is not None:  # content never seen: its entry is made, it loads
            return self._planned(stream, unit, new.id, load_key)
        again = rec is not None and self._delivered_again(rec, unit)
        if again and rec is not None and rec.status == FileStatus.LOADED:
            # Its first delivery committed the load and the ledger, then its worker died
            # before the part's report was recorded: counted here, or the run's report
            # falls short of the rows its table holds.
            self._adopt(stream, unit, rec)
            return None
        if rec is not None and not full_refresh:
            if rec.status == FileStatus.LOADED:
                srep.skipped_files.append(
                    {
                        "file": unit.name,
                        "reason": (
                            f"already loaded by run {rec.run_id} (load {rec.id}); "
                            "--full-refresh loads it again"
                        ),
                    }
                )
                return None
            if rec.status == FileStatus.QUARANTINED:
                srep.skipped_files.append(
                    {
                        "file": unit.name,
                        "reason": (
                            f"in quarantine since run {rec.run_id}; `sluice quarantine "
                            f"list --run {rec.run_id}` says why"
                        ),
                    }
                )
                return None
        if (
            rec is not None
            and rec.status in (FileStatus.LOADING, FileStatus.FAILED)
            and (again or not full_refresh)
        ):
            if (
                rec.status == FileStatus.LOADING
                and rec.counts
                and self._dest().is_loaded(rec.load_key)
            ):
                self._adopt(stream, unit, rec)  # committed: only the ledger is behind
                return None
            # An earlier run died or failed on this unit before its load committed: drop
            # what it quarantined and load it again.
            store.discard_rows(rec.id)
            file_id = rec.id
            store.update_file(
                file_id, status=FileStatus.LOADING, run_id=ctx.run_id, load_key=load_key
            )
        else:
            file_id = store.add_file(entry, FileStatus.LOADING).id
        return self._planned(stream, unit, file_id, load_key)

    def _planned(self, stream: str, unit: Unit, file_id: int, load_key: str) -> PlannedLoad:
        """The load of ``unit``, its ledger entry ``file_id`` made ``loading``."""
        snapshot = self.ctx.mode == "snapshot"
        meta = LoadMeta(file_id, stream, datetime.now(UTC)) if snapshot else None
        return PlannedLoad([PlannedUnit(stream, unit, file_id)], load_key, meta)

    def _delivered_again(self, rec: FileRecord, unit: Unit) -> bool:
        """Whether ``rec`` is this very unit's entry from an earlier delivery of this
        part (a Celery task whose worker died): not another file of the same content."""
        ctx = self.ctx
        return ctx.part is not None and rec.run_id == ctx.run_id and rec.name == unit.name

    def _fingerprint(self, stream: str, unit: Unit) -> str:
        """The unit's key in the ledger. An API pull is new every run, but within a run
        it is one unit: a part of a Celery run delivered again finds its ledger entry
        (and its load marker, if it committed) instead of pulling a second copy."""
        if isinstance(self.ctx.pipe.sources[stream], HttpSourceConfig):
            return hashlib.sha256(f"{unit.name}:{self.ctx.run_id}".encode()).hexdigest()
        return unit.fingerprint()

    def _adopt(self, stream: str, unit: Unit, rec: FileRecord) -> None:
        """A unit whose load committed, in a run that stopped before its ledger said so:
        the counts and quarantined rows it staged are committed now, never dropped."""
        ctx = self.ctx
        counts = dict(rec.counts or {})
        ctx.store.commit_unit(rec.id, counts)
        if rec.run_id != ctx.run_id:
            ctx.report.stream(stream).skipped_files.append(
                {
                    "file": unit.name,
                    "reason": (
                        f"its load committed in run {rec.run_id}, which stopped before it "
                        "could record it; counted there"
                    ),
                }
            )
            return
        # This very run (a part delivered again): the load is this run's.
        tally.count(ctx.report, stream, tally.unstaged(counts), unit=unit.name, load_id=rec.id)
        ctx.log(
            "info",
            f"{unit.name}: its load had committed before this part's worker stopped; counted",
        )
