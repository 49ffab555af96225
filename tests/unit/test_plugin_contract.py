"""No code outside a plugin package asks which concrete plugin it holds.

The engine, the executors, the service and the CLI work with sources and destinations
through their interfaces (``sluice.sources.base``, ``sluice.destinations.base``): what a
unit learned (``checkpoint``, ``vanished``, ``http_stats()``), what a destination can
do (``capabilities``, ``warehouse()``, ``delivery_stats()``). An ``isinstance`` on a
concrete plugin class (``SqlDestination``, ``HttpUnit``, ...) outside its own package
is the interface leaking: this test reads every module of ``sluice`` and names each one.
(The import rule, that plugins never import the state store or the engine, is
import-linter's: ``make lint``.)
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SLUICE = Path(__file__).parents[2] / "sluice"
#: the plugin packages: a class defined in one may be tested for only inside it
PLUGINS = ("sluice.sources", "sluice.destinations")


@dataclass(frozen=True)
class Leak:
    module: str
    line: int
    plugin_class: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line}: isinstance on {self.plugin_class}"


def module_name(path: Path) -> str:
    parts = path.relative_to(SLUICE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def plugin_of(module: str) -> str | None:
    """The plugin package ``module`` belongs to (None: not a plugin's module)."""
    return next((p for p in PLUGINS if module == p or module.startswith(p + ".")), None)


def _is_protocol(node: ast.ClassDef) -> bool:
    names = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}
    return "Protocol" in names


def concrete_classes(sources: dict[str, str]) -> dict[str, set[str]]:
    """Plugin module -> the concrete classes it defines (interfaces, the Protocols, are
    what the engine is meant to use, so they are not listed)."""
    found: dict[str, set[str]] = {}
    for module, text in sources.items():
        if plugin_of(module) is None:
            continue
        found[module] = {
            node.name
            for node in ast.walk(ast.parse(text))
            if isinstance(node, ast.ClassDef) and not _is_protocol(node)
        }
    return found


def _named(node: ast.expr) -> Iterator[ast.expr]:
    """The class expressions of isinstance's second argument: a name, ``a.B``, a tuple
    of them, or a union ``A | B``."""
    if isinstance(node, ast.Tuple):
        for elt in node.elts:
            yield from _named(elt)
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        yield from _named(node.left)
        yield from _named(node.right)
    else:
        yield node


def leaks(module: str, text: str, classes: dict[str, set[str]]) -> list[Leak]:
    """The isinstance calls of ``module`` on a concrete class of another package's plugin.

    Names are resolved through the module's imports (``from sluice.destinations.sql
    import SqlDestination``, ``import sluice.sources.file as f`` then ``f.FileUnit``), so
    a class of the same name defined elsewhere is not mistaken for a plugin's.
    """
    own = plugin_of(module)
    tree = ast.parse(text)
    names: dict[str, tuple[str, str]] = {}  # local name -> (plugin module, class)
    modules: dict[str, str] = {}  # local name -> plugin module
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and plugin_of(node.module):
            for alias in node.names:
                local = alias.asname or alias.name
                sub = f"{node.module}.{alias.name}"
                if sub in classes:  # `from sluice.sources import file`
                    modules[local] = sub
                else:
                    names[local] = (node.module, alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if plugin_of(alias.name) and alias.name in classes:
                    modules[alias.asname or alias.name] = alias.name
    found: list[Leak] = []
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "isinstance"
            and len(node.args) == 2
        ):
            continue
        for expr in _named(node.args[1]):
            where: tuple[str, str] | None = None
            if isinstance(expr, ast.Name) and expr.id in names:
                where = names[expr.id]
            elif isinstance(expr, ast.Attribute):
                base = ast.unparse(expr.value)
                if base in modules:
                    where = (modules[base], expr.attr)
                elif base in classes:  # the module spelled out: sluice.sources.file.FileUnit
                    where = (base, expr.attr)
            if where is None:
                continue
            plugin_module, cls = where
            # A package re-exports its classes (`from sluice.sources import ...`): the
            # class counts as a plugin's when any module of that package defines it.
            package = plugin_of(plugin_module)
            defined = {c for m, cs in classes.items() if plugin_of(m) == package for c in cs}
            if cls in defined and package != own:
                found.append(Leak(module, node.lineno, cls))
    return found


def read_package() -> dict[str, str]:
    return {module_name(p): p.read_text() for p in sorted(SLUICE.rglob("*.py"))}


def test_no_isinstance_on_a_concrete_plugin_outside_its_package() -> None:
    sources = read_package()
    classes = concrete_classes(sources)
    assert "SqlDestination" in classes["sluice.destinations.sql"]
    assert "HttpUnit" in classes["sluice.sources.http.source"]
    found = [str(leak) for m, text in sources.items() for leak in leaks(m, text, classes)]
    assert found == [], "ask the interface instead:\n" + "\n".join(found)


def test_the_check_finds_what_it_is_meant_to_find() -> None:
    # The check can fail: each planted isinstance below is found, in every spelling.
    classes = {
        "sluice.destinations.sql": {"SqlDestination"},
        "sluice.destinations.http": {"HttpDestination"},
        "sluice.sources.file_unit": {"FileUnit"},
        "sluice.destinations.base": {"LoadResult"},
    }
    planted = """
from sluice.destinations.sql import SqlDestination
from sluice.destinations.http import HttpDestination as Http
import sluice.sources.file_unit as fu
from sluice.destinations import LoadResult

def f(dest, unit, result):
    if isinstance(dest, SqlDestination | Http):
        pass
    if isinstance(unit, (int, fu.FileUnit)):
        pass
    if isinstance(unit, sluice.sources.file_unit.FileUnit):
        pass
    return isinstance(result, LoadResult)
"""
    found = [(leak.line, leak.plugin_class) for leak in leaks("sluice.engine.x", planted, classes)]
    assert found == [
        (8, "SqlDestination"),
        (8, "HttpDestination"),
        (10, "FileUnit"),
        (12, "FileUnit"),
        (14, "LoadResult"),
    ]
    # Inside its own package a plugin may test its own classes; a config class or a
    # same-named class from elsewhere is no plugin.
    inside = leaks("sluice.destinations.mysql", planted, classes)
    assert [(leak.line, leak.plugin_class) for leak in inside] == [
        (10, "FileUnit"),
        (12, "FileUnit"),
    ]
    other = """
from sluice.config import HttpDestinationConfig
from sluice.engine.things import SqlDestination

def g(cfg, d):
    return isinstance(cfg, HttpDestinationConfig) or isinstance(d, SqlDestination)
"""
    assert leaks("sluice.engine.y", other, classes) == []
