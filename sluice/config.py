"""``sluice.yaml`` -> Pydantic models.

Nothing here runs at import time: :func:`load_project` reads a file, substitutes
``${VAR}`` / ``${VAR:-default}`` from the environment, validates, and reports every
problem with the file, line and key it comes from.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from sluice import cron
from sluice.config_layout import ChildTable, PiiPolicy
from sluice.dateformat import EPOCH_FORMATS, check_formats, compile_format, known_zone
from sluice.durations import parse_duration
from sluice.errors import ConfigError, ConfigProblem, ProjectInvalid, Where
from sluice.schema import IDENTIFIER, ColumnType

PROJECT_FILE = "sluice.yaml"
DEFAULT_WAREHOUSE = "sqlite:///warehouse.db"
DEFAULT_STATE = "sqlite:///.sluice/state.db"


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


def _identifier(value: str) -> str:
    if not IDENTIFIER.match(value):
        raise ValueError(
            f"{value!r} is not a valid name: use letters, digits and underscores, "
            "starting with a letter (at most 63 characters)"
        )
    return value


def _kind(default: str) -> Callable[[Any], str]:
    """The discriminator of a union of models tagged by ``type`` (``default`` if absent)."""

    def kind(v: Any) -> str:
        if isinstance(v, dict):
            return str(v.get("type", default))
        return str(getattr(v, "type", default))

    return kind


def _http_url(value: str, key: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"{key} must start with http:// or https://, got {value!r}")
    return value


#: an origin: scheme, host and optional port, nothing after (no path, query or user)
_ORIGIN = re.compile(r"^https?://[^/?#@\s]+$", re.IGNORECASE)
TRUSTED_ORIGINS = (
    "other origins (https://files.example.com, http://host:8080) that also receive the "
    "source's auth and headers; any other origin (a next link, a redirect) gets none"
)


def _trusted_origins(value: list[str]) -> list[str]:
    for origin in value:
        if not _ORIGIN.match(origin.rstrip("/")):
            raise ValueError(
                f"trusted_origins: {origin!r} is not an origin (scheme://host[:port], "
                "e.g. https://files.example.com)"
            )
    return [o.rstrip("/") for o in value]


# --------------------------------------------------------------------------- tables


class DateReading(Model):
    """How text becomes a date or datetime: Python strptime formats and the gap rules."""

    formats: list[str] | None = Field(
        default=None,
        description=(
            "Python strptime formats tried in order for date/datetime columns (%Y is four "
            "digits, %y two, %f a fraction); epoch_s, epoch_ms, epoch_us for numbers since 1970"
        ),
    )
    century_pivot: int | None = Field(
        default=None,
        ge=1,
        le=9900,
        description="%y: two-digit years land in pivot..pivot+99 (1950: 50 -> 1950, 49 -> 2049)",
    )
    century_from: str | None = Field(
        default=None,
        description=(
            "%y: the year ending in those digits nearest the four-digit year that starts "
            "this column of the same row (a YEAR or YYYYMM column)"
        ),
    )
    timezone: str | None = Field(
        default=None,
        description="IANA zone of times written without an offset (default UTC)",
    )

    @field_validator("formats")
    @classmethod
    def _formats_read(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and not v:
            raise ValueError("formats is empty: list at least one, or leave it out")
        return check_formats(v)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str | None) -> str | None:
        return None if v is None else known_zone(v)

    @model_validator(mode="after")
    def _century_rule(self) -> DateReading:
        if self.century_pivot is not None and self.century_from is not None:
            raise ValueError("set century_pivot or century_from, not both")
        if self.century_pivot is not None or self.century_from is not None:
            two_digit = [
                f
                for f in self.formats or []
                if f not in EPOCH_FORMATS and compile_format(f).two_digit_year
            ]
            if not two_digit:
                raise ValueError(
                    "century_pivot / century_from apply to two-digit years: no format here uses %y"
                )
        return self


class ColumnConfig(DateReading):
    type: ColumnType = "string"
    required: bool = False
    unique: bool = False
    regex: str | None = None
    min: int | float | str | None = None
    max: int | float | str | None = None
    accepted: list[str | int | float] | None = None
    separator: str = Field(default=",", description="list columns: what separates the items")
    pii: PiiPolicy | None = Field(
        default=None, description="drop, hash (sha256 with pii_salt), mask, restricted"
    )
    keep: int = Field(default=4, ge=0, description="pii: mask keeps this many last characters")
    synonyms: list[str] = Field(default_factory=list, description="other header names")
    description: str = ""

    @field_validator("regex")
    @classmethod
    def _regex_compiles(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"regex {v!r} does not compile: {exc}") from None
        return v


class TableConfig(Model):
    name: str
    columns: dict[str, ColumnConfig]
    keys: list[str] = Field(default_factory=list, description="key columns (merge, unique)")

    @field_validator("name")
    @classmethod
    def _check_name(cls, v: str) -> str:
        return _identifier(v)

    @field_validator("columns", mode="before")
    @classmethod
    def _short_form(cls, v: Any) -> Any:
        # `phone: string` is shorthand for `phone: {type: string}`.
        if isinstance(v, dict):
            return {k: ({"type": c} if isinstance(c, str) else c) for k, c in v.items()}
        return v

    @field_validator("columns")
    @classmethod
    def _column_names(cls, v: dict[str, ColumnConfig]) -> dict[str, ColumnConfig]:
        for name in v:
            _identifier(name)
            if name.startswith("_"):
                raise ValueError(f"column {name!r}: names starting with '_' are reserved")
        if not v:
            raise ValueError("a table needs at least one column")
        return v

    @model_validator(mode="after")
    def _keys_exist(self) -> TableConfig:
        for k in self.keys:
            if k not in self.columns:
                raise ValueError(f"key {k!r} is not a column of table {self.name!r}")
        for name, col in self.columns.items():
            if col.century_from is not None and col.century_from not in self.columns:
                raise ValueError(
                    f"column {name!r}: century_from {col.century_from!r} is not a column "
                    f"of table {self.name!r}"
                )
        return self


# --------------------------------------------------------------------------- sources


class CsvOptions(Model):
    delimiter: str = ","
    quote: str = '"'
    encoding: str = "utf-8"
    header: bool = True
    skip_rows: int = Field(default=0, ge=0, description="lines to skip before the header")
    null_values: list[str] = Field(default_factory=lambda: [""])
    max_row_bytes: int = Field(
        default=64 * 1024**2,
        ge=4096,
        le=1024**3,
        description="the longest row (all its fields) read; a longer one sets the file aside",
    )

    @field_validator("delimiter", "quote")
    @classmethod
    def _one_char(cls, v: str) -> str:
        if len(v) != 1:
            raise ValueError(f"must be exactly one character, got {v!r}")
        return v

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, v: str) -> str:
        import codecs

        try:
            codecs.lookup(v)
        except LookupError:
            raise ValueError(f"unknown encoding {v!r} (try utf-8 or latin-1)") from None
        return v


class MappedSource(Model):
    """What every source shares: how its fields map onto the table, and drift policy."""

    columns: dict[str, str | None] = Field(
        default_factory=dict,
        description="per-source override: target column -> header (null: this source lacks it)",
    )
    synonyms: dict[str, list[str]] = Field(default_factory=dict)
    ignore: list[str] = Field(
        default_factory=list,
        description="headers or fields not loaded on purpose; globs allowed (login_*)",
    )
    drift: Literal["quarantine", "evolve", "fail"] = "quarantine"
    batch_bytes: int = Field(default=4 * 1024**2, ge=4096)


class HttpAuth(Model):
    """Credentials come from the environment: write ``token: ${API_TOKEN}``."""

    type: Literal["bearer", "api_key", "basic"]
    token: str | None = Field(default=None, description="bearer: the token")
    name: str = Field(default="X-API-Key", description="api_key: header or query name")
    value: str | None = Field(default=None, description="api_key: the key")
    location: Literal["header", "query"] = Field(default="header", alias="in")
    username: str | None = None
    password: str | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _complete(self) -> HttpAuth:
        need = {"bearer": ["token"], "api_key": ["value"], "basic": ["username", "password"]}
        lacking = [f for f in need[self.type] if not getattr(self, f)]
        if lacking:
            raise ValueError(
                f"auth type {self.type!r} needs {', '.join(lacking)} "
                "(set it from the environment, e.g. token: ${API_TOKEN})"
            )
        return self


class Retry(Model):
    max_attempts: int = Field(default=8, ge=1)
    backoff: float = Field(default=0.5, gt=0, description="seconds before the first retry")
    max_backoff: float = Field(default=30.0, gt=0)


class FileSourceConfig(MappedSource):
    type: Literal["file"] = "file"
    path: str | list[str] | None = Field(
        default=None, description="path or glob, relative to the project"
    )
    url: str | None = Field(
        default=None, description="download the file (csv, jsonl, parquet, zip) from here"
    )
    max_download_bytes: int = Field(default=1024**3, gt=0, description="refuse larger downloads")
    headers: dict[str, str] = Field(default_factory=dict, description="sent with the download")
    auth: HttpAuth | None = None
    trusted_origins: list[str] = Field(default_factory=list, description=TRUSTED_ORIGINS)
    timeout: float = Field(default=60.0, gt=0, description="download: seconds without data")
    retry: Retry = Field(default_factory=Retry)
    format: Literal["csv", "jsonl", "parquet"] | None = Field(
        default=None, description="default: from the file extension"
    )
    members: str = Field(default="*", description="glob of zip members to read")
    min_files: int = Field(
        default=0,
        ge=0,
        description="fail the run when path matches fewer files (zip members count one "
        "each); with 0, matching none is a warning",
    )
    flatten: bool = Field(
        default=False, description="jsonl: nested objects -> parent_child columns"
    )
    csv: CsvOptions = Field(default_factory=CsvOptions)
    max_unzipped_bytes: int = Field(default=2 * 1024**3, gt=0)

    @model_validator(mode="after")
    def _path_or_url(self) -> FileSourceConfig:
        if (self.path is None) == (self.url is None):
            raise ValueError("a file source needs exactly one of path (local files) or url")
        if self.url is not None:
            _http_url(self.url, "url")
        self.trusted_origins = _trusted_origins(self.trusted_origins)
        return self

    @property
    def paths(self) -> list[str]:
        if self.path is None:
            return []
        return [self.path] if isinstance(self.path, str) else list(self.path)


class Paginate(Model):
    """How to walk the pages of a list endpoint."""

    style: Literal["none", "page", "offset", "cursor", "next_url", "link_header"] = "none"
    page_param: str = "page"
    start_page: int = 1
    total_pages: str | None = Field(
        default=None, description="page: path of the total page count in the body"
    )
    offset_param: str = "offset"
    limit_param: str = "limit"
    page_size: int | None = Field(
        default=None, gt=0, description="offset: the limit sent; page: the size of a full page"
    )
    total: str | None = Field(default=None, description="offset: path of the record total")
    cursor_path: str | None = Field(default=None, description="cursor: path of the next cursor")
    cursor_param: str = "cursor"
    next_url_path: str | None = Field(default=None, description="next_url: path of the next URL")
    max_pages: int | None = Field(default=None, gt=0, description="stop after this many pages")

    @model_validator(mode="after")
    def _complete(self) -> Paginate:
        if self.style == "cursor" and not self.cursor_path:
            raise ValueError("pagination style 'cursor' needs cursor_path (e.g. meta.next)")
        if self.style == "next_url" and not self.next_url_path:
            raise ValueError("pagination style 'next_url' needs next_url_path (e.g. next)")
        if self.style == "offset" and not self.page_size:
            raise ValueError("pagination style 'offset' needs page_size (the limit sent)")
        return self


class FanOut(Model):
    """For each record of the list, GET a detail endpoint (``/animals/{id}``)."""

    endpoint: str = Field(description="path with {field} placeholders from the list record")
    merge: bool = Field(default=True, description="true: detail fields over the list record")
    records: str = Field(default="", description="path of the record in the detail body")


class Incremental(Model):
    """Pull only what changed: the highest ``cursor_field`` loaded is sent next time."""

    cursor_field: str = Field(description="record field that grows, e.g. updated_at")
    param: str = Field(description="query parameter that takes the saved value")
    initial: str | None = Field(default=None, description="value sent on the first run")


class HttpSourceConfig(MappedSource):
    type: Literal["http"]
    base_url: str = Field(description="e.g. ${API_URL:-http://127.0.0.1:8001}")
    endpoint: str = Field(default="", description="path under base_url")
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)
    auth: HttpAuth | None = None
    trusted_origins: list[str] = Field(default_factory=list, description=TRUSTED_ORIGINS)
    records: str = Field(
        default="", description="path of the record list in the body (a.b); empty: the body"
    )
    paginate: Paginate = Field(default_factory=Paginate)
    fan_out: FanOut | None = None
    incremental: Incremental | None = None
    flatten: bool = Field(default=True, description="nested objects -> parent_child columns")
    concurrency: int = Field(default=4, ge=1, description="requests in flight at the start")
    max_concurrency: int = Field(default=32, ge=1, description="ceiling of adaptive concurrency")
    rate_limit: float | None = Field(default=None, gt=0, description="requests per second")
    timeout: float = Field(default=30.0, gt=0, description="seconds per request")
    deadline: float | None = Field(default=None, gt=0, description="seconds for the whole pull")
    retry: Retry = Field(default_factory=Retry)
    max_records: int | None = Field(default=None, gt=0, description="stop after this many")

    _page_range: tuple[int, int] | None = PrivateAttr(default=None)

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        return _http_url(v, "base_url").rstrip("/")

    @field_validator("trusted_origins")
    @classmethod
    def _trusted(cls, v: list[str]) -> list[str]:
        return _trusted_origins(v)

    @property
    def page_range(self) -> tuple[int, int] | None:
        """The 0-based pages [first, end) a pull is limited to (one part of a Celery run)."""
        return self._page_range

    def limited_to(self, first: int, end: int) -> HttpSourceConfig:
        """This source, pulling only pages ``first`` to ``end - 1`` (0-based)."""
        copy = self.model_copy()
        copy._page_range = (first, end)
        return copy


SourceConfig = Annotated[
    Annotated[FileSourceConfig, Tag("file")] | Annotated[HttpSourceConfig, Tag("http")],
    Discriminator(
        _kind("file"),
        custom_error_type="unknown_source",
        custom_error_message="a source's type is file or http",
    ),
]


# --------------------------------------------------------------------------- transforms


class TrimStep(Model):
    trim: Literal["all"] | list[str]


class CaseStep(Model):
    class Args(Model):
        columns: list[str]
        to: Literal["upper", "lower", "title"]

    case: Args


class CastStep(Model):
    class Args(DateReading):
        column: str
        to: ColumnType

    cast: Args


class DeriveStep(Model):
    class Args(Model):
        column: str
        sql: str = Field(description="a SQL expression over the row, e.g. upper(city)")

    derive: Args


class FilterStep(Model):
    class Args(Model):
        keep: str = Field(description="SQL condition; rows where it is not true are filtered")
        name: str | None = Field(default=None, description="rule name in the run report")

    filter: Args


class DedupeStep(Model):
    class Args(Model):
        keys: list[str]
        keep: Literal["first", "last"] = "first"

    dedupe: Args


class AmountStep(Model):
    class Args(Model):
        columns: list[str] = Field(description="text like 10.00K, 2.5M, 1B -> decimal")

    amount: Args


class UtcStep(Model):
    class Args(Model):
        column: str = Field(description="a local time, replaced by the same instant in UTC")
        offset_from: str = Field(description="the column with the UTC offset: CST-6, +05:30")
        formats: list[str] | None = Field(
            default=None, description="Python strptime formats of the local time, without a zone"
        )
        century_pivot: int | None = Field(default=None, ge=1, le=9900, description="as a column's")
        century_from: str | None = Field(default=None, description="as a column's")

        @field_validator("formats")
        @classmethod
        def _no_zone(cls, v: list[str] | None) -> list[str] | None:
            for fmt in v or []:
                if fmt in EPOCH_FORMATS or compile_format(fmt).zoned:
                    raise ValueError(f"format {fmt!r} has a zone: utc reads local times")
            return v

        @model_validator(mode="after")
        def _century_rule(self) -> UtcStep.Args:
            DateReading(
                formats=self.formats,
                century_pivot=self.century_pivot,
                century_from=self.century_from,
            )
            return self

    utc: Args


def _step_kind(v: Any) -> str | None:
    if isinstance(v, dict) and len(v) == 1:
        return str(next(iter(v)))
    if isinstance(v, BaseModel):
        return next(iter(type(v).model_fields))
    return None


Step = Annotated[
    Annotated[TrimStep, Tag("trim")]
    | Annotated[CaseStep, Tag("case")]
    | Annotated[CastStep, Tag("cast")]
    | Annotated[DeriveStep, Tag("derive")]
    | Annotated[FilterStep, Tag("filter")]
    | Annotated[DedupeStep, Tag("dedupe")]
    | Annotated[AmountStep, Tag("amount")]
    | Annotated[UtcStep, Tag("utc")],
    Discriminator(
        _step_kind,
        custom_error_type="unknown_step",
        custom_error_message=(
            "a step is a mapping with one key: "
            "amount, utc, trim, case, cast, derive, filter or dedupe"
        ),
    ),
]


# --------------------------------------------------------------------------- pipelines


class DestinationConfig(Model):
    type: Literal["sql"] = "sql"
    url: str | None = Field(default=None, description="default: the project's warehouse")
    mode: Literal["append", "replace", "merge", "snapshot"] = "append"


class HttpDestinationConfig(Model):
    """POST the rows as JSON arrays; a delivery ledger makes every key arrive once."""

    type: Literal["http"]
    url: str = Field(description="the endpoint that takes a JSON array of records")
    key: str | None = Field(default=None, description="the record key (default: table.keys)")
    batch_size: int = Field(default=100, ge=1, description="records per POST")
    headers: dict[str, str] = Field(default_factory=dict)
    auth: HttpAuth | None = None
    concurrency: int = Field(default=2, ge=1, description="POSTs in flight at the start")
    max_concurrency: int = Field(default=8, ge=1)
    rate_limit: float | None = Field(default=None, gt=0, description="requests per second")
    timeout: float = Field(
        default=60.0, gt=0, description="seconds per POST: longer than the API's slowest answer"
    )
    deadline: float | None = Field(default=None, gt=0)
    retry: Retry = Field(default_factory=Retry)
    mode: Literal["append"] = "append"

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return _http_url(v, "url")

    @property
    def base_url(self) -> str:
        return self.url


AnyDestination = Annotated[
    Annotated[DestinationConfig, Tag("sql")] | Annotated[HttpDestinationConfig, Tag("http")],
    Discriminator(
        _kind("sql"),
        custom_error_type="unknown_destination",
        custom_error_message="a destination's type is sql (the default: a warehouse) or http",
    ),
]


class PipelineConfig(Model):
    description: str = ""
    sources: dict[str, SourceConfig]
    synonyms: dict[str, list[str]] = Field(
        default_factory=dict, description="target column -> header names, for every source"
    )
    transforms: list[Step] = Field(default_factory=list)
    table: TableConfig
    destination: AnyDestination = Field(default_factory=DestinationConfig)
    skip_blank_rows: bool = Field(
        default=True, description="rows with every field empty are counted as filtered"
    )
    tables: dict[str, ChildTable] = Field(
        default_factory=dict, description="normalize: related tables the record splits into"
    )
    restricted_table: str | None = Field(
        default=None, description="where pii: restricted columns go (default <table>_restricted)"
    )
    schedule: str | None = Field(
        default=None, description="sluice serve: a cron expression (UTC), e.g. '0 * * * *'"
    )
    watch: str | None = Field(
        default=None, description="sluice serve: a folder; a new or changed file starts a run"
    )
    if_running: Literal["reject", "queue"] = Field(
        default="reject",
        description="a trigger while a run of this pipeline is going: reject (409) or queue",
    )

    @field_validator("schedule")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        return None if v is None else cron.check(v)

    @model_validator(mode="after")
    def _cross_references(self) -> PipelineConfig:
        cols = self.table.columns
        for sname, src in self.sources.items():
            _identifier(sname)
            for target in list(src.columns) + list(src.synonyms):
                if target not in cols:
                    raise ValueError(
                        f"source {sname!r} maps {target!r}, which is not a column of "
                        f"table {self.table.name!r}"
                    )
        for target in self.synonyms:
            if target not in cols:
                raise ValueError(f"synonyms name {target!r}, which is not a column")
        if self.destination.mode == "merge" and not self.table.keys:
            raise ValueError("mode 'merge' needs table.keys (the columns to upsert on)")
        self._check_layout()
        if isinstance(self.destination, HttpDestinationConfig):
            key = self.delivery_key
            if key is None:
                raise ValueError(
                    "an http destination needs a record key for its delivery ledger: "
                    "set destination.key or table.keys"
                )
            if key not in cols:
                raise ValueError(f"destination.key {key!r} is not a column of the table")
        return self

    def _check_layout(self) -> None:
        """Normalized tables and PII policies refer to real columns and fit together."""
        cols = self.table.columns
        hidden = {n: c.pii for n, c in cols.items() if c.pii}
        if not self.tables and not hidden:
            return
        if isinstance(self.destination, HttpDestinationConfig):
            if self.tables or "restricted" in hidden.values():
                raise ValueError("tables and pii: restricted need a SQL destination")
        elif self.destination.mode == "snapshot" and (
            self.tables or "restricted" in hidden.values()
        ):
            raise ValueError("tables (and pii: restricted) work with append, replace and merge")
        names = {self.table.name}
        for tname, t in self.tables.items():
            _identifier(tname)
            if tname in names:
                raise ValueError(f"table {tname!r} is declared twice")
            names.add(tname)
            used = [t.list_of] if t.list_of else [c.source for c in t.columns.values()]
            for name in t.columns:
                _identifier(name)
            for src in used:
                if src not in cols:
                    raise ValueError(
                        f"tables.{tname} takes {src!r}, which is not a column of table "
                        f"{self.table.name!r}"
                    )
                if hidden.get(src) == "drop":
                    raise ValueError(f"tables.{tname} takes {src!r}, which has pii: drop")
                if hidden.get(src) == "restricted" and not t.restricted:
                    raise ValueError(
                        f"tables.{tname} takes {src!r} (pii: restricted): mark the table "
                        "restricted: true, or leave the column to restricted_table"
                    )
        for name, policy in hidden.items():
            spec = cols[name]
            if policy in ("hash", "mask") and spec.type != "string":
                raise ValueError(f"column {name!r}: pii: {policy} needs type string")
            if policy in ("drop", "hash", "mask") and (
                spec.regex or spec.accepted or spec.min is not None or spec.max is not None
            ):
                raise ValueError(
                    f"column {name!r}: rules check the value after pii: {policy}; "
                    "drop regex, accepted, min and max from it"
                )
            if policy == "drop" and name in self.table.keys:
                raise ValueError(f"key column {name!r} cannot have pii: drop")
        if self.restricted_table is not None:
            _identifier(self.restricted_table)
            if self.restricted_table in names:
                raise ValueError(f"restricted_table {self.restricted_table!r} is taken")

    @property
    def delivery_key(self) -> str | None:
        """The column that keys an http destination's delivery ledger."""
        key = getattr(self.destination, "key", None)
        return key or (self.table.keys[0] if self.table.keys else None)


class AlertsConfig(Model):
    """Where ``sluice serve`` reports failed runs and runs with too much quarantine."""

    webhook: str | None = Field(
        default=None,
        description="a Slack-compatible incoming webhook URL: ${SLUICE_ALERT_WEBHOOK}",
    )
    quarantine_threshold: float = Field(
        default=0.05, ge=0, description="alert when more than this share of rows is quarantined"
    )
    base_url: str = Field(
        default="http://127.0.0.1:8000", description="the service's address, for run links"
    )


class Project(Model):
    name: str = "sluice-project"
    warehouse: str = DEFAULT_WAREHOUSE
    state: str = DEFAULT_STATE
    synonyms: dict[str, list[str]] = Field(
        default_factory=dict, description="target column -> header names, for every pipeline"
    )
    pipelines: dict[str, PipelineConfig] = Field(default_factory=dict)
    pii_salt: str | None = Field(
        default=None, description="salt of pii: hash, from the environment: ${SLUICE_PII_SALT}"
    )
    alerts: AlertsConfig = Field(default_factory=lambda: AlertsConfig())
    executor: Literal["local", "celery"] = Field(
        default="local",
        description="where runs go: in this process (local) or to `sluice worker`s (celery)",
    )
    retention: str | None = Field(
        default=None,
        description="sluice serve: prune what is older than this once a day (e.g. 30d): "
        "ended runs and their logs, closed quarantine entries and their dead-letter copies",
    )

    @field_validator("retention")
    @classmethod
    def _retention(cls, v: str | None) -> str | None:
        if v is not None:
            parse_duration(v)
        return v

    _root: Path = PrivateAttr(default=Path("."))
    _file: Path | None = PrivateAttr(default=None)
    _lines: dict[tuple[Any, ...], int] = PrivateAttr(default_factory=dict)
    #: dotted key -> the environment variables whose values it took (``${VAR}``)
    _env: dict[str, list[str]] = PrivateAttr(default_factory=dict)

    def line_of(self, key: str) -> int | None:
        """The line of a dotted key (``pipelines.leads.transforms.2``) in the file."""
        path = tuple(int(p) if p.isdigit() else p for p in key.split("."))
        while path and path not in self._lines:
            path = path[:-1]
        return self._lines.get(path)

    @property
    def root(self) -> Path:
        return self._root

    @property
    def file(self) -> Path | None:
        return self._file

    def pipeline(self, name: str) -> PipelineConfig:
        try:
            return self.pipelines[name]
        except KeyError:
            known = ", ".join(sorted(self.pipelines)) or "none"
            raise ConfigError(
                f"no pipeline named {name!r}",
                hint=f"pipelines in this project: {known}",
                where=Where(file=str(self._file) if self._file else None),
            ) from None

    def warehouse_url(self, pipeline: PipelineConfig | None = None) -> str:
        own = pipeline.destination.url if pipeline else None
        if pipeline is not None and isinstance(pipeline.destination, HttpDestinationConfig):
            own = None  # an http destination has no warehouse: the URL is the endpoint
        url = own or os.environ.get("SLUICE_WAREHOUSE_URL")
        return self.resolve_url(url or self.warehouse)

    def url_origin(self, pipeline: PipelineConfig | None = None) -> tuple[str | None, Where]:
        """Where :meth:`warehouse_url` took its value, for messages: the environment
        variable that set it (None: written in the file), and its key in the file."""
        key = "warehouse"
        for name, pipe in self.pipelines.items():
            dest = pipe.destination
            if pipe is pipeline and isinstance(dest, DestinationConfig) and dest.url:
                key = f"pipelines.{name}.destination.url"
        return self._origin(key, "SLUICE_WAREHOUSE_URL" if key == "warehouse" else None)

    def _origin(self, key: str, variable: str | None) -> tuple[str | None, Where]:
        used = self._env.get(key)
        direct = variable and os.environ.get(variable)
        if direct and variable not in (used or []):  # the variable wins over the key
            return variable, Where()
        file = str(self._file) if self._file else None
        return (used[-1] if used else None), Where(file=file, line=self.line_of(key), key=key)

    def checked_warehouse_url(self, pipeline: PipelineConfig | None = None) -> str:
        """:meth:`warehouse_url`, or a :class:`ConfigError` naming where a URL that is
        not a database URL came from (its password masked)."""
        return _checked(self.warehouse_url(pipeline), *self.url_origin(pipeline))

    def state_url(self) -> str:
        """The state store's URL; a malformed one is a :class:`ConfigError` naming where
        it came from (SLUICE_STATE_URL or `state:`), checked before anything opens it."""
        url = self.resolve_url(os.environ.get("SLUICE_STATE_URL") or self.state)
        return _checked(url, *self._origin("state", "SLUICE_STATE_URL"))

    def resolve_url(self, url: str) -> str:
        """SQLite paths in URLs are relative to the project folder, not the cwd."""
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            return prefix + str((self._root / url[len(prefix) :]).resolve())
        return url


# --------------------------------------------------------------------------- loading

_VAR = re.compile(r"\$(\$)?\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def interpolate(text: str, where: Where | None = None, used: list[str] | None = None) -> str:
    """Substitute ``${VAR}`` and ``${VAR:-default}``; ``$${VAR}`` is a literal.
    ``used`` gets the names of the variables whose values were taken."""

    def sub(m: re.Match[str]) -> str:
        if m.group(1):
            return m.group(0)[1:]
        name, default = m.group(2), m.group(3)
        value = os.environ.get(name)
        if value is None or (value == "" and default is not None):
            if default is None:
                raise ConfigError(
                    f"environment variable {name} is not set",
                    hint=f"export {name}=... or write ${{{name}:-default}}",
                    where=where,
                )
            return default
        if used is not None:
            used.append(name)
        return value

    return _VAR.sub(sub, text)


def _line_map(node: yaml.Node, path: tuple[Any, ...], out: dict[tuple[Any, ...], int]) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = k.value
            out[(*path, key)] = k.start_mark.line + 1
            _line_map(v, (*path, key), out)
            out[(*path, key)] = k.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _line_map(v, (*path, i), out)


def _interpolate_tree(
    data: Any,
    lines: dict[tuple[Any, ...], int],
    file: str,
    path: tuple[Any, ...] = (),
    env: dict[str, list[str]] | None = None,
) -> Any:
    """``env`` (dotted key -> variables) gets the variables each value took."""
    env = {} if env is None else env
    if isinstance(data, dict):
        return {k: _interpolate_tree(v, lines, file, (*path, k), env) for k, v in data.items()}
    if isinstance(data, list):
        return [_interpolate_tree(v, lines, file, (*path, i), env) for i, v in enumerate(data)]
    if isinstance(data, str) and "${" in data:
        key = ".".join(str(p) for p in path)
        used: list[str] = []
        value = interpolate(data, Where(file=file, line=lines.get(path), key=key), used)
        if used:
            env[key] = used
        return value
    return data


def _problem(err: dict[str, Any], lines: dict[tuple[Any, ...], int], file: str) -> ConfigProblem:
    loc = tuple(err["loc"])
    # Walk the location as far as the file has it: Pydantic adds union tags that are
    # not keys of the file, and a missing key has no line of its own.
    path: tuple[Any, ...] = ()
    line = None
    for part in loc:
        if (*path, part) in lines:
            path = (*path, part)
            line = lines[path]
    key = ".".join(str(p) for p in path) or None
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        key = ".".join(str(p) for p in (*path, loc[-1])) if loc[-1] not in path else key
        msg = f"unknown key {loc[-1]!r}"
    elif err["type"] == "missing":
        msg = f"missing required key {loc[-1]!r}"
        key = ".".join(str(p) for p in path) or None
    msg = msg.removeprefix("Value error, ")
    return ConfigProblem(msg, Where(file=file, line=line, key=key))


def parse_project(text: str, file: str = PROJECT_FILE, root: Path | None = None) -> Project:
    """Parse project text; raise :class:`ProjectInvalid` listing every problem."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ProjectInvalid(
            [
                ConfigProblem(
                    f"not valid YAML: {getattr(exc, 'problem', exc)}",
                    Where(file=file, line=mark.line + 1 if mark else None),
                )
            ],
            hint="check indentation and quoting near that line",
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ProjectInvalid([ConfigProblem("the project file must be a mapping", Where(file))])
    lines: dict[tuple[Any, ...], int] = {}
    if node is not None:
        _line_map(node, (), lines)
    env: dict[str, list[str]] = {}
    data = _interpolate_tree(data, lines, file, env=env)
    try:
        project = Project.model_validate(data)
    except ValidationError as exc:
        problems = [_problem(dict(e), lines, file) for e in exc.errors()]
        problems.sort(key=lambda p: p.where.line or 0)
        raise ProjectInvalid(problems, hint="see `sluice schema` for every allowed key") from None
    project._root = (root or Path(file).parent).resolve()
    project._file = Path(file)
    project._lines = lines
    project._env = env
    return project


def find_project_file(path: str | Path | None = None) -> Path:
    p = Path(path) if path else Path.cwd()
    if p.is_dir():
        p = p / PROJECT_FILE
    if not p.exists():
        raise ConfigError(
            f"no project file at {p}",
            hint="run `sluice init DIR` to create one, or pass --project PATH",
        )
    return p


def load_project(path: str | Path | None = None) -> Project:
    """Load and validate a project: a folder holding ``sluice.yaml``, or the file itself."""
    file = find_project_file(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {file}: {exc}") from None
    return parse_project(text, str(file), file.parent)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of ``sluice.yaml``, for editors and ``sluice schema``."""
    schema = Project.model_json_schema()
    schema["title"] = "sluice.yaml"
    return schema


def _checked(url: str, variable: str | None, where: Where) -> str:
    from sluice.dburl import EXAMPLES, normalize

    try:
        normalize(url, label=variable, where=where)
    except ConfigError as exc:
        fix = f"set {variable} to" if variable else f"write at `{where.key}:`"
        exc.hint = f"{fix} a URL such as {EXAMPLES}, then run `sluice validate`"
        raise
    return url
