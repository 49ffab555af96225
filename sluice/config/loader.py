"""Reading ``sluice.yaml``: the one place the file meets the environment.

:func:`load_project` reads a file, substitutes ``${VAR}`` / ``${VAR:-default}`` from the
environment, validates, and reports every problem with the file, line and key it comes
from. Nothing here runs at import time.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from sluice.config.project import Project
from sluice.config.steps import STEP_KINDS
from sluice.errors import ConfigError, ConfigProblem, ProjectInvalid, Where

PROJECT_FILE = "sluice.yaml"
#: variables that override a key of the file (the URLs of the warehouse and state store)
OVERRIDES = ("SLUICE_WAREHOUSE_URL", "SLUICE_STATE_URL")

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


_LoaderClass = type[yaml.SafeLoader] | type[yaml.CSafeLoader]
#: libyaml's parser when PyYAML was built with it: 10-15x faster than the pure-Python
#: one on a project file (~0.02 s of ``sluice validate``); both feed the same Python
#: constructor and resolver, so the data and the lines are the same
_FAST_LOADER: _LoaderClass | None = getattr(yaml, "CSafeLoader", None)


def _read_yaml(text: str, lines: dict[tuple[Any, ...], int]) -> Any:
    """The document's data, as :func:`yaml.safe_load` reads it, from one parse that also
    fills ``lines`` (key path -> line).

    A file libyaml rejects is read again by the pure-Python parser, whose error (or
    data) is the one reported: the messages stay those of :func:`yaml.safe_load`."""
    if _FAST_LOADER is not None:
        try:
            return _read_with(_FAST_LOADER, text, lines)
        except yaml.YAMLError:
            lines.clear()
    return _read_with(yaml.SafeLoader, text, lines)


def _read_with(loader_class: _LoaderClass, text: str, lines: dict[tuple[Any, ...], int]) -> Any:
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        # Lines first: constructing rewrites the nodes of merge keys (<<) in place.
        _line_map(node, (), lines)
        return loader.construct_document(node)
    finally:
        loader.dispose()


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
        word = str(loc[-1])
        msg = f"unknown key {word!r}" + (_belongs(word, path) or _meant(word, _known_keys(), 0.75))
    elif err["type"] == "literal_error" and isinstance(err.get("input"), str):
        options = re.findall(r"'([^']*)'", str(err.get("ctx", {}).get("expected", "")))
        msg += _meant(err["input"], options, 0.6)
    elif err["type"] == "unknown_step" and isinstance(err.get("input"), dict) and err["input"]:
        msg += _meant(str(next(iter(err["input"]))), STEP_KINDS, 0.6)
    elif err["type"] == "missing":
        msg = f"missing required key {loc[-1]!r}"
        key = ".".join(str(p) for p in path) or None
    msg = msg.removeprefix("Value error, ")
    return ConfigProblem(msg, Where(file=file, line=line, key=key))


def _meant(word: str, options: Iterable[str], cutoff: float) -> str:
    """`` (did you mean 'delimiter'?)`` for a misspelt key or value, else empty."""
    # The word itself may be a key of another block (`format` of a file source, where
    # a column's `formats` was meant): the nearest other one is.
    import difflib  # only a file with a problem needs it (1.6 ms of every start-up)

    close = [c for c in difflib.get_close_matches(word, list(options), 3, cutoff) if c != word]
    return f" (did you mean {close[0]!r}?)" if close else ""


def _belongs(word: str, path: tuple[Any, ...]) -> str:
    """`` (it belongs under pipelines.p.destination)`` for a key of another block, the
    one nearest where it was written; else empty (it is in no block, or in one only a
    name of the user's would place)."""
    here = [str(p) for p in path]
    best: list[str] | None = None
    for where in _key_paths(Project.model_json_schema()).get(word, []):
        named: list[str] = []
        for i, part in enumerate(where):
            # `*` is a name of the user's (a pipeline's, a source's): the one written
            # here, while the block is the one written here
            same = named == here[: len(named)] and i < len(here)
            named.append(here[i] if part == "*" and same else part)
        if best is None or _shared(named, here) > _shared(best, here):
            best = named
    if best is None or "*" in best:
        return ""
    return f" (it belongs under {'.'.join(best)})" if best else " (it belongs at the top)"


def _shared(a: list[str], b: list[str]) -> int:
    """How many leading parts ``a`` and ``b`` share."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _key_paths(schema: dict[str, Any]) -> dict[str, list[list[str]]]:
    """Every key of the project file's JSON schema, with the blocks it is a key of
    (``*`` for a name of the user's, as under ``pipelines``)."""
    defs = schema.get("$defs", {})
    found: dict[str, list[list[str]]] = {}

    def walk(node: dict[str, Any], at: list[str], seen: frozenset[str]) -> None:
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                walk(defs[name], at, seen | {name})
            return
        for option in node.get("anyOf", []) + node.get("oneOf", []) + node.get("allOf", []):
            walk(option, at, seen)
        for key, sub in node.get("properties", {}).items():
            found.setdefault(key, []).append(at)
            walk(sub, [*at, key], seen)
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            walk(extra, [*at, "*"], seen)
        if isinstance(node.get("items"), dict):
            walk(node["items"], [*at, "*"], seen)

    walk(schema, [], frozenset())
    return found


def _known_keys() -> set[str]:
    """Every key of every block of ``sluice.yaml`` (a misspelt one is matched to the
    nearest, wherever it belongs: cheaper than following unions down the path)."""
    return set(_key_paths(Project.model_json_schema()))


def parse_project(text: str, file: str = PROJECT_FILE, root: Path | None = None) -> Project:
    """Parse project text; raise :class:`ProjectInvalid` listing every problem."""
    lines: dict[tuple[Any, ...], int] = {}
    try:
        data = _read_yaml(text, lines)
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
    project._overrides = {k: v for k in OVERRIDES if (v := os.environ.get(k))}
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
