"""What every ``sluice.yaml`` model shares: the base model and the checks of names and URLs."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict

from sluice.schema import IDENTIFIER


class Model(BaseModel):
    """A block of ``sluice.yaml``: an unknown key is an error, not ignored."""

    model_config = ConfigDict(extra="forbid", frozen=False)


class AliasedModel(Model):
    """A block with a key named like a Python keyword or builtin (``from``, ``in``,
    ``list``): the field takes the file's name as its alias and answers to both."""

    model_config = ConfigDict(populate_by_name=True)


def or_shorthand(schema: dict[str, Any], short: dict[str, Any]) -> None:
    """JSON Schema hook of a mapping whose values may be written short (``city: string``
    for ``city: {type: string}``): each value is the full block or ``short``."""
    schema["additionalProperties"] = {"anyOf": [schema["additionalProperties"], short]}


def identifier(value: str) -> str:
    if not IDENTIFIER.match(value):
        raise ValueError(
            f"{value!r} is not a valid name: use letters, digits and underscores, "
            "starting with a letter (at most 63 characters)"
        )
    return value


def kind(default: str) -> Callable[[Any], str]:
    """The discriminator of a union of models tagged by ``type`` (``default`` if absent)."""

    def tag(v: Any) -> str:
        if isinstance(v, dict):
            return str(v.get("type", default))
        return str(getattr(v, "type", default))

    return tag


def http_url(value: str, key: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"{key} must start with http:// or https://, got {value!r}")
    return value


#: an origin: scheme, host and optional port, nothing after (no path, query or user)
_ORIGIN = re.compile(r"^https?://[^/?#@\s]+$", re.IGNORECASE)
TRUSTED_ORIGINS = (
    "other origins (https://files.example.com, http://host:8080) that also receive the "
    "source's auth and headers; any other origin (a next link, a redirect) gets none"
)


def check_origins(value: list[str]) -> list[str]:
    for origin in value:
        if not _ORIGIN.match(origin.rstrip("/")):
            raise ValueError(
                f"trusted_origins: {origin!r} is not an origin (scheme://host[:port], "
                "e.g. https://files.example.com)"
            )
    return [o.rstrip("/") for o in value]
