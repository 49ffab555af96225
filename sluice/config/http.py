"""What the HTTP blocks of ``sluice.yaml`` share (sources, downloads, destinations; alert
delivery takes the retry policy too): credentials and retries."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from sluice.config.base import AliasedModel, Model


class HttpAuth(AliasedModel):
    """Credentials come from the environment: write ``token: ${API_TOKEN}``."""

    type: Literal["bearer", "api_key", "basic"] = Field(
        description="bearer (token), api_key (value, name, in) or basic (username, password)"
    )
    token: str | None = Field(default=None, description="bearer: the token")
    name: str = Field(default="X-API-Key", description="api_key: header or query name")
    value: str | None = Field(default=None, description="api_key: the key")
    location: Literal["header", "query"] = Field(
        default="header", alias="in", description="api_key: sent as a header or in the query"
    )
    username: str | None = Field(default=None, description="basic: the user name")
    password: str | None = Field(default=None, description="basic: the password")

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
    """Exponential backoff with jitter, in seconds."""

    max_attempts: int = Field(default=8, ge=1, description="tries of a request, the first included")
    backoff: float = Field(default=0.5, gt=0, description="seconds before the first retry")
    max_backoff: float = Field(default=30.0, gt=0, description="the longest wait between tries")
