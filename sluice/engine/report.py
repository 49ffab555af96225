"""Run reports: per-stream counts, timings and errors, and the accounting identity."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from sluice.errors import AccountingError, SluiceError
from sluice.redact import redact_data, redact_text

SUCCEEDED = "succeeded"
QUARANTINED = "succeeded_with_quarantine"
FAILED = "failed"
CANCELLED = "cancelled"
SKIPPED_LISTED = 10  # skipped files a report names; `skipped` counts them all


def error_of(exc: BaseException) -> dict[str, Any]:
    """An error as a report records it; anything not a SluiceError is a bug of ours."""
    if isinstance(exc, SluiceError):
        return exc.as_dict()
    return {
        "type": type(exc).__name__,
        "message": redact_text(str(exc)),
        "hint": "this is a bug in sluice; please report it",
    }


@dataclass
class Counts:
    read: int = 0
    loaded: int = 0
    quarantined: int = 0
    filtered: int = 0
    filtered_by: dict[str, int] = field(default_factory=dict)

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


@dataclass
class StreamReport:
    name: str
    counts: Counts = field(default_factory=Counts)
    files: list[dict[str, Any]] = field(default_factory=list)
    quarantined_files: list[dict[str, Any]] = field(default_factory=list)
    skipped_files: list[dict[str, Any]] = field(default_factory=list)
    #: skipped files not in ``skipped_files`` (a report read back lists only some)
    skipped_more: int = 0
    http: dict[str, Any] | None = None  # requests, retries, statuses of an API pull
    #: drift loaded under `evolve`, per unit: file, missing / added / vanished, a note
    drift: list[dict[str, Any]] = field(default_factory=list)
    seconds: dict[str, float] = field(
        default_factory=lambda: {"extract": 0.0, "transform": 0.0, "load": 0.0}
    )

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self.counts)
        out.update(
            files=self.files,
            quarantined_files=self.quarantined_files,
            skipped=len(self.skipped_files) + self.skipped_more,
            skipped_files=listed_skips(self.skipped_files),
            seconds={k: round(v, 3) for k, v in self.seconds.items()},
        )
        if self.http is not None:
            out["http"] = self.http
        if self.drift:
            out["drift"] = self.drift
        return out


def listed_skips(skipped: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The skipped files a report lists: at most ``SKIPPED_LISTED``, those that need a
    look first (set aside, recovered) before the routine "already loaded" ones. (A drop
    folder keeps every file it ever had: listing them all made each report longer than
    the one before, and the state store grow with the square of the runs.)"""
    if len(skipped) <= SKIPPED_LISTED:
        return skipped
    routine = [s for s in skipped if str(s.get("reason", "")).startswith("already loaded")]
    rest = [s for s in skipped if not str(s.get("reason", "")).startswith("already loaded")]
    return (rest + routine)[:SKIPPED_LISTED]


@dataclass
class RunReport:
    run_id: str
    pipeline: str
    table: str
    destination: str
    mode: str
    status: str = "running"
    started_at: str = ""
    seconds: float = 0.0
    streams: dict[str, StreamReport] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    kind: str = "run"
    delivery: dict[str, Any] | None = None  # requests and retries of an http destination
    tables: dict[str, int] = field(default_factory=dict)  # rows per table (normalized loads)
    #: value-changing rules the pipeline applies (a century for %y, naive times as UTC)
    rules: list[str] = field(default_factory=list)
    #: what the user should know though nothing failed: stream, message, hint
    #: (a source whose paths matched no file)
    warnings: list[dict[str, Any]] = field(default_factory=list)

    def stream(self, name: str) -> StreamReport:
        return self.streams.setdefault(name, StreamReport(name))

    @property
    def totals(self) -> Counts:
        total = Counts()
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

    def settle(self) -> str:
        if any(e.get("type") == "RunCancelled" for e in self.errors):
            self.status = CANCELLED
        elif self.errors:
            self.status = FAILED
        elif self.totals.quarantined or self.quarantined_files:
            self.status = QUARANTINED
        else:
            self.status = SUCCEEDED
        return self.status

    def as_dict(self) -> dict[str, Any]:
        totals = asdict(self.totals)
        totals["quarantined_files"] = self.quarantined_files
        # What `sluice run --json` prints, the state store keeps and alerts quote: every
        # URL in it (the destination's, an API page's) with its secrets masked.
        return redact_data(
            {
                "run_id": self.run_id,
                "kind": self.kind,
                "pipeline": self.pipeline,
                "status": self.status,
                "table": self.table,
                "destination": self.destination,
                "mode": self.mode,
                "started_at": self.started_at,
                "seconds": round(self.seconds, 3),
                "totals": totals,
                "streams": {name: s.as_dict() for name, s in self.streams.items()},
                "errors": self.errors,
                "warnings": self.warnings,
                **({"tables": self.tables} if self.tables else {}),
                **({"rules": self.rules} if self.rules else {}),
                **({"delivery": self.delivery} if self.delivery is not None else {}),
            }
        )
