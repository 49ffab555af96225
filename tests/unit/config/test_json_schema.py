"""The JSON Schema of sluice.yaml (`sluice schema`), read by the `jsonschema` library as
an editor would: it accepts every project file the repository ships and the `sluice
init` scaffold (column shorthand, ``${VAR}`` in numbers and booleans), says what every
key means, and still refuses what the loader refuses (a misspelled key, a wrong type)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from sluice.cli.app import app
from sluice.config import SCHEMA_FILE, json_schema, parse_project
from sluice.config.export import DIALECT
from sluice.errors import ProjectInvalid

ROOT = Path(__file__).parents[3]
TEMPLATE = ROOT / "sluice" / "cli" / "templates" / "sluice.yaml"
#: the project files the repository ships (not what tests write under tests/artifacts)
SHIPPED = sorted(
    p
    for pattern in (
        "examples/**/sluice.yaml",
        "bench/**/sluice.yaml",
        "tests/cassettes/**/sluice.yaml",
    )
    for p in ROOT.glob(pattern)
    if not {"data", "results", "artifacts"} & set(p.relative_to(ROOT).parts)
)


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return json_schema()


@pytest.fixture(scope="module")
def validator(schema: dict[str, Any]) -> Draft202012Validator:
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def errors(validator: Draft202012Validator, data: Any) -> list[str]:
    return [
        f"{'.'.join(map(str, e.absolute_path)) or '<top>'}: {e.message}"
        for e in validator.iter_errors(data)
    ]


def test_the_repository_ships_project_files() -> None:
    names = {str(p.relative_to(ROOT)) for p in SHIPPED}
    assert len(SHIPPED) >= 11, names
    assert {"examples/leads/sluice.yaml", "examples/randomuser/sluice.yaml"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shipped_project_file_is_valid(path: Path, validator: Draft202012Validator) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert errors(validator, data) == []


def test_init_scaffold_points_at_its_schema_and_is_valid(
    tmp_path: Path, validator: Draft202012Validator, schema: dict[str, Any]
) -> None:
    result = CliRunner().invoke(app, ["init", str(tmp_path / "proj")])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "proj" / "sluice.yaml").read_text(encoding="utf-8")
    assert text == TEMPLATE.read_text(encoding="utf-8")
    # yaml-language-server reads the modeline; a relative path is from the YAML file.
    first = text.splitlines()[0]
    match = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first)
    assert match, first
    written = tmp_path / "proj" / match.group(1)
    assert written.name == SCHEMA_FILE and written.is_file()
    assert json.loads(written.read_text(encoding="utf-8")) == schema
    assert errors(validator, yaml.safe_load(text)) == []


def test_schema_output_writes_what_schema_prints(tmp_path: Path) -> None:
    cli = CliRunner()
    printed = cli.invoke(app, ["schema"])
    assert printed.exit_code == 0, printed.output
    target = tmp_path / "editor" / SCHEMA_FILE
    result = cli.invoke(app, ["schema", "--output", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_text(encoding="utf-8") == printed.stdout


def test_schema_is_draft_2020_12_with_an_id_and_a_title(schema: dict[str, Any]) -> None:
    assert schema["$schema"] == DIALECT == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == "https://sluice.dev/schema/sluice.json"
    assert schema["title"] == "sluice.yaml" and schema["description"]
    assert list(schema)[:3] == ["$schema", "$id", "title"]


def _properties(node: Any, where: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for name, sub in (node.get("properties") or {}).items():
            yield f"{where}.{name}", sub
        for key, sub in node.items():
            yield from _properties(sub, f"{where}/{key}")
    elif isinstance(node, list):
        for i, sub in enumerate(node):
            yield from _properties(sub, f"{where}/{i}")


def test_every_property_has_a_description(schema: dict[str, Any]) -> None:
    props = list(_properties(schema))
    assert len(props) >= 170
    lacking = [where for where, sub in props if not str(sub.get("description", "")).strip()]
    assert lacking == []


def test_definitions_have_public_names_and_every_ref_resolves(schema: dict[str, Any]) -> None:
    defs = schema["$defs"]
    assert [name for name in defs if "__" in name or "." in name] == []
    assert {"CastArgs", "DedupeArgs", "UtcArgs", "ColumnConfig", "Variable"} <= set(defs)
    assert defs["DedupeArgs"]["title"] == "DedupeArgs"
    refs = set(re.findall(r'"\$ref": "([^"]+)"', json.dumps(schema)))
    assert refs and {r for r in refs if r.removeprefix("#/$defs/") not in defs} == set()


MINIMAL = """\
name: demo
pipelines:
  p:
    sources:
      s: {type: file, path: data/*.csv}
    table:
      name: t
      keys: [id]
      columns:
        id: integer
        city: string
"""

#: (what changes in MINIMAL, the environment it loads with)
WITH_VARIABLES = [
    ("      s: {type: file, path: data/*.csv, batch_bytes: '${BATCH:-8192}'}", {}),
    ("      s: {type: file, path: data/*.csv, csv: {header: '${HEADER}'}}", {"HEADER": "false"}),
    ("      s: {type: file, path: data/*.csv, drift: '${DRIFT:-evolve}'}", {}),
    ("        id: {type: integer, required: '${REQUIRED:-true}'}", {}),
    ("        id: {type: integer, min: '${LOW}'}", {"LOW": "1"}),
    ("        city: ${CITY_TYPE:-string}", {}),
]


@pytest.mark.parametrize(("line", "env"), WITH_VARIABLES)
def test_variables_are_accepted_where_the_loader_takes_them(
    line: str, env: dict[str, str], validator: Draft202012Validator, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = _with(line)
    assert errors(validator, yaml.safe_load(text)) == []
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    parse_project(text)  # the loader takes it too


def test_merge_mode_from_the_environment(validator: Draft202012Validator) -> None:
    text = MINIMAL + "    destination: {mode: '${MODE:-merge}', url: '${URL:-sqlite:///x.db}'}\n"
    assert errors(validator, yaml.safe_load(text)) == []
    assert parse_project(text).pipelines["p"].destination.mode == "merge"


#: (what changes in MINIMAL, the key the schema names)
REFUSED = [
    ("name: demo\nwarehous: sqlite:///w.db", "warehous"),  # a misspelled key
    ("        id: {typ: integer}", "pipelines.p.table.columns.id"),
    ("        id: {type: integr}", "pipelines.p.table.columns.id"),  # not a type
    ("        city: strng", "pipelines.p.table.columns.city"),  # nor in the shorthand
    ("      s: {type: file, path: data/*.csv, batch_bytes: lots}", "pipelines.p.sources.s"),
    ("      s: {type: file, path: data/*.csv, drift: ignore}", "pipelines.p.sources.s"),
    ("      s: {type: file, path: data/*.csv, csv: {header: maybe}}", "pipelines.p.sources.s"),
    # `$${VAR}` is a literal: the loader keeps the text, which is no number
    ("      s: {type: file, path: data/*.csv, batch_bytes: '$${BATCH}'}", "pipelines.p.sources.s"),
]


@pytest.mark.parametrize(("line", "key"), REFUSED)
def test_wrong_keys_and_types_are_reported(
    line: str, key: str, validator: Draft202012Validator
) -> None:
    text = _with(line)
    found = errors(validator, yaml.safe_load(text))
    assert found and all(key in e for e in found), found
    with pytest.raises(ProjectInvalid):  # the loader refuses it as well
        parse_project(text)


def _with(line: str) -> str:
    """MINIMAL with the line that starts like ``line`` (up to its first colon) replaced."""
    head = line.split(":", 1)[0]
    lines = MINIMAL.splitlines()
    at = next(i for i, old in enumerate(lines) if old.split(":", 1)[0] == head)
    return "\n".join([*lines[:at], line, *lines[at + 1 :]]) + "\n"


def test_shorthand_and_variables_do_not_loosen_blocks(validator: Draft202012Validator) -> None:
    text = MINIMAL.replace("        city: string", "        city: ${X}x")
    assert errors(validator, yaml.safe_load(text)) == []  # a variable in the text
    text = MINIMAL.replace("      s: {type: file, path: data/*.csv}", "      s: ${SOURCE}")
    assert errors(validator, yaml.safe_load(text)) != []  # a block is never a string
