"""A pipeline run: list units, skip what the ledger has, load each unit atomically.

Per unit (a file or zip member): hash it, check the file ledger, map its header (drift
-> the source's policy), stream its rows through the steps and validation into the
destination in one transaction, then record the outcome. Under ``replace`` all units
of the run form one load, so the table is swapped once.
"""

from __future__ import annotations

import glob
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sluice.batch import Batch
from sluice.config import (
    FileSourceConfig,
    HttpDestinationConfig,
    HttpSourceConfig,
    PipelineConfig,
    Project,
)
from sluice.dburl import redact
from sluice.destinations import Destination, LoadMeta, LoadResult, connect
from sluice.destinations.base import Mode
from sluice.destinations.http import HttpDestination
from sluice.destinations.sql import SqlDestination
from sluice.engine import drift, exclusive, gate, refusals
from sluice.engine.deadletter import DeadLetter
from sluice.engine.lease import Heartbeat
from sluice.engine.newer import NewerKeys
from sluice.engine.prefetch import Prefetch
from sluice.engine.process import UnitContext, UnitProcessor
from sluice.engine.report import Counts, RunReport, error_of
from sluice.engine.settle import settle_stale, staged_counts
from sluice.engine.tables import prepare as prepare_tables
from sluice.engine.tables import targets
from sluice.errors import (
    ConfigError,
    DriftError,
    FetchError,
    LimitExceeded,
    LoadError,
    RunCancelled,
    SluiceError,
    SourceError,
    Where,
)
from sluice.schema import ColumnSpec, TableSpec
from sluice.sources import SourceContext, Unit, create_source
from sluice.state.models import FileRecord
from sluice.state.store import StateStore
from sluice.transforms import MappingPlan, StepRunner, Validator, plan_mapping
from sluice.transforms.normalize import Layout, Splitter
from sluice.transforms.pii import PiiPlan
from sluice.transforms.stated import stated_rules

Progress = Callable[[str, str, int], None]  # (stream, stage, rows so far)


def table_spec(pipe: PipelineConfig, extra: list[str] | None = None) -> TableSpec:
    cols = [ColumnSpec(n, c.type) for n, c in pipe.table.columns.items()]
    cols += [ColumnSpec(n, "string") for n in extra or []]
    return TableSpec(pipe.table.name, cols, list(pipe.table.keys))


@dataclass
class Job:
    """One atomic load: its units, its key in the warehouse, its snapshot stamp."""

    units: list[tuple[str, Unit, Any]]  # (stream, unit, ledger record)
    load_key: str
    meta: LoadMeta | None = None


class Runner:
    def __init__(
        self,
        project: Project,
        pipeline: str,
        *,
        progress: Progress | None = None,
        store: StateStore | None = None,
        kind: str = "run",
        run_id: str | None = None,
        claim: bool = True,
    ) -> None:
        """``run_id``: carry out a run another process recorded (the service's worker);
        ``claim=False``: only a part of it (a Celery task), the run keeps its owner."""
        self.project = project
        self.name = pipeline
        self.pipe = project.pipeline(pipeline)
        self.progress = progress or (lambda stream, stage, rows: None)
        self.own_store = store is None
        self.store = store or StateStore(project.state_url())
        target = self.pipe.destination
        self.url = (
            target.url
            if isinstance(target, HttpDestinationConfig)
            else project.warehouse_url(self.pipe)
        )
        self.mode: Mode = self.pipe.destination.mode
        self.extra: list[str] = []  # columns added by `evolve`
        self.layout = Layout(self.pipe)
        self.trigger = "cli"  # what asked for the run: cli, api, schedule, watch
        #: another run has the pipeline: wait for it (True) or refuse to start (False)
        self.wait = False
        self.pages: tuple[int, int] | None = None  # an API part of a Celery run: its pages
        self.part: str | None = None  # the part of a Celery run this carries out
        self._splitter: Splitter | None = None  # one per load: lookups sent once per load
        # Runs whose process is gone are settled first: what they committed is counted,
        # what they held rolls back (and this run loads it).
        settle_stale(project, self.store, keep=run_id)
        self.run_id = (
            self.store.adopt_run(run_id, claim=claim) if run_id else self.store.start_run(pipeline)
        )
        self.report = RunReport(
            self.run_id,
            pipeline,
            self.pipe.table.name,
            redact(self.url),
            self.mode,
            kind=kind,
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
            rules=stated_rules(self.pipe),
        )
        self.deadletter = DeadLetter(self.store, project, self.run_id, pipeline, self.report)
        #: under merge: row entries of older units whose keys this run's loads write again
        self.newer = NewerKeys(project, pipeline, self.store, self.run_id)
        self._dest: Destination | None = None
        #: set by :meth:`cancel` (another thread); checked between batches
        self.cancelled = threading.Event()
        self._why = ""

    def cancel(self, why: str = "") -> None:
        """Ask the run to stop: the load in progress rolls back, the run ends ``cancelled``.
        ``why``: what asked (``SIGINT``, ``sluice cancel``), said in its message."""
        if not self.cancelled.is_set():
            self._why = why
        self.cancelled.set()

    def check_cancelled(self) -> None:
        if self.cancelled.is_set():
            why = f" ({self._why})" if self._why else ""
            raise RunCancelled(
                f"run {self.run_id} of {self.name} was cancelled{why}",
                hint="the load in progress was rolled back, the table is as it was; "
                "run again to load the rest",
            )

    @property
    def dest(self) -> Destination:
        if self._dest is None:
            target = self.pipe.destination
            if isinstance(target, HttpDestinationConfig):
                self._dest = HttpDestination(
                    target,
                    key=str(self.pipe.delivery_key),
                    store=self.store,
                    pipeline=self.name,
                    run_id=self.run_id,
                    log=lambda level, message, data: self.store.log(
                        self.run_id, level, message, **data
                    ),
                )
            else:
                self._dest = connect(self.url)
        return self._dest

    def close(self) -> None:
        """Close the destination (``execute`` does it itself at a run's end)."""
        if self._dest is not None:
            self._dest.close()
            self._dest = None

    # ------------------------------------------------------------------ lifecycle

    def execute(self, body: Callable[[], None], *, part: str | None = None) -> RunReport:
        """Carry out ``body`` and record the run's end. ``part``: only one part of the
        run (a Celery task): its report is returned, and the run goes on."""
        start = time.perf_counter()
        what = f"part {part}" if part else self.report.kind
        # The run's lease, fresh while this goes on; `sluice cancel` arrives through it.
        lease = Heartbeat(self.store, self.run_id, on_cancel=lambda _: self.cancel()).start()
        self.store.log(
            self.run_id,
            "info",
            f"{what} of {self.name} started",
            destination=redact(self.url),
            trigger=self.trigger,
        )
        try:
            if part is None:  # one run of a pipeline at a time (a part runs under its run)
                exclusive.take(self, self.report.kind)
            self.check_cancelled()
            self.prepare()
            body()
            self.report.check_accounting()
        except SluiceError as exc:
            self.report.fail(exc)
            self.store.log(self.run_id, "error", str(exc), error=exc.as_dict())
        except Exception as exc:  # a bug: still recorded, never lost
            self.report.errors.append(error_of(exc))
            self.store.log(self.run_id, "error", f"unexpected {type(exc).__name__}: {exc}")
            raise
        finally:
            lease.stop()
            if isinstance(self._dest, HttpDestination):
                self.report.delivery = self._dest.stats.as_dict()
            self.report.seconds = time.perf_counter() - start
            status = self.report.settle()
            self.store.log(self.run_id, "info", f"{what} finished: {status}")
            if part is None:
                self.store.finish_run(self.run_id, status, self.report.as_dict())
            if self._dest is not None:
                self._dest.close()
            if self.own_store:
                self.store.close()
        return self.report

    def prepare(self) -> None:
        for stream in self.pipe.sources:
            self.report.stream(stream)
        if not isinstance(self.pipe.destination, HttpDestinationConfig):
            # A malformed URL is named by where it came from (SLUICE_WAREHOUSE_URL, ...)
            self.project.checked_warehouse_url(self.pipe)
        # Compile the steps now: a step naming an unknown column fails the run before
        # any file is touched, not file by file.
        StepRunner(self.pipe, list(self.pipe.table.columns))
        PiiPlan.build(self.pipe, {c: c for c in self.pipe.table.columns}, self.project.pii_salt)
        if self.part is None:  # a part of a Celery run: its plan made the tables
            self._prepare_tables()

    def _prepare_tables(self) -> list[str]:
        self.layout = Layout(self.pipe, self.extra)
        added = prepare_tables(self.dest, self.layout, self.mode)
        for part in self.layout.parts:
            self.store.record_schema(
                self.name, part.spec.name, {c.name: c.type for c in part.spec.columns}, self.run_id
            )
        return added

    def evolve(self, columns: list[str]) -> None:
        new = [c for c in columns if c not in self.extra and c not in self.pipe.table.columns]
        if not new:
            return
        self.extra += new
        self._prepare_tables()
        self.store.log(self.run_id, "warning", "schema evolved: added " + ", ".join(new))

    def processor(self, ctx: UnitContext, plan: MappingPlan) -> UnitProcessor:
        """A fresh processor per unit: dedupe and unique hold within one file, so a
        unit that is retried or replayed starts from a clean slate."""
        steps = StepRunner(self.pipe, list(self.pipe.table.columns) + self.extra)
        validator = Validator(self.pipe.table, list(self.extra), unique_keys=self.mode == "merge")
        base = self.report.stream(ctx.source).counts.read
        seen, last = [0], [0.0]

        def on_rows(n: int) -> None:
            seen[0] += n
            self.progress(ctx.source, "load", base + seen[0])
            now = time.perf_counter()
            # `sluice show` of a live run: at most once a second. A part of a Celery run
            # leaves the run's stages to its task, which sums the parts that ended.
            if self.part is None and now - last[0] >= 1.0:
                last[0] = now
                self.store.progress(self.run_id, ctx.source, "extract", base + seen[0], 0.0)

        pii = PiiPlan.build(self.pipe, plan.rename, self.project.pii_salt)

        def pending(entries: list[dict[str, Any]]) -> None:
            # Pending until the unit's load commits (then open), dropped if it does not.
            self.store.quarantine([{**e, "status": "pending"} for e in entries])

        return UnitProcessor(
            ctx,
            plan,
            steps,
            validator,
            pending,
            on_rows,
            pii=pii,
            concealed=self.deadletter.concealed.get(ctx.file_id, frozenset()),
            keep_raw=isinstance(self.pipe.destination, HttpDestinationConfig),
            splitter=self._splitter,
            lacking=f"{self._of(ctx.source)} has no such {self._field(ctx.source)}",
        )

    def _of(self, stream: str) -> str:
        """What a unit of ``stream`` is, in a sentence: "the file", "the API"."""
        return "the API" if isinstance(self.pipe.sources[stream], HttpSourceConfig) else "the file"

    def _field(self, stream: str) -> str:
        return "field" if isinstance(self.pipe.sources[stream], HttpSourceConfig) else "column"

    def begin_load(self) -> None:
        """Start a new load: lookup rows are sent once per load."""
        self._splitter = self.layout.splitter() if self.layout.split_up else None

    def send(self, load_key: str, items: Iterable[Any], meta: LoadMeta | None) -> LoadResult:
        """Load one unit of rows: into the table, or into every table of the layout.

        ``items`` are frames, or rows per table when the layout splits records.
        """
        if not self.layout.split_up:
            return self.dest.load(self.layout.root, self.mode, load_key, items, meta)
        dest = self.dest
        assert isinstance(dest, SqlDestination)  # the config allows nothing else
        result = dest.load_tables(
            targets(self.layout, self.mode), load_key, items, meta, self.layout.root_name
        )
        for name, n in result.tables.items():
            self.report.tables[name] = self.report.tables.get(name, 0) + n
        return result

    def rows_of(self, proc: UnitProcessor, batches: Iterable[Batch]) -> Iterator[Any]:
        """What :meth:`send` takes, from one unit's batches."""
        return proc.tables(batches) if self.layout.split_up else proc.frames(batches)

    # ------------------------------------------------------------------ runs

    def run(
        self, *, source: str | None = None, file: str | None = None, full_refresh: bool = False
    ) -> RunReport:
        streams = self._streams(source, file)
        return self.execute(lambda: self._load_all(streams, file, full_refresh))

    def run_part(
        self,
        label: str,
        stream: str | None,
        file: str | None,
        *,
        pages: tuple[int, int] | None = None,
        full_refresh: bool = False,
    ) -> RunReport:
        """One part of a run on the Celery executor: a file of ``stream``, some
        ``pages`` of its API, the whole stream, or (``stream`` None) every stream."""
        streams = self._streams(stream, file)
        self.pages, self.part = pages, label
        return self.execute(lambda: self._load_all(streams, file, full_refresh), part=label)

    def _streams(self, source: str | None, file: str | None) -> list[str]:
        if source is not None:
            if source not in self.pipe.sources:
                raise ConfigError(
                    f"pipeline {self.name!r} has no source {source!r}",
                    hint="sources: " + ", ".join(self.pipe.sources),
                )
            return [source]
        if file is not None and len(self.pipe.sources) > 1:
            raise ConfigError(
                "--file needs --source when a pipeline has several sources",
                hint="sources: " + ", ".join(self.pipe.sources),
            )
        return list(self.pipe.sources)

    def _units(self, stream: str, file: str | None) -> Iterator[Unit]:
        cfg = self.pipe.sources[stream]
        if self.pages is not None and isinstance(cfg, HttpSourceConfig):
            cfg = cfg.limited_to(*self.pages)
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
        yield from create_source(stream, cfg, self.project.root, self._context(stream)).units()

    def _context(self, stream: str) -> SourceContext:
        def log(level: str, message: str, data: dict[str, Any]) -> None:
            self.store.log(self.run_id, level, message, stream=stream, **data)

        def warn(message: str, hint: str | None) -> None:
            self.report.warnings.append({"stream": stream, "message": message, "hint": hint})
            self.store.log(self.run_id, "warning", f"{stream}: {message}", stream=stream)

        return SourceContext(
            log=log, cursor=self.store.cursor(self.name, stream), warn=warn, pipeline=self.name
        )

    def _load_all(self, streams: list[str], file: str | None, full_refresh: bool) -> None:
        jobs: list[Job] = []
        for stream in streams:
            for unit in self._units(stream, file):
                job = self._job(stream, unit, full_refresh)
                if job is not None:
                    jobs.append(job)
        if self.mode == "replace" and jobs:
            merged = [u for j in jobs for u in j.units]
            jobs = [Job(merged, f"{self.name}/replace/{self.run_id}")]
        for job in jobs:
            self.check_cancelled()
            self.load_job(job)

    def _job(self, stream: str, unit: Unit, full_refresh: bool) -> Job | None:
        """The unit's job, or None when the ledger says it is done or set aside."""
        srep = self.report.stream(stream)
        fp = self._fingerprint(stream, unit)
        rec = self.store.find_file(self.name, stream, fp)
        again = rec is not None and self._delivered_again(rec, unit)
        if again and rec is not None and rec.status == "loaded":
            # Its first delivery committed the load and the ledger, then its worker died
            # before the part's report was recorded: counted here, or the run's report
            # falls short of the rows its table holds.
            self._adopt(stream, unit, rec)
            return None
        if rec is not None and not full_refresh:
            if rec.status == "loaded":
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
            if rec.status == "quarantined":
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
        load_key = f"{self.name}/{stream}/{fp}" + (f"/{self.run_id}" if full_refresh else "")
        if rec is not None and rec.status in ("loading", "failed") and (again or not full_refresh):
            if rec.status == "loading" and rec.counts and self.dest.is_loaded(rec.load_key):
                self._adopt(stream, unit, rec)  # committed: only the ledger is behind
                return None
            # An earlier run died or failed on this unit before its load committed: drop
            # what it quarantined and load it again.
            self.store.discard_rows(rec.id)
            file_id = rec.id
            self.store.update_file(file_id, status="loading", run_id=self.run_id, load_key=load_key)
        else:
            file_id = self.store.add_file(
                pipeline=self.name,
                source=stream,
                name=unit.name,
                fingerprint=fp,
                size=unit.size,
                status="loading",
                run_id=self.run_id,
                load_key=load_key,
            ).id
        meta = LoadMeta(file_id, stream, datetime.now(UTC)) if self.mode == "snapshot" else None
        return Job([(stream, unit, file_id)], load_key, meta)

    def _delivered_again(self, rec: FileRecord, unit: Unit) -> bool:
        """Whether ``rec`` is this very unit's entry from an earlier delivery of this
        part (a Celery task whose worker died): not another file of the same content."""
        return self.part is not None and rec.run_id == self.run_id and rec.name == unit.name

    def _fingerprint(self, stream: str, unit: Unit) -> str:
        """The unit's key in the ledger. An API pull is new every run, but within a run
        it is one unit: a part of a Celery run delivered again finds its ledger entry
        (and its load marker, if it committed) instead of pulling a second copy."""
        if isinstance(self.pipe.sources[stream], HttpSourceConfig):
            return hashlib.sha256(f"{unit.name}:{self.run_id}".encode()).hexdigest()
        return unit.fingerprint()

    def _adopt(self, stream: str, unit: Unit, rec: FileRecord) -> None:
        """A unit whose load committed, in a run that stopped before its ledger said so:
        the counts and quarantined rows it staged are committed now, never dropped."""
        counts = dict(rec.counts or {})
        self.store.commit_unit(rec.id, counts)
        srep = self.report.stream(stream)
        if rec.run_id != self.run_id:
            srep.skipped_files.append(
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
        c = staged_counts(counts)
        srep.counts.add(c)
        srep.files.append({"file": unit.name, "load_id": rec.id, **_counts(c)})
        self.store.log(
            self.run_id,
            "info",
            f"{unit.name}: its load had committed before this part's worker stopped; counted",
        )

    # ------------------------------------------------------------------ one load

    def load_job(self, job: Job) -> None:
        """Load a job; a unit that breaks mid-way is quarantined and the rest retried."""
        while job.units:
            if self.dest.is_loaded(job.load_key):
                for stream, unit, file_id in job.units:
                    rec = self.store.file(file_id)
                    if rec is not None and rec.counts:  # it staged them: keep them
                        self.store.commit_unit(file_id, dict(rec.counts))
                    else:
                        self.store.update_file(file_id, status="loaded")
                    self.report.stream(stream).skipped_files.append(
                        {
                            "file": unit.name,
                            "reason": (
                                "its load had committed in a run that did not finish; "
                                "ledger updated"
                            ),
                        }
                    )
                return
            self.begin_load()
            try:
                opened = [
                    (stream, unit, file_id, *o)
                    for stream, unit, file_id in job.units
                    if (o := self.open_unit(stream, unit, file_id)) is not None
                ]
                if not opened:  # every unit was set aside: nothing to commit
                    return
                result, waited, load_start = self._load(job, opened)
            except (SluiceError, _RunStop) as exc:
                for _, _, file_id in job.units:
                    self.newer.forget(file_id)
                    self.store.discard_rows(file_id)
                    self.store.update_file(file_id, status="failed")
                raise exc.error if isinstance(exc, _RunStop) else exc from None
            except _UnitFailed as failed:
                stream, unit, file_id = failed.unit
                for _, _, other in job.units:  # the whole job is tried again
                    self.newer.forget(other)
                    self.store.discard_rows(other)
                self.deadletter.set_aside(stream, unit, file_id, failed.error)
                job.units = [u for u in job.units if u[2] != file_id]
                continue
            load_seconds = time.perf_counter() - load_start - waited
            passed = sum(p.counts.loaded for _, _, _, p, _ in opened)
            if result.rows != passed:
                raise LoadError(
                    f"the destination loaded {result.rows} rows of {passed}",
                    hint="this is a bug in sluice or the destination driver",
                )
            self._settle_delivery(result, opened)
            passed = sum(p.counts.loaded for _, _, _, p, _ in opened)
            for stream, unit, file_id, p, _ in opened:
                srep = self.report.stream(stream)
                srep.counts.add(p.counts)
                for k, v in p.seconds.items():
                    srep.seconds[k] += v
                srep.seconds["load"] += load_seconds * (p.counts.loaded / passed if passed else 1)
                srep.files.append({"file": unit.name, "load_id": file_id, **_counts(p.counts)})
                # The ledger, the unit's quarantined rows and its cursor: one transaction.
                self.store.commit_unit(file_id, _stage(p.counts, unit))
                self._after_load(stream, unit)
                self.deadletter.supersede(stream, unit.name, file_id, whole=self.pages is None)
                self._supersede_older(stream, unit, file_id)
                if self.mode == "merge" and p.counts.quarantined:
                    self.newer.add(file_id)
                self._note_drift(stream, unit, p.plan)
                c = p.counts
                self.store.log(
                    self.run_id,
                    "info",
                    (
                        f"{unit.name}: read {c.read}, loaded {c.loaded}, quarantined "
                        f"{c.quarantined}, filtered {c.filtered}"
                    ),
                    stream=stream,
                    load_id=file_id,
                )
                self.progress(stream, "done", srep.counts.read)
                if self.part is None:
                    record_stages(self.store, self.run_id, stream, srep.counts, srep.seconds)
            return

    def _supersede_older(self, stream: str, unit: Unit, file_id: int) -> None:
        """Under merge: close the row entries of older units this load wrote again (a
        replay would upsert them over these newer rows)."""
        n = self.newer.settle(file_id, self.run_id)
        if n:
            self.store.log(
                self.run_id,
                "info",
                f"{unit.name}: {n} quarantined row(s) of older loads superseded: this load "
                "merged newer rows with the same keys (`sluice quarantine list --status "
                "superseded` lists them)",
                stream=stream,
            )

    def _settle_delivery(
        self, result: LoadResult, opened: list[tuple[str, Unit, int, UnitProcessor, Any]]
    ) -> None:
        """Rows an http destination did not deliver now: already delivered (filtered by
        the ledger) or refused by the API (quarantined with its answer and raw fields)."""
        refusals.settle(result, [proc for *_, proc, _ in opened])

    def _after_load(self, stream: str, unit: Unit) -> None:
        """What an API pull leaves behind once its rows are committed."""
        stats = getattr(unit, "stats", None)
        if stats is not None:
            self.report.stream(stream).http = stats.as_dict()
        checkpoint = getattr(unit, "checkpoint", None)
        if checkpoint is not None:  # saved with the unit's ledger entry (commit_unit)
            self.store.log(self.run_id, "info", f"{stream}: cursor saved: {checkpoint}")

    def _note_drift(self, stream: str, unit: Unit, plan: MappingPlan) -> None:
        """The drift a committed unit was loaded with (``evolve``), in the stream's report."""
        vanished = getattr(unit, "vanished", None) or {}  # an API's fields gone mid-pull
        entry = drift.note(unit.name, plan, vanished, self._field(stream))
        if entry is not None:
            self.report.stream(stream).drift.append(entry)

    def _load(
        self, job: Job, opened: list[tuple[str, Unit, int, UnitProcessor, Iterator[Batch]]]
    ) -> tuple[LoadResult, float, float]:
        def frames() -> Iterator[Any]:
            for index, (stream, unit, file_id, proc, batches) in enumerate(opened):
                try:
                    for rows in self.rows_of(proc, batches):
                        self.check_cancelled()
                        if self.mode == "merge" and self.report.kind == "run":
                            self.newer.watch(rows, file_id)
                        yield refusals.tag(rows, index) if proc.keep_raw else rows
                        gate.between_batches(self.cancelled)  # tests only, see its module
                    self.check_cancelled()
                except FetchError:
                    raise
                except DriftError as exc:  # its shape changed mid-way (an API's later page)
                    exc.hint = (
                        f"if {self._of(stream)} no longer sends them, set drift: evolve on "
                        f"source {stream!r} to load them as null; then {self._then(stream)}"
                    )
                    if self.pipe.sources[stream].drift == "fail":
                        raise _RunStop(exc) from None
                    raise _UnitFailed((stream, unit, file_id), exc) from None
                except SourceError as exc:
                    raise _UnitFailed((stream, unit, file_id), exc) from None
            # Every row is read and the warehouse commits next: stage each unit's counts
            # and cursor under the load's key first. A run killed past the commit is
            # settled from them and the load marker (:mod:`sluice.engine.settle`).
            for _, unit, file_id, proc, _ in opened:
                self.store.stage_unit(file_id, job.load_key, _stage(proc.counts, unit))

        prefetch = Prefetch(frames())
        start = time.perf_counter()
        try:
            result = self.send(job.load_key, prefetch, job.meta)
        finally:
            prefetch.close()
        return result, prefetch.waited, start

    def open_unit(
        self, stream: str, unit: Unit, file_id: int
    ) -> tuple[UnitProcessor, Iterator[Batch]] | None:
        """Open a unit and map its header; None when it was quarantined instead."""
        cfg = self.pipe.sources[stream]
        try:
            reader = unit.open()
            if not reader.columns and getattr(reader, "may_be_empty", False):
                # An API with nothing (new) to give: an empty, successful pull.
                plan = MappingPlan({}, [], [], absent=list(self.pipe.table.columns))
                ctx = UnitContext(self.run_id, self.name, stream, unit.name, file_id)
                return self.processor(ctx, plan), reader.batches()
            if not reader.columns:
                raise SourceError(
                    "the file is empty: no header row",
                    where=Where(file=unit.name),
                    hint="no configuration can load it: put a complete export in its place "
                    f"(`sluice run {self.name}` loads it as a new file), then close this "
                    "entry with `sluice quarantine discard ID` (`sluice quarantine list` "
                    "shows its ID)",
                )
            plan = plan_mapping(reader.columns, self.pipe, cfg, self.project.synonyms)
            if plan.drifted:
                plan = self._drift(stream, unit, plan, reader.columns)
        except FetchError:
            raise  # the source could not be read at all: the run fails, nothing is set aside
        except SourceError as exc:
            self.deadletter.set_aside(stream, unit, file_id, exc)
            return None
        ctx = UnitContext(self.run_id, self.name, stream, unit.name, file_id)
        return self.processor(ctx, plan), reader.batches()

    def _drift(self, stream: str, unit: Unit, plan: MappingPlan, headers: list[str]) -> MappingPlan:
        policy = self.pipe.sources[stream].drift
        where = Where(file=unit.name, key=f"pipelines.{self.name}.sources.{stream}")
        hint = drift.hint(stream, plan.missing, plan.unexpected, self._then(stream))
        source = self.pipe.sources[stream]
        delimiter = (
            _delimiter_hint(list(headers), plan.unexpected, source.csv.delimiter)
            if isinstance(source, FileSourceConfig)
            else None
        )
        if delimiter:
            hint = (
                f"the header looks delimited by {delimiter!r}: set csv.delimiter on source "
                f"{stream!r}, then {self._then(stream)}"
            )
        if policy == "evolve" and not delimiter:
            return self.evolve_plan(stream, unit.name, plan)
        err = DriftError(
            f"columns drifted: {plan.describe()}",
            missing=plan.missing,
            unexpected=plan.unexpected,
            where=where,
            hint=hint,
        )
        if policy == "fail":
            raise _RunStop(err)
        raise err  # quarantine: the caller sets the file aside

    def evolve_plan(self, stream: str, unit: str, plan: MappingPlan) -> MappingPlan:
        """A drifted plan under ``evolve``: new headers become columns, missing columns
        load as null. Neither is silent: the log says so here, the report on commit."""
        evolved = plan.evolve(set(self.pipe.table.columns) | set(self.extra))
        try:
            self.evolve(list(evolved.evolved.values()))
        except LimitExceeded as exc:  # permanent: which drift, and what to do instead
            exc.where = Where(file=unit, key=f"pipelines.{self.name}.sources.{stream}.drift")
            exc.hint = (
                f"running again as is will not help: drift: evolve adds {len(evolved.evolved)} "
                f"column(s) for this file. List the headers not needed in sources.{stream}."
                f"ignore (globs work), or set drift: quarantine on source {stream!r} to set "
                f"such files aside; then `sluice run {self.name}`"
            )
            raise
        if evolved.unfilled:
            what = self._field(stream)
            self.store.log(
                self.run_id,
                "warning",
                f"{unit}: no {what} for {', '.join(evolved.unfilled)}: loaded as null "
                "(drift: evolve)",
                stream=stream,
                file=unit,
                missing=evolved.unfilled,
            )
        return evolved

    def _then(self, stream: str) -> str:
        """The command that loads a drifted unit of ``stream`` once its config is fixed."""
        return drift.then(self.pipe.sources[stream].drift, self.name)


def _delimiter_hint(headers: list[str], unexpected: list[str], delimiter: str) -> str | None:
    """The delimiter a file seems to use when its whole header came out as one column.

    Only a one-column header counts: a real extra column whose name merely contains a
    ``;`` is ordinary drift, not a wrong delimiter.
    """
    if len(headers) == 1 and unexpected == headers:
        for candidate in (";", "\t", "|", ","):
            if candidate != delimiter and unexpected[0].count(candidate) >= 1:
                return candidate
    return None


class _RunStop(Exception):
    """A drift under policy `fail`: not a unit to set aside but a run to stop."""

    def __init__(self, error: SluiceError) -> None:
        super().__init__(str(error))
        self.error = error


class _UnitFailed(Exception):
    def __init__(self, unit: tuple[str, Unit, int], error: SluiceError) -> None:
        super().__init__(str(error))
        self.unit, self.error = unit, error


def record_stages(
    store: StateStore, run_id: str, stream: str, counts: Counts, seconds: dict[str, float]
) -> None:
    """A stream's stages so far, for a live view of the run (`sluice show`, dashboard)."""
    store.progress(run_id, stream, "extract", counts.read, seconds.get("extract", 0.0))
    store.progress(
        run_id, stream, "transform", counts.read - counts.filtered, seconds.get("transform", 0.0)
    )
    store.progress(run_id, stream, "load", counts.loaded, seconds.get("load", 0.0))


def _stage(c: Counts, unit: Unit) -> dict[str, Any]:
    """What the ledger keeps of a unit's load: its counts and the cursor it reached."""
    return {
        **_counts(c),
        "filtered_by": dict(c.filtered_by),
        "cursor": getattr(unit, "checkpoint", None),
    }


def _counts(c: Counts) -> dict[str, int]:
    return {
        "read": c.read,
        "loaded": c.loaded,
        "quarantined": c.quarantined,
        "filtered": c.filtered,
    }


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
    return Runner(project, pipeline, progress=progress).run(
        source=source, file=file, full_refresh=full_refresh
    )
