"""``sluice.yaml`` models of where a pipeline's rows go: a SQL warehouse or an HTTP endpoint."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Discriminator, Field, Tag, field_validator

from sluice.config.base import Model, http_url, kind
from sluice.config.http import HttpAuth, Retry


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
