"""The one exception tree of sluice.

Every error says what went wrong, where (file, line, column, key) and how to fix it
(``hint``). The CLI turns them into a one-line message and an exit code; the engine
records them in the run report.

    SluiceError
    ├── ConfigError        bad sluice.yaml or bad usage            (exit 2)
    │   └── MissingExtra   an optional dependency is not installed: which extra to add
    ├── SourceError        a source cannot be read
    │   ├── DriftError     a file's columns no longer match its mapping
    │   └── FileGone       a file the run listed was deleted or moved before it was read
    ├── TransformError     a transform step cannot be compiled or applied
    ├── LoadError          the destination refused a load
    │   ├── RetryableLoadError  a dropped connection, a deadlock: retryable
    │   └── LimitExceeded  a limit of the database (columns per table): permanent
    ├── StateError         the state store cannot be opened or migrated
    │   └── StateStoreError    it failed under a command (a full disk, a lost connection)
    ├── AccountingError    read != loaded + quarantined + filtered
    └── RunCancelled       someone cancelled the run; its load rolled back: cancelled

Whether an error may go away on another attempt is a property of its type: the class
attribute ``retryable`` (True for :class:`RetryableLoadError`, False for anything else),
and ``cancelled`` says the run was stopped on purpose (:class:`RunCancelled`). Both are
recorded with the error in a run report (:meth:`SluiceError.as_dict`, an
:class:`ErrorRecord`), where the Celery executor reads ``retryable`` to try a part again
and a report reads ``cancelled`` to end its run ``cancelled`` rather than ``failed``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, NotRequired

# typing's TypedDict is not one Pydantic reads before Python 3.12
from typing_extensions import TypedDict

from sluice.redact import redact_data, redact_text


class WhereRecord(TypedDict, total=False):
    """A :class:`Where` as an error record keeps it: only the parts it has."""

    file: str
    line: int
    column: str
    key: str


class ErrorRecord(TypedDict):
    """An error as a run report records it (``errors`` of the report document, of
    ``sluice run --json`` and ``GET /api/runs/{id}``): what :meth:`SluiceError.as_dict`
    makes, the key the engine adds (``stream``: where it happened) and the one a run in
    parts adds (``part``). A dict, so that the document keeps its shape: keys without a
    value are left out, as they always were."""

    type: str  # the exception's class name
    message: str
    hint: NotRequired[str]
    where: NotRequired[WhereRecord]
    retryable: NotRequired[bool]  # absent from reports written before it was recorded
    cancelled: NotRequired[bool]
    stream: NotRequired[str]
    part: NotRequired[str]


@dataclass
class Where:
    """A location in the user's world: a file and optionally a line, column or key."""

    file: str | None = None
    line: int | None = None
    column: str | None = None
    key: str | None = None

    def __str__(self) -> str:
        parts = []
        if self.file:  # an API page's URL: its secrets masked
            parts.append(redact_text(self.file) + (f":{self.line}" if self.line else ""))
        elif self.line:
            parts.append(f"line {self.line}")
        if self.key:
            parts.append(f"key {self.key}")
        if self.column:
            parts.append(f"column {self.column!r}")
        return ", ".join(parts)

    def as_dict(self) -> WhereRecord:
        out: WhereRecord = {}
        if self.file is not None:
            out["file"] = redact_data(self.file)
        if self.line is not None:
            out["line"] = self.line
        if self.column is not None:
            out["column"] = redact_data(self.column)
        if self.key is not None:
            out["key"] = redact_data(self.key)
        return out


class SluiceError(Exception):
    """Base of every error sluice raises on purpose."""

    exit_code = 1
    #: the same operation may succeed if tried again (a dropped connection)
    retryable: ClassVar[bool] = False
    #: the run was stopped on purpose, not broken
    cancelled: ClassVar[bool] = False

    def __init__(
        self, message: str, *, hint: str | None = None, where: Where | None = None
    ) -> None:
        # Errors are printed, stored in run reports and quoted in alerts: a URL in one
        # (a database's, an API page's) shows with its secrets masked (sluice.redact).
        message = redact_text(message)
        super().__init__(message)
        self.message = message
        self.hint = redact_text(hint) if hint else hint
        self.where = where or Where()

    def __str__(self) -> str:
        loc = str(self.where)
        return f"{loc}: {self.message}" if loc else self.message

    def as_dict(self) -> ErrorRecord:
        out: ErrorRecord = {"type": type(self).__name__, "message": self.message}
        if self.hint:
            out["hint"] = redact_text(self.hint)
        where = self.where.as_dict()
        if where:
            out["where"] = where
        out["retryable"], out["cancelled"] = self.retryable, self.cancelled
        return out


class ConfigError(SluiceError):
    """A bad ``sluice.yaml`` or a bad command line: fix the file or the command (exit 2)."""

    exit_code = 2


@dataclass
class ConfigProblem:
    """One problem in a project file, with its location."""

    message: str
    where: Where = field(default_factory=Where)

    def __str__(self) -> str:
        loc = str(self.where)
        return f"{loc}: {self.message}" if loc else self.message


class ProjectInvalid(ConfigError):
    """A project file with one or more problems; ``problems`` lists every one."""

    def __init__(self, problems: list[ConfigProblem], *, hint: str | None = None) -> None:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(first.message + more, hint=hint, where=first.where)
        self.problems = problems


class MissingExtra(ConfigError):
    """A command or a database needs an optional dependency that is not installed; the
    message names the extra and the ``pip install 'sluice-etl[...]'`` that adds it
    (:func:`sluice.extras.require`)."""

    def __init__(self, message: str, *, extra: str = "", **kw: Any) -> None:
        super().__init__(message, **kw)
        self.extra = extra


class SourceError(SluiceError):
    """A source cannot be read: a file, a zip member or an API answer."""


class FetchError(SourceError):
    """A source could not be read at all (an API that keeps failing, a deadline passed).

    Unlike a bad file, this is not set aside: the run fails, nothing of the pull is
    loaded, and the next run starts it again.
    """

    def __init__(self, message: str, *, status: int | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.status = status


class DriftError(SourceError):
    """A file's columns no longer match its source's mapping."""

    def __init__(
        self,
        message: str,
        *,
        missing: list[str],
        unexpected: list[str],
        hint: str | None = None,
        where: Where | None = None,
    ) -> None:
        super().__init__(message, hint=hint, where=where)
        self.missing = missing
        self.unexpected = unexpected


class FileGone(SourceError):
    """A file the run listed was deleted or moved before it was read: an error of the
    run for that file alone; the run's other files still load."""


class TransformError(SluiceError):
    """A transform step cannot be compiled or applied to a batch."""


class LoadError(SluiceError):
    """The destination refused a load; nothing of that load was committed."""


class RetryableLoadError(LoadError):
    """A load that failed for a passing reason (a dropped connection, a deadlock)."""

    retryable = True


class LimitExceeded(LoadError):
    """The warehouse refused for a limit of its own (columns per table, row size):
    permanent, unlike a dropped connection (:class:`RetryableLoadError`)."""


@dataclass(frozen=True)
class Retyped:
    """A column whose declared type is not the one its table was made with."""

    column: str
    shown: str  # the type as the database shows it
    made_for: str  # the declared type the column was made for
    declared: str  # the declared type in sluice.yaml now


class TableMismatch(ConfigError):
    """A table already in the warehouse made otherwise than ``sluice.yaml`` declares
    now, so that loading would change what is in it; nothing is loaded. Exit code 2.
    The hint gives the ways out, with ``statements``, the SQL that changes the table
    (none where the database cannot)."""

    def __init__(self, message: str, table: str, statements: list[str], **kw: Any) -> None:
        self.table, self.statements = table, statements
        super().__init__(message, **kw)
        self.hint = redact_text(self.ways("<pipeline>"))

    def _back(self) -> str:
        """What to declare to match the table as it is."""
        raise NotImplementedError

    def _changes(self) -> str:
        """What the statements do to the table."""
        raise NotImplementedError

    def ways(self, pipeline: str) -> str:
        """The ways out, the pipeline named in the command that reloads."""
        ways = [
            self._back(),
            "load a new table: give table.name a new name in sluice.yaml, then "
            f"`sluice run {pipeline} --full-refresh`",
        ]
        if self.statements:  # last: everything after "SQL:" is to paste
            ways.append(
                f"{self._changes()}, then run again; the SQL: " + "; ".join(self.statements)
            )
        return "; or ".join(ways)

    def name_pipeline(self, pipeline: str) -> None:
        """Name ``pipeline`` in the hint's command (the database does not know it)."""
        self.hint = redact_text(self.ways(pipeline))


class TypesChanged(TableMismatch):
    """Columns made for other declared types than ``sluice.yaml`` declares now: the
    database would convert every value on the way in (``00123`` into a BIGINT is
    ``123``)."""

    def __init__(self, table: str, changes: list[Retyped], statements: list[str]) -> None:
        self.changes = changes
        said = "; ".join(
            f"{c.column!r} is {c.shown} there (made for {c.made_for}), declared {c.declared}"
            for c in changes
        )
        super().__init__(
            f"table {table!r} was made with other column types than sluice.yaml declares: "
            f"{said}. Loading would convert the values, so nothing was loaded",
            table,
            statements,
            where=Where(column=changes[0].column if len(changes) == 1 else None),
        )

    def _back(self) -> str:
        back = ", ".join(f"{c.column}: {c.made_for}" for c in self.changes)
        return f"declare the column type(s) the table has in sluice.yaml ({back})"

    def _changes(self) -> str:
        return "change the table to the declared types, its rows converted once by the database"


class KeysChanged(TableMismatch):
    """A table merged on other keys than ``sluice.yaml`` names now: a unique key of the
    table (its primary key, made for the old keys) that the new keys do not include.
    Rows new by the new keys would collide on it: PostgreSQL fails the load, MySQL's
    upsert updates the row the old key finds (another row's values, silently)."""

    def __init__(
        self, table: str, unique: list[str], what: str, keys: list[str], statements: list[str]
    ) -> None:
        self.unique, self.keys = unique, keys
        super().__init__(
            f"table {table!r} has {what} on [{', '.join(unique)}], which the merge keys "
            f"sluice.yaml names now, [{', '.join(keys)}], do not include: a row new by "
            f"those keys could match another row by [{', '.join(unique)}] and be merged "
            "into it, so nothing was loaded",
            table,
            statements,
        )

    def _back(self) -> str:
        return f"merge on the keys the table has: keys: [{', '.join(self.unique)}]"

    def _changes(self) -> str:
        return "drop the old key (sluice makes one on the new keys at the next run)"


class StateError(SluiceError):
    """The state store cannot be opened or migrated."""


class StateStoreError(StateError):
    """The state store's database failed: a full disk, a read-only file, a connection
    lost. Said as the state store's failure, never as the warehouse's. ``reason`` is the
    database's own words (one line); ``dropped``: the connection was lost before a
    commit, so the same call may simply be made again."""

    def __init__(self, message: str, *, reason: str = "", dropped: bool = False, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.reason = reason or message
        self.dropped = dropped


class AccountingError(SluiceError):
    """A run's books do not balance: rows read != loaded + quarantined + filtered."""


class RunCancelled(SluiceError):
    """The run was cancelled (``POST /api/runs/{id}/cancel``); the load in progress rolled back."""

    cancelled = True


class UsageError(ConfigError):
    """The command line asked for something that does not exist or does not fit."""


class NotFound(UsageError):
    """A named thing (pipeline, run, table, quarantine entry) does not exist (HTTP 404)."""


class RunConflict(UsageError):
    """The request does not fit the state of a run (HTTP 409): a trigger while the
    pipeline runs under ``if_running: reject``, a cancel of a run already finished."""
