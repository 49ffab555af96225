"""``sluice.yaml`` models of where a pipeline's rows go: a SQL warehouse or an HTTP endpoint."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Discriminator, Field, Tag, field_validator

from sluice.config.base import Model, http_url, kind
from sluice.config.http import HttpAuth, Retry


class DestinationConfig(Model):
    """A table in a SQL warehouse: the project's, or one of this pipeline's own."""

    type: Literal["sql"] = Field(default="sql", description="sql (the default) or http")
    url: str | None = Field(default=None, description="default: the project's warehouse")
    mode: Literal["append", "replace", "merge", "snapshot"] = Field(
        default="append",
        description="append (add rows), replace (swap the table in atomically), merge (upsert "
        "on table.keys) or snapshot (keep every load; a <table>_latest view)",
    )


class HttpDestinationConfig(Model):
    """POST the rows as JSON arrays; a delivery ledger makes every key arrive once."""

    type: Literal["http"] = Field(description="http: POST the records to an endpoint")
    url: str = Field(description="the endpoint that takes a JSON array of records")
    key: str | None = Field(default=None, description="the record key (default: table.keys)")
    batch_size: int = Field(default=100, ge=1, description="records per POST")
    headers: dict[str, str] = Field(default_factory=dict, description="sent with every POST")
    auth: HttpAuth | None = Field(default=None, description="credentials, from the environment")
    concurrency: int = Field(default=2, ge=1, description="POSTs in flight at the start")
    max_concurrency: int = Field(default=8, ge=1, description="ceiling of adaptive concurrency")
    rate_limit: float | None = Field(default=None, gt=0, description="requests per second")
    timeout: float = Field(
        default=60.0, gt=0, description="seconds per POST: longer than the API's slowest answer"
    )
    deadline: float | None = Field(default=None, gt=0, description="seconds for the whole delivery")
    retry: Retry = Field(default_factory=Retry, description="how failed POSTs are retried")
    mode: Literal["append"] = Field(default="append", description="append: the only mode")

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return http_url(v, "url")

    @property
    def base_url(self) -> str:
        return self.url


AnyDestination = Annotated[
    Annotated[DestinationConfig, Tag("sql")] | Annotated[HttpDestinationConfig, Tag("http")],
    Discriminator(
        kind("sql"),
        custom_error_type="unknown_destination",
        custom_error_message="a destination's type is sql (the default: a warehouse) or http",
    ),
]
