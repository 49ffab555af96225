"""Run reports: per-stream counts, timings and errors, and the accounting identity.

:class:`RunReport` is a Pydantic model whose serialized form *is* the report document:
what ``sluice run --json`` prints, the state store keeps, a Celery part hands back, the
API answers (its OpenAPI schema) and alerts quote. The run counts through
:class:`Counts` objects held per stream; the document shows them flat (``read``,
``loaded``...) with the run's ``totals``, and :meth:`RunReport.model_validate` reads a
document back into the same objects (a part's report, a stored report: :func:`report_of`).
Its errors are :class:`~sluice.errors.ErrorRecord` dicts, and so are its other entries:
a stream's files (:class:`LoadedFile`, :class:`QuarantinedFile`, :class:`SkippedFile`),
its drift (:class:`DriftEntry`), the run's warnings (:class:`WarningRecord`), a
stream's ``http`` and the run's ``delivery`` (an API's requests, retries and statuses:
:class:`~sluice.httpclient.stats.HttpStatsRecord`). Typed dicts, not models: the engine
writes them as dict literals and the document keeps them as they are written (a key
without a value is left out of a drift entry). A run that
has ended reads back through :func:`final_report`; a list of runs reads only the head
of each document (:func:`head_of`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NotRequired

from pydantic import (
    BaseModel,
    Field,
    SerializerFunctionWrapHandler,
    computed_field,
    model_serializer,
    model_validator,
)

# typing's TypedDict is not one Pydantic reads before Python 3.12
from typing_extensions import TypedDict

from sluice.errors import AccountingError, ErrorRecord, SluiceError
from sluice.httpclient.stats import HttpStatsRecord
from sluice.redact import redact_data, redact_text
from sluice.status import RunKind, RunStatus

if TYPE_CHECKING:
    from sluice.state.models import Run

SKIPPED_LISTED = 10  # skipped files a report names; `skipped` counts them all
#: the keys of a counted stream (and of the totals), in the document's order
COUNT_KEYS = ("read", "loaded", "quarantined", "filtered", "filtered_by")


def error_of(exc: BaseException) -> ErrorRecord:
    """An error as a report records it; anything not a SluiceError is a bug of ours."""
    if isinstance(exc, SluiceError):
        return exc.as_dict()
    return {
        "type": type(exc).__name__,
        "message": redact_text(str(exc)),
        "hint": "this is a bug in sluice; please report it",
        "retryable": False,
        "cancelled": False,
    }


class UnitCounts(TypedDict):
    """A unit's counts as its entry in a report's ``files`` (and its ledger entry) name them."""

    read: int
    loaded: int
    quarantined: int
    filtered: int


class LoadedFile(TypedDict):
    """A unit a stream loaded (``files``): its name, its load id (its ledger entry) and
    its counts (:class:`UnitCounts`, written out: a document keeps this order)."""

    file: str
    load_id: int | None
    read: int
    loaded: int
    quarantined: int
    filtered: int


class QuarantinedFile(TypedDict):
    """A unit a stream set aside whole (``quarantined_files``): why, and its load id."""

    file: str
    reason: str
    hint: str | None
    load_id: int | None


class SkippedFile(TypedDict):
    """A unit a stream did not load (``skipped_files``): already loaded, in quarantine,
    or committed by a run that did not finish."""

    file: str
    reason: str


class DriftEntry(TypedDict):
    """A unit loaded with drift under ``drift: evolve`` (``drift``): what it lacked, what
    was added, the API fields that vanished mid-pull (each only when it has some), and a
    note that says it in words."""

    file: str
    missing: NotRequired[list[str]]
    added: NotRequired[list[str]]
    vanished: NotRequired[list[str]]
    note: str


class WarningRecord(TypedDict):
    """What the user should know though nothing failed (``warnings``): the stream, the
    message and a hint (a source whose paths matched no file)."""

    stream: str
    message: str
    hint: str | None


class Counts(BaseModel):
    """Rows of a stream (or a unit, or a run): every row read is in exactly one bucket."""

    read: int = 0
    loaded: int = 0
    quarantined: int = 0
    filtered: int = 0
    filtered_by: dict[str, int] = Field(default_factory=dict)

    def add(self, other: Counts) -> None:
        self.read += other.read
        self.loaded += other.loaded
        self.quarantined += other.quarantined
        self.filtered += other.filtered
        for rule, n in other.filtered_by.items():
            self.filtered_by[rule] = self.filtered_by.get(rule, 0) + n

    @property
    def balanced(self) -> bool:
        return self.read == self.loaded + self.quarantined + self.filtered


class Totals(Counts):
    """A run's counts over its streams, and how many whole units it set aside."""

    quarantined_files: int = 0


class StreamReport(BaseModel):
    """One stream of a run. Its document shows the counts flat, ``skipped`` (how many
    files were skipped) and the first few skipped files (:func:`listed_skips`)."""

    name: str = Field(default="", exclude=True)  # the key it has in ``streams``
    counts: Counts = Field(default_factory=Counts, exclude=True)
    files: list[LoadedFile] = Field(default_factory=list)
    quarantined_files: list[QuarantinedFile] = Field(default_factory=list)
    skipped_files: list[SkippedFile] = Field(default_factory=list)
    #: skipped files not in ``skipped_files`` (a report read back lists only some)
    skipped_more: int = Field(default=0, exclude=True)
    #: seconds each stage was busy; they overlap (the rows are read, transformed and
    #: loaded at once, in threads), so their sum may pass the stream's ``elapsed``
    seconds: dict[str, float] = Field(
        default_factory=lambda: {"extract": 0.0, "transform": 0.0, "load": 0.0}
    )
    #: wall seconds of the stream's loads, from opening their units to their commit
    #: (never more than the run's ``seconds``)
    elapsed: float = 0.0
    http: HttpStatsRecord | None = None  # requests, retries, statuses of an API pull
    #: drift loaded under `evolve`, per unit: file, missing / added / vanished, a note
    drift: list[DriftEntry] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def read(self) -> int:
        return self.counts.read

    @computed_field  # type: ignore[prop-decorator]
    @property
    def loaded(self) -> int:
        return self.counts.loaded

    @computed_field  # type: ignore[prop-decorator]
    @property
    def quarantined(self) -> int:
        return self.counts.quarantined

    @computed_field  # type: ignore[prop-decorator]
    @property
    def filtered(self) -> int:
        return self.counts.filtered

    @computed_field  # type: ignore[prop-decorator]
    @property
    def filtered_by(self) -> dict[str, int]:
        return self.counts.filtered_by

    @computed_field  # type: ignore[prop-decorator]
    @property
    def skipped(self) -> int:
        return len(self.skipped_files) + self.skipped_more

    @model_validator(mode="before")
    @classmethod
    def _from_document(cls, data: Any) -> Any:
        """A stream's document (flat counts, ``skipped``) as the fields that hold it."""
        if not isinstance(data, dict) or "counts" in data:
            return data
        listed = data.get("skipped_files") or []
        return {
            **{k: v for k, v in data.items() if k not in COUNT_KEYS and k != "skipped"},
            "counts": {k: data[k] for k in COUNT_KEYS if data.get(k) is not None},
            "skipped_files": listed,
            "skipped_more": int(data.get("skipped", len(listed))) - len(listed),
        }

    # No return annotation: Pydantic then takes the document's JSON schema (the API's
    # response schema) from the fields, instead of from the annotation.
    @model_serializer(mode="wrap")
    def _document(self, handler: SerializerFunctionWrapHandler):  # type: ignore[no-untyped-def]
        out = handler(self)
        doc = {k: out[k] for k in COUNT_KEYS}
        doc.update(
            files=out["files"],
            quarantined_files=out["quarantined_files"],
            skipped=out["skipped"],
            skipped_files=listed_skips(out["skipped_files"]),
            seconds={k: round(v, 3) for k, v in out["seconds"].items()},
            elapsed=round(out["elapsed"], 3),
        )
        if out["http"] is not None:
            doc["http"] = out["http"]
        if out["drift"]:
            doc["drift"] = out["drift"]
        return doc


def listed_skips(skipped: list[SkippedFile]) -> list[SkippedFile]:
    """The skipped files a report lists: at most ``SKIPPED_LISTED``, those that need a
    look first (set aside, recovered) before the routine "already loaded" ones. (A drop
    folder keeps every file it ever had: listing them all made each report longer than
    the one before, and the state store grow with the square of the runs.)"""
    if len(skipped) <= SKIPPED_LISTED:
        return skipped
    routine = [s for s in skipped if s["reason"].startswith("already loaded")]
    rest = [s for s in skipped if not s["reason"].startswith("already loaded")]
    return (rest + routine)[:SKIPPED_LISTED]


class RunReport(BaseModel):
    """A run's report: what it read, loaded, set aside and filtered per stream, its
    errors and warnings, and its status once settled (:meth:`settle`)."""

    run_id: str = ""
    """The run's id (``20261201T021235-a0cb44``): ``sluice show RUN_ID``."""
    kind: RunKind = RunKind.RUN
    """``run`` or ``replay`` (a quarantine replay)."""
    pipeline: str = ""
    """The pipeline's name in ``sluice.yaml``."""
    status: RunStatus = RunStatus.RUNNING
    """Once it ended: ``succeeded``, ``succeeded_with_quarantine``, ``failed``,
    ``cancelled`` or ``abandoned`` (``running`` while it goes)."""
    table: str = ""
    """The table it loads."""
    destination: str = ""
    """The warehouse URL (or the http destination's), its secrets masked."""
    mode: str = ""
    """The write mode: ``append``, ``replace``, ``merge`` or ``snapshot``."""
    started_at: str = ""
    """When it started: ISO 8601 with its zone (UTC)."""
    seconds: float = 0.0
    """Its wall time."""
    streams: dict[str, StreamReport] = Field(default_factory=dict)
    """Per source: rows read, loaded, quarantined and filtered, its files, seconds."""
    errors: list[ErrorRecord] = Field(default_factory=list)
    """What failed: each with its stream, message, where and hint."""
    warnings: list[WarningRecord] = Field(default_factory=list)
    """What the user should know though nothing failed: stream, message, hint (a source
    whose paths matched no file)."""
    tables: dict[str, int] = Field(default_factory=dict)
    """Rows loaded per table, for a layout normalized into several tables."""
    rules: list[str] = Field(default_factory=list)
    """The value-changing rules the pipeline applies (a century for ``%y``, naive times
    read as UTC), as sentences."""
    delivery: HttpStatsRecord | None = None
    """Requests, retries and answers of an http destination (None for a warehouse)."""

    def stream(self, name: str) -> StreamReport:
        """The report of stream ``name`` (made the first time it is asked for)."""
        found = self.streams.get(name)
        if found is None:
            found = self.streams[name] = StreamReport(name=name)
        return found

    @computed_field  # type: ignore[prop-decorator]
    @property
    def totals(self) -> Totals:
        total = Totals(quarantined_files=self.quarantined_files)
        for s in self.streams.values():
            total.add(s.counts)
        return total

    @property
    def quarantined_files(self) -> int:
        return sum(len(s.quarantined_files) for s in self.streams.values())

    def fail(self, exc: SluiceError, stream: str | None = None) -> None:
        err = exc.as_dict()
        if stream:
            err["stream"] = stream
        self.errors.append(err)

    def check_accounting(self) -> None:
        for s in self.streams.values():
            c = s.counts
            if not c.balanced:
                raise AccountingError(
                    f"stream {s.name!r}: read {c.read} != loaded {c.loaded} + quarantined "
                    f"{c.quarantined} + filtered {c.filtered}",
                    hint="this is a bug in sluice: please report it with `sluice show RUN_ID`",
                )

    def decide_status(self) -> RunStatus:
        """The run's status from its errors and counts (and keep it)."""
        if any(e.get("cancelled") for e in self.errors):
            self.status = RunStatus.CANCELLED
        elif self.errors:
            self.status = RunStatus.FAILED
        elif self.totals.quarantined or self.quarantined_files:
            self.status = RunStatus.QUARANTINED
        else:
            self.status = RunStatus.SUCCEEDED
        return self.status

    def as_dict(self) -> dict[str, Any]:
        """The report's document. What `sluice run --json` prints, the state store keeps
        and alerts quote: every URL in it (the destination's, an API page's) with its
        secrets masked."""
        doc: dict[str, Any] = redact_data(self.model_dump(mode="json"))
        return doc

    @model_validator(mode="before")
    @classmethod
    def _name_streams(cls, data: Any) -> Any:
        """Each stream read back knows its name (its key in ``streams``)."""
        if isinstance(data, dict) and isinstance(data.get("streams"), dict):
            streams = {
                name: {**doc, "name": name} if isinstance(doc, dict) else doc
                for name, doc in data["streams"].items()
            }
            data = {**data, "streams": streams}
        return data

    # No return annotation: Pydantic then takes the document's JSON schema (the API's
    # response schema) from the fields, instead of from the annotation.
    @model_serializer(mode="wrap")
    def _document(self, handler: SerializerFunctionWrapHandler):  # type: ignore[no-untyped-def]
        out = handler(self)
        doc = {
            k: out[k]
            for k in ("run_id", "kind", "pipeline", "status", "table", "destination", "mode")
        }
        streams = out["streams"]
        if self.seconds > 0:  # a stream's wall time within the run's (parts run at once)
            for s in streams.values():
                s["elapsed"] = min(s["elapsed"], round(self.seconds, 3))
        doc.update(
            started_at=out["started_at"],
            seconds=round(out["seconds"], 3),
            totals=out["totals"],
            streams=streams,
            errors=out["errors"],
            warnings=out["warnings"],
        )
        if out["tables"]:
            doc["tables"] = out["tables"]
        if out["rules"]:
            doc["rules"] = out["rules"]
        if out["delivery"] is not None:
            doc["delivery"] = out["delivery"]
        # the fields a model built on the report adds (the API's ``finished_at``), last
        doc.update((k, v) for k, v in out.items() if k not in doc and k not in _OPTIONAL)
        return doc


_OPTIONAL = frozenset({"tables", "rules", "delivery"})  # in a document only when they say something


def report_of(run: Run) -> RunReport | None:
    """The report the state store keeps of ``run``, read back; None while it has none
    (a run still going)."""
    return RunReport.model_validate(run.report) if run.report else None


def final_report(run: Run) -> RunReport:
    """The report of ``run``, which has ended, as an executor hands it on (to the CLI, to
    its hooks): the one the state store keeps, with the run's status now (what ended it
    may have set it after the report was written: a cancel, a part that ended the run).
    A run that ended without one gets one that names it."""
    report = report_of(run) or RunReport(run_id=run.id, pipeline=run.pipeline)
    report.status = RunStatus(run.status)
    return report


class ReportHead(BaseModel):
    """What a list of runs shows of each report: the head of its document, read without
    its streams (about 2 µs, where a whole report takes 50 to 500 µs: read whole, a page
    of 500 runs would take up to a quarter of a second). A key the document lacks (the
    report of a run no part ever carried out has no totals) stays None. Its names are
    the document's (``tests/unit/engine/test_report_model.py`` holds them to the report's)."""

    kind: str | None = None
    seconds: float | None = None
    totals: Totals | None = None


def head_of(run: Run) -> ReportHead | None:
    """The head of the report the state store keeps of ``run``; None while it has none."""
    return ReportHead.model_validate(run.report) if run.report else None
