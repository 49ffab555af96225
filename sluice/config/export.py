"""The JSON Schema of ``sluice.yaml``, for editors and ``sluice schema``."""

from __future__ import annotations

import re
from typing import Any

from pydantic.json_schema import GenerateJsonSchema

from sluice.config.project import Project

#: the module of a model inside this package: ``sluice.config.steps.`` -> ``sluice.config.``
_SUBMODULE = re.compile(r"^sluice\.config\.[a-z_]+\.")


class _PublicNames(GenerateJsonSchema):
    """Names definitions after ``sluice.config``, the models' public home, not the module
    that defines them: models that share a name (every step's ``Args``) are told apart by
    module and class (``sluice__config__CastStep__Args``), and those names, which editors'
    settings may refer to, stay what they were before ``sluice.config`` was a package."""

    def normalize_name(self, name: str) -> str:
        return super().normalize_name(_SUBMODULE.sub("sluice.config.", name))


def json_schema() -> dict[str, Any]:
    """The JSON Schema of ``sluice.yaml``, for editors and ``sluice schema``."""
    schema = Project.model_json_schema(schema_generator=_PublicNames)
    schema["title"] = "sluice.yaml"
    return schema
