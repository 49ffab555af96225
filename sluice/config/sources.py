"""``sluice.yaml`` models of a pipeline's sources: files (local or downloaded) and HTTP
APIs, and how their fields map onto the table."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Discriminator, Field, PrivateAttr, Tag, field_validator, model_validator

from sluice.config.base import TRUSTED_ORIGINS, Model, check_origins, http_url, kind
from sluice.config.http import HttpAuth, Retry


class CsvOptions(Model):
    """How CSV files are read."""

    delimiter: str = Field(default=",", description="one character between fields")
    quote: str = Field(default='"', description="one character that quotes a field")
    encoding: str = Field(
        default="utf-8", description="any Python codec: latin-1, cp1252...; a UTF-8 BOM is skipped"
    )
    header: bool = Field(
        default=True,
        description="the first record names the columns; false: they are column_1, column_2...",
    )
    skip_rows: int = Field(default=0, ge=0, description="lines to skip before the header")
    null_values: list[str] = Field(default_factory=lambda: [""], description="values read as null")
    decimal: Literal[".", ","] | None = Field(
        default=None,
        description="the decimal mark of numbers: '.' (1,234.5) or ',' (1.234,5); unset: "
        "'.', and where the delimiter is ';' a value like 1,234 is refused as either",
    )
    footer: Literal["quarantine", "filter", "load"] = Field(
        default="quarantine",
        description="rows at the end of a file labelled Total (Grand total, Subtotal, Sum), "
        "a grouped report's subtotal rows (Parks Total under the rows of Parks) and notes "
        "at the end (Source: ..., Notes: ...): quarantine them, filter them (rule footer) "
        "or load them as data",
    )
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
    synonyms: dict[str, list[str]] = Field(
        default_factory=dict, description="target column -> extra header names, for this source"
    )
    ignore: list[str] = Field(
        default_factory=list,
        description="headers or fields not loaded on purpose; globs allowed (login_*)",
    )
    drift: Literal["quarantine", "evolve", "fail"] = Field(
        default="quarantine",
        description="unexpected or missing columns: quarantine (set the file or pull aside), "
        "evolve (load: new ones as nullable text, missing ones as null) or fail (stop the run)",
    )
    batch_bytes: int = Field(
        default=4 * 1024**2,
        ge=4096,
        description="rows are processed and loaded in batches of about this many input bytes",
    )


class FileSourceConfig(MappedSource):
    """Local files (paths or globs) or one downloaded file: csv, jsonl, parquet, zip."""

    type: Literal["file"] = Field(default="file", description="file (the default) or http")
    path: str | list[str] | None = Field(
        default=None, description="path or glob, relative to the project"
    )
    url: str | None = Field(
        default=None, description="download the file (csv, jsonl, parquet, zip) from here"
    )
    max_download_bytes: int = Field(default=1024**3, gt=0, description="refuse larger downloads")
    headers: dict[str, str] = Field(default_factory=dict, description="sent with the download")
    auth: HttpAuth | None = Field(default=None, description="credentials of the download")
    trusted_origins: list[str] = Field(default_factory=list, description=TRUSTED_ORIGINS)
    timeout: float = Field(default=60.0, gt=0, description="download: seconds without data")
    retry: Retry = Field(default_factory=Retry, description="download: how failures are retried")
    format: Literal["csv", "jsonl", "json", "parquet"] | None = Field(
        default=None, description="default: from the file extension"
    )
    records: str = Field(
        default="",
        description="json: path of the record list in the document (a.b); empty: the document",
    )
    members: str = Field(default="*", description="glob of zip members to read")
    min_files: int = Field(
        default=0,
        ge=0,
        description="fail the run when path matches fewer files (zip members count one "
        "each); with 0, matching none is a warning",
    )
    flatten: bool = Field(
        default=False, description="jsonl, json: nested objects -> parent_child columns"
    )
    csv: CsvOptions = Field(default_factory=CsvOptions, description="how CSV files are read")
    max_unzipped_bytes: int = Field(
        default=2 * 1024**3,
        gt=0,
        description="an archive or compressed file that inflates past this is refused",
    )

    @model_validator(mode="after")
    def _path_or_url(self) -> FileSourceConfig:
        if (self.path is None) == (self.url is None):
            raise ValueError("a file source needs exactly one of path (local files) or url")
        if self.url is not None:
            http_url(self.url, "url")
        self.trusted_origins = check_origins(self.trusted_origins)
        return self

    @property
    def paths(self) -> list[str]:
        if self.path is None:
            return []
        return [self.path] if isinstance(self.path, str) else list(self.path)


class Paginate(Model):
    """How to walk the pages of a list endpoint."""

    style: Literal["none", "page", "offset", "cursor", "next_url", "link_header"] = Field(
        default="none", description="none (one call), page, offset, cursor, next_url, link_header"
    )
    page_param: str = Field(default="page", description="page: the query parameter of the page")
    start_page: int = Field(default=1, description="page: the number of the first page")
    total_pages: str | None = Field(
        default=None, description="page: path of the total page count in the body"
    )
    offset_param: str = Field(default="offset", description="offset: the offset's parameter")
    limit_param: str = Field(default="limit", description="offset: the limit's parameter")
    page_size: int | None = Field(
        default=None, gt=0, description="offset: the limit sent; page: the size of a full page"
    )
    total: str | None = Field(default=None, description="offset: path of the record total")
    cursor_path: str | None = Field(default=None, description="cursor: path of the next cursor")
    cursor_param: str = Field(
        default="cursor", description="cursor: the parameter the next cursor is sent as"
    )
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
    """A REST JSON API: pages of records, optional detail calls, retries, rate limit."""

    type: Literal["http"] = Field(description="http: a REST JSON API")
    base_url: str = Field(description="e.g. ${API_URL:-http://127.0.0.1:8001}")
    endpoint: str = Field(default="", description="path under base_url")
    params: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="query parameters sent with every list call"
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="sent to base_url's origin and trusted_origins only"
    )
    auth: HttpAuth | None = Field(default=None, description="credentials, from the environment")
    trusted_origins: list[str] = Field(default_factory=list, description=TRUSTED_ORIGINS)
    records: str = Field(
        default="", description="path of the record list in the body (a.b); empty: the body"
    )
    paginate: Paginate = Field(default_factory=Paginate, description="how to walk the pages")
    fan_out: FanOut | None = Field(
        default=None, description="a detail call per record: {endpoint: /items/{id}}"
    )
    incremental: Incremental | None = Field(
        default=None, description="pull only what changed since the last run"
    )
    flatten: bool = Field(default=True, description="nested objects -> parent_child columns")
    concurrency: int = Field(default=4, ge=1, description="requests in flight at the start")
    max_concurrency: int = Field(default=32, ge=1, description="ceiling of adaptive concurrency")
    rate_limit: float | None = Field(default=None, gt=0, description="requests per second")
    timeout: float = Field(default=30.0, gt=0, description="seconds per request")
    deadline: float | None = Field(default=None, gt=0, description="seconds for the whole pull")
    retry: Retry = Field(default_factory=Retry, description="how failed requests are retried")
    max_records: int | None = Field(default=None, gt=0, description="stop after this many")

    _page_range: tuple[int, int] | None = PrivateAttr(default=None)

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        return http_url(v, "base_url").rstrip("/")

    @field_validator("trusted_origins")
    @classmethod
    def _trusted(cls, v: list[str]) -> list[str]:
        return check_origins(v)

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
        kind("file"),
        custom_error_type="unknown_source",
        custom_error_message="a source's type is file or http",
    ),
]
