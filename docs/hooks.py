"""The references the code can write itself, made when the site is built (an mkdocs hook).

A page asks for one with a marker line, ``<!-- generate: NAME -->``, which is replaced by
the Markdown of ``NAME``:

    cli        every command of the Typer app: usage, summary, each option as --help shows it
    config     every key of sluice.yaml, from the JSON Schema ``sluice schema`` prints
    rest       every endpoint of ``sluice serve``, from its OpenAPI document
    errors     the exception tree of sluice.errors, with each error's exit code

``tests/unit/test_docs.py`` calls the same functions, so a reference cannot drift from
the code: a command, key or endpoint added is documented by the next build.
"""

from __future__ import annotations

import contextlib
import html
import inspect
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

MARKER = re.compile(r"^<!-- generate: (\w+) -->$", re.M)
#: a Sphinx role left in a docstring mkdocstrings rendered (``:class:`X` `` -> ``X``)
ROLE = re.compile(r":(?:class|meth|func|attr|mod|exc|data):(?=<code>)")


def _prose(text: str) -> str:
    """A docstring's reStructuredText roles and literals as Markdown; ``<`` and ``>``
    outside code as entities (``<table>_restricted`` is no HTML tag)."""
    text = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", text).replace("``", "`")
    parts = text.split("`")
    for i in range(0, len(parts), 2):
        parts[i] = parts[i].replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts)


def _cell(text: object) -> str:
    """Text for one cell of a Markdown table: one line, pipes escaped."""
    return _prose(" ".join(str(text).split())).replace("|", "\\|")


def _code(text: object) -> str:
    return f"`{text}`" if "`" not in str(text) else f"`` {text} ``"


# --- the CLI -------------------------------------------------------------------------------


def _context(command: Any, info_name: str, parent: Any = None) -> Any:
    """A context for ``command`` of the click Typer uses (Typer may ship its own)."""
    return command.context_class(command, info_name=info_name, parent=parent)


def cli_commands() -> list[tuple[str, Any, Any]]:
    """Every command as ``(full name, click command, click context)``, in the app's order."""
    import typer.main

    from sluice.cli.app import app

    root = typer.main.get_group(app)
    out: list[tuple[str, Any, Any]] = []

    def walk(group: Any, ctx: Any, prefix: str) -> None:
        for name, command in group.commands.items():
            sub = _context(command, info_name=name, parent=ctx)
            if hasattr(command, "commands"):
                walk(command, sub, f"{prefix} {name}")
            else:
                out.append((f"{prefix} {name}", command, sub))

    walk(root, _context(root, info_name="sluice"), "sluice")
    return out


def _options_table(command: Any, ctx: Any) -> list[str]:
    rows = []
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is None or getattr(param, "hidden", False):
            continue
        name, help_ = record
        if param.param_type_name == "argument":
            name = name.split()[0].upper()
        # HTML, not backticks: a table shows `\|` inside code as is, `&#124;` as a pipe
        name = "<code>" + html.escape(name).replace("|", "&#124;") + "</code>"
        rows.append(f"| {name} | {_cell(help_)} |")
    if not rows:
        return []
    return ["| option | what it does |", "| --- | --- |", *rows, ""]


def _help_text(text: str | None) -> list[str]:
    """A command's docstring as Markdown: prose as paragraphs, indented lines as code."""
    out: list[str] = []
    for paragraph in inspect.cleandoc(text or "").split("\n\n"):
        lines = paragraph.splitlines()
        if lines and all(line.startswith("    ") for line in lines):
            out += ["```bash", *(line[4:] for line in lines), "```", ""]
        elif paragraph.strip():
            out += [_prose(paragraph), ""]
    return out


def _usage(name: str, command: Any) -> str:
    pieces = [name, "[OPTIONS]"]
    for param in command.params:
        if param.param_type_name != "argument":
            continue
        word = (param.name or "").upper() + ("..." if param.nargs == -1 else "")
        pieces.append(word if param.required else f"[{word}]")
    return " ".join(pieces)


def _command_markdown(name: str, command: Any, ctx: Any, level: str) -> list[str]:
    return [
        f"{level} `{name}`",
        "",
        *_help_text(command.help),
        "```text",
        _usage(name, command),
        "```",
        "",
        *_options_table(command, ctx),
    ]


def cli_markdown() -> str:
    """The CLI reference: the app's own options, then every command, as ``--help`` says."""
    import typer.main

    from sluice.cli.app import app

    root = typer.main.get_group(app)
    root_ctx = _context(root, info_name="sluice")
    out = [
        "## `sluice`",
        "",
        *_help_text(root.help),
        "```text",
        "sluice [OPTIONS] COMMAND [ARGS]...",
        "```",
        "",
        *_options_table(root, root_ctx),
    ]
    for name, command in root.commands.items():
        ctx = _context(command, info_name=name, parent=root_ctx)
        if not hasattr(command, "commands"):
            out += _command_markdown(f"sluice {name}", command, ctx, "##")
            continue
        out += [f"## `sluice {name}`", "", *_help_text(command.help)]
        for sub_name, sub in command.commands.items():
            sub_ctx = _context(sub, info_name=sub_name, parent=ctx)
            out += _command_markdown(f"sluice {name} {sub_name}", sub, sub_ctx, "###")
    return "\n".join(out)


# --- sluice.yaml -----------------------------------------------------------------------------


def _anchor(name: str) -> str:
    return name.lower()


def _type(schema: dict[str, Any]) -> str:
    """A schema's type in a few words: ``integer``, ``list of string``, a link to a def."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{_anchor(name)})"
    for key in ("anyOf", "oneOf"):
        if key in schema:
            kinds = [_type(s) for s in schema[key] if s.get("$ref") != "#/$defs/Variable"]
            return " or ".join(dict.fromkeys(k for k in kinds if k))
    if "const" in schema:
        return _code(schema["const"])
    if "enum" in schema:
        return " or ".join(_code(v) for v in schema["enum"])
    kind = schema.get("type")
    if kind == "array":
        return f"list of {_type(schema.get('items', {}))}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"map of name to {_type(schema['additionalProperties'])}"
    if isinstance(kind, list):
        return " or ".join(kind)
    return kind or "any"


def _default(schema: dict[str, Any]) -> str:
    if "default" not in schema:
        return ""
    value = schema["default"]
    if value is None:
        return "none"
    if isinstance(value, bool):
        return _code(str(value).lower())
    if value in ({}, [], ""):
        return _code(repr(value).replace("'", '"'))
    return _code(value)


def _properties_table(schema: dict[str, Any]) -> list[str]:
    required = set(schema.get("required", []))
    rows = ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    for key, prop in schema.get("properties", {}).items():
        default = "required" if key in required else _default(prop)
        rows.append(
            f"| {_code(key)} | {_cell(_type(prop))} | {_cell(default)} "
            f"| {_cell(prop.get('description', ''))} |"
        )
    return [*rows, ""]


@cache
def config_schema() -> dict[str, Any]:
    from sluice.config.export import json_schema

    return json_schema()


def config_markdown() -> str:
    """Every key of sluice.yaml: the file's own keys, then each object they refer to."""
    schema = config_schema()
    defs: dict[str, Any] = schema["$defs"]
    order: list[str] = []

    def refs(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            if "$ref" in node:
                yield node["$ref"].rsplit("/", 1)[-1]
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    queue = list(refs(schema.get("properties", {})))
    while queue:
        name = queue.pop(0)
        if name in order or name == "Variable" or name not in defs:
            continue
        order.append(name)
        queue += refs(defs[name])
    out = ["## The file {#sluice-yaml}", "", *_properties_table(schema)]
    for name in order:
        definition = defs[name]
        out += [f"## {name} {{#{_anchor(name)}}}", ""]
        if definition.get("description"):
            out += [_cell(definition["description"]), ""]
        if definition.get("properties"):
            out += _properties_table(definition)
        else:
            out += [f"A {_type(definition)}.", ""]
    return "\n".join(out)


# --- the REST API ------------------------------------------------------------------------


@contextlib.contextmanager
def _without(*names: str) -> Iterator[None]:
    saved = {name: os.environ.pop(name) for name in names if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


@cache
def openapi() -> dict[str, Any]:
    """The OpenAPI document of ``sluice serve``, from an app over an empty project."""
    from sluice.config import parse_project
    from sluice.service import close, create_app
    from sluice.service.settings import ServiceSettings

    with (
        tempfile.TemporaryDirectory() as folder,
        _without("SLUICE_STATE_URL", "SLUICE_WAREHOUSE_URL"),
    ):
        project = parse_project("name: api\n", root=Path(folder))
        app = create_app(project, ServiceSettings(dev_open=True), executor="local")
        try:
            spec: dict[str, Any] = app.openapi()
        finally:
            close(app)
    return spec


def _schema_name(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{_anchor('schema-' + name)})"
    if schema.get("type") == "array":
        return f"list of {_schema_name(schema.get('items', {}))}"
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " or ".join(_schema_name(s) for s in schema[key])
    if "enum" in schema:
        return " or ".join(_code(v) for v in schema["enum"])
    return str(schema.get("type", "any"))


def _yes(flag: object) -> str:
    return "yes" if flag else "no"


def _operation(method: str, path: str, op: dict[str, Any]) -> list[str]:
    out = [f"### `{method.upper()} {path}`", ""]
    text = op.get("description") or op.get("summary", "")
    if text:
        out += [_prose(inspect.cleandoc(text)), ""]
    if op.get("security"):
        out += ["Needs a token (`Authorization: Bearer ...`).", ""]
    params = op.get("parameters", [])
    if params:
        out += ["| parameter | in | type | required | meaning |", "| --- | --- | --- | --- | --- |"]
        for p in params:
            kind = _cell(_schema_name(p.get("schema", {})))
            meaning = _cell(p.get("description", ""))
            out.append(
                f"| {_code(p['name'])} | {p['in']} | {kind} | {_yes(p.get('required'))} "
                f"| {meaning} |"
            )
        out.append("")
    for media, content in op.get("requestBody", {}).get("content", {}).items():
        out += [f"Body ({media}): {_schema_name(content.get('schema', {}))}", ""]
    out += ["| status | meaning | body |", "| --- | --- | --- |"]
    for status, answer in op.get("responses", {}).items():
        shape = ", ".join(
            f"{media}: {_schema_name(c.get('schema', {}))}"
            for media, c in answer.get("content", {}).items()
        )
        out.append(f"| {status} | {_cell(answer.get('description', ''))} | {_cell(shape)} |")
    return [*out, ""]


def _component(name: str, schema: dict[str, Any]) -> list[str]:
    out = [f"### {name} {{#{_anchor('schema-' + name)}}}", ""]
    if schema.get("description"):
        out += [_cell(schema["description"]), ""]
    props = schema.get("properties")
    if props:
        required = set(schema.get("required", []))
        out += ["| field | type | required | meaning |", "| --- | --- | --- | --- |"]
        for key, prop in props.items():
            kind, meaning = _cell(_schema_name(prop)), _cell(prop.get("description", ""))
            out.append(f"| {_code(key)} | {kind} | {_yes(key in required)} | {meaning} |")
        out.append("")
    elif "enum" in schema:
        out += ["One of " + ", ".join(_code(v) for v in schema["enum"]) + ".", ""]
    return out


def rest_markdown() -> str:
    """Every endpoint: what it does, its parameters, body and answers; then the schemas."""
    spec = openapi()
    out: list[str] = []
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            out += _operation(method, path, op)
    out += ["## Schemas", ""]
    for name, schema in spec.get("components", {}).get("schemas", {}).items():
        out += _component(name, schema)
    return "\n".join(out)


# --- errors ----------------------------------------------------------------------------------


def error_classes() -> list[tuple[int, type[Exception]]]:
    """``(depth, class)`` for every error in :mod:`sluice.errors`, depth first."""
    from sluice import errors

    out: list[tuple[int, type[Exception]]] = []

    def walk(cls: type[Exception], depth: int) -> None:
        out.append((depth, cls))
        for sub in cls.__subclasses__():
            if sub.__module__ == errors.__name__:
                walk(sub, depth + 1)

    walk(errors.SluiceError, 0)
    return out


def errors_markdown() -> str:
    rows = [
        "| error | exit code | retryable | what it means |",
        "| --- | --- | --- | --- |",
    ]
    for depth, cls in error_classes():
        doc = inspect.getdoc(cls) or ""
        if cls.__doc__ is None:  # inherited: say nothing rather than the parent's words
            doc = ""
        first = doc.split("\n\n")[0]
        name = "&nbsp;&nbsp;&nbsp;&nbsp;" * depth + _code(cls.__name__)
        rows.append(
            f"| {name} | {getattr(cls, 'exit_code', 1)} | "
            f"{'yes' if getattr(cls, 'retryable', False) else 'no'} | {_cell(first)} |"
        )
    return "\n".join([*rows, ""])


GENERATORS: dict[str, Callable[[], str]] = {
    "cli": cli_markdown,
    "config": config_markdown,
    "rest": rest_markdown,
    "errors": errors_markdown,
}


def on_page_markdown(markdown: str, **_: Any) -> str:
    """The mkdocs hook: each marker line becomes the reference it names."""
    return MARKER.sub(lambda m: GENERATORS[m.group(1)](), markdown)


def on_page_content(html: str, **_: Any) -> str:
    """The mkdocs hook: Sphinx roles of the docstrings (``:class:``) are not shown."""
    return ROLE.sub("", html)
