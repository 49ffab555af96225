"""The JSON Schema of ``sluice.yaml``, for editors and ``sluice schema``.

It is made from the models, then says what the loader accepts before they see the file:
``${VAR}`` and ``${VAR:-default}`` in any value (the loader substitutes them first, so
``timeout: ${API_TIMEOUT:-30}`` is a number by the time it is validated). The column
shorthands (``city: string``) are declared on their fields.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic.json_schema import CoreModeRef, CoreRef, DefsRef, GenerateJsonSchema

from sluice.config.project import Project

DIALECT = "https://json-schema.org/draft/2020-12/schema"
#: where ``sluice init`` writes the schema, beside ``sluice.yaml``, whose first line
#: (``# yaml-language-server: $schema=./sluice.schema.json``) points editors at it
SCHEMA_FILE = "sluice.schema.json"
#: the schema's identifier: a name, not an address (the file is made by ``sluice schema``)
SCHEMA_ID = "https://sluice.dev/schema/sluice.json"
#: a string the loader substitutes: ``${VAR}`` or ``${VAR:-default}`` (``$${VAR}`` is a
#: literal), anywhere in the value; ECMA-262 and Python read it alike
VARIABLE = r"(^|[^$])\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}"
_VARIABLE_DEF = "Variable"
_VARIABLE_REF = {"$ref": f"#/$defs/{_VARIABLE_DEF}"}

#: a step's arguments, ``sluice.config.steps.CastStep.Args``: named ``CastArgs``
_STEP_ARGS = re.compile(r"\b([A-Z][A-Za-z]*)Step\.Args\b")
#: keywords that describe a value rather than constrain it: they stay beside an anyOf
_NOTES = ("title", "description", "default", "examples")


class _PublicNames(GenerateJsonSchema):
    """Names each definition after its class (``CastStep.Args`` is ``CastArgs``), never
    after its module (``sluice__config__CastStep__Args``)."""

    def get_defs_ref(self, core_mode_ref: CoreModeRef) -> DefsRef:
        core_ref, mode = core_mode_ref
        return super().get_defs_ref((CoreRef(_STEP_ARGS.sub(r"\1Args", core_ref)), mode))


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``sluice.yaml``, for editors and ``sluice schema``."""
    body = Project.model_json_schema(schema_generator=_PublicNames)
    defs: dict[str, Any] = body.setdefault("$defs", {})
    for name, definition in defs.items():
        if definition.get("title") == "Args":
            definition["title"] = name
    _allow_variables(body)
    defs[_VARIABLE_DEF] = {
        "type": "string",
        "pattern": VARIABLE,
        "description": "${VAR} or ${VAR:-default}: the value comes from the environment "
        "when the project is loaded",
    }
    body.pop("title", None)
    return {
        "$schema": DIALECT,
        "$id": SCHEMA_ID,
        "title": "sluice.yaml",
        "description": body.pop("description", "A sluice project file."),
        **body,
    }


def _allow_variables(schema: dict[str, Any]) -> None:
    """Let every number, boolean and fixed-choice value also be a ``${VAR}`` string,
    in place; strings take one already."""
    for key in ("properties", "$defs"):
        for sub in schema.get(key, {}).values():
            _allow_variables(sub)
    for key in ("additionalProperties", "items"):
        if isinstance(schema.get(key), dict):
            _allow_variables(schema[key])
    for sub in schema.get("oneOf", []):
        _allow_variables(sub)
    branches = schema.get("anyOf")
    if branches is not None:  # a fixed branch takes a variable as a sibling, not nested
        for sub in branches:
            if not _fixed(sub):
                _allow_variables(sub)
        if any(_fixed(b) for b in branches) and not any(_free_text(b) for b in branches):
            branches.append(_VARIABLE_REF)
    elif _fixed(schema):
        core = {k: schema.pop(k) for k in list(schema) if k not in _NOTES}
        schema["anyOf"] = [core, _VARIABLE_REF]


def _fixed(schema: dict[str, Any]) -> bool:
    """A value YAML writes as a number, a boolean or one of fixed words: no ``${VAR}`` fits."""
    if "enum" in schema or "const" in schema:
        return True
    return schema.get("type") in ("integer", "number", "boolean")


def _free_text(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "string" and not _fixed(schema) and "pattern" not in schema
