"""The docs cannot drift from the code: commands, keys, endpoints, errors, types, links.

The CLI, sluice.yaml, REST and error references are made by ``docs/hooks.py`` when the
site is built; these tests call the same functions and check what they make covers the
code, that the hand-written pages still say what the code does, and that the site builds
with ``mkdocs build --strict`` (skipped where mkdocs is not installed: ``make test``
installs the docs extra, so it runs there).
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import typer.main
import yaml
from sqlalchemy.dialects import postgresql, sqlite

import sluice
from sluice.cli.app import app
from sluice.sqltypes import SA_TYPES, sql_type

ROOT = Path(__file__).parents[2]
DOCS = ROOT / "docs"
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _page(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def _hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sluice_docs_hooks", DOCS / "hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hooks = _hooks()


def _commands(group: Any, prefix: str = "sluice") -> list[str]:
    out = []
    for name, cmd in group.commands.items():
        full = f"{prefix} {name}"
        if hasattr(cmd, "commands"):  # a command group
            out += _commands(cmd, full)
        else:
            out.append(full)
    return out


def test_every_cli_command_and_option_is_in_the_generated_reference() -> None:
    commands = _commands(typer.main.get_group(app))
    assert len(commands) >= 11
    assert [name for name, _, _ in hooks.cli_commands()] == commands
    reference = hooks.cli_markdown()
    for name, command, ctx in hooks.cli_commands():
        assert f"`{name}`" in reference, name
        for param in command.get_params(ctx):
            for opt in param.opts:
                if opt.startswith("-") and not param.hidden:
                    assert f"{opt}" in reference, (name, opt)
    assert "<!-- generate: cli -->" in _page("reference/cli.md")


def test_every_cli_command_has_a_row_with_an_example() -> None:
    page = _page("reference/cli.md")
    for command in _commands(typer.main.get_group(app)):
        row = next((line for line in page.splitlines() if line.startswith(f"| `{command}")), "")
        assert row, f"{command} is not in the CLI page's table"
        example = row.rsplit("|", 2)[-2]
        assert command in example, f"{command} has no example in the CLI page's table"


def test_every_sluice_yaml_key_is_in_the_generated_reference() -> None:
    schema = hooks.config_schema()
    reference = hooks.config_markdown()
    for key in schema["properties"]:
        assert f"| `{key}` |" in reference, key
    for name, definition in schema["$defs"].items():
        if name == "Variable":
            continue
        assert f"## {name} {{#{name.lower()}}}" in reference, name
        for key in definition.get("properties", {}):
            assert f"| `{key}` |" in reference, (name, key)
    assert "<!-- generate: config -->" in _page("reference/sluice-yaml.md")


def test_every_endpoint_is_in_the_generated_reference() -> None:
    pytest.importorskip("fastapi")
    spec = hooks.openapi()
    reference = hooks.rest_markdown()
    assert len(spec["paths"]) >= 10
    for path, operations in spec["paths"].items():
        for method in operations:
            assert f"### `{method.upper()} {path}`" in reference, (method, path)
    assert "<!-- generate: rest -->" in _page("reference/rest-api.md")


def test_every_error_is_in_the_generated_reference() -> None:
    from sluice import errors

    reference = hooks.errors_markdown()
    classes = {cls for _, cls in hooks.error_classes()}
    for value in vars(errors).values():
        if isinstance(value, type) and issubclass(value, errors.SluiceError):
            assert value in classes, value
            assert f"`{value.__name__}` | {value.exit_code} |" in reference, value
            assert value.__doc__, f"{value.__name__} has no docstring"
    assert "<!-- generate: errors -->" in _page("reference/errors.md")


def test_exit_codes_page_matches_the_cli() -> None:
    from sluice.cli import errors as cli_errors

    page = _page("reference/errors.md")
    for code in (
        cli_errors.EXIT_OK,
        cli_errors.EXIT_FAILED,
        cli_errors.EXIT_USAGE,
        cli_errors.EXIT_QUARANTINED,
        130,
        143,
    ):
        assert f"| `{code}` |" in page, code


def test_type_table_matches_the_dialects() -> None:
    duckdb = pytest.importorskip("duckdb")
    duckdb_engine = pytest.importorskip("duckdb_engine")
    from sqlalchemy.dialects import mysql

    from sluice.destinations.mysql import MYSQL_TYPES

    def same(cell: str, created: str) -> bool:
        return cell.replace(" ", "").upper().startswith(created.replace(" ", "").upper())

    page = _page("reference/types.md")
    ddb = duckdb.connect()
    for type_ in SA_TYPES:
        row = next(line for line in page.splitlines() if line.startswith(f"| `{type_}` |"))
        _, _name, lite, pg, my, duck, _ = (c.strip() for c in row.split("|"))
        assert lite.startswith(sql_type(type_, sqlite.dialect())), row
        assert pg.startswith(sql_type(type_, postgresql.dialect())), row
        my_type = MYSQL_TYPES.get(type_, mysql.LONGTEXT())
        assert same(my, my_type.compile(dialect=mysql.dialect())), row
        # DuckDB names some types its own way (TEXT is VARCHAR): ask it.
        ddb.execute(f"CREATE TABLE t_{type_} (c {sql_type(type_, duckdb_engine.Dialect())})")
        (created,) = ddb.execute(
            f"SELECT data_type FROM information_schema.columns WHERE table_name = 't_{type_}'"
        ).fetchone() or ("?",)
        assert same(duck, created), (row, created)


def test_public_surface_is_small_sorted_documented_and_typed() -> None:
    import inspect

    assert sluice.__all__ == sorted(sluice.__all__)
    assert re.match(r"^\d+\.\d+\.\d+$", sluice.__version__)
    page = _page("reference/python-api.md")
    for name in sluice.__all__:
        assert hasattr(sluice, name), name
        if name == "__version__":
            continue
        assert f"::: sluice.{name}" in page, f"sluice.{name} is not on the Python API page"
        value = getattr(sluice, name)
        assert inspect.getdoc(value), f"sluice.{name} has no docstring"
        if inspect.isfunction(value):
            hints = value.__annotations__
            assert "return" in hints, name
            params = inspect.signature(value).parameters
            assert all(p in hints for p in params), name


def test_the_python_api_example_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unset_urls: None
) -> None:
    from sluice.testing import copy_example

    page = _page("reference/python-api.md")
    code = page.split("```python\n", 1)[1].split("```", 1)[0]
    copy_example("leads", tmp_path / "examples" / "leads")
    monkeypatch.chdir(tmp_path)
    printed: list[tuple[Any, ...]] = []
    exec(code, {"print": lambda *args: printed.append(args)})
    assert printed[0] == ("succeeded_with_quarantine", 54)
    assert printed[1][1] == "succeeded_with_quarantine"  # the drifted file stays set aside


def test_state_store_head_matches_the_migrations() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from sluice.state import store

    cfg = Config()
    cfg.set_main_option("script_location", str(store.MIGRATIONS))
    assert ScriptDirectory.from_config(cfg).get_current_head() == store.HEAD


# --- pages and links -------------------------------------------------------------------------


def _nav_pages(nav: Any) -> list[str]:
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, dict):
        return [p for value in nav.values() for p in _nav_pages(value)]
    return [p for item in nav for p in _nav_pages(item)]


def _mkdocs() -> dict[str, Any]:
    class Loader(yaml.SafeLoader):
        pass

    # mkdocs.yml may hold !!python/name tags (pymdownx); this test needs only its keys
    Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda *_: None)
    config: dict[str, Any] = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=Loader)
    return config


def test_every_page_is_in_the_nav_and_every_nav_entry_exists() -> None:
    nav = _nav_pages(_mkdocs()["nav"])
    pages = sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md"))
    assert sorted(nav) == pages


_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _relative_links(text: str) -> list[str]:
    text = re.sub(r"```.*?```", "", text, flags=re.S)  # code blocks hold no links
    text = re.sub(r"`[^`\n]*`", "", text)
    return [
        link
        for link in _LINK.findall(text)
        if not re.match(r"^[a-z][a-z0-9+.-]*:", link) and not link.startswith("#")
    ]


def test_every_relative_link_resolves() -> None:
    files = [ROOT / "README.md", *DOCS.rglob("*.md")]
    broken = []
    for file in files:
        for link in _relative_links(file.read_text(encoding="utf-8")):
            target = (file.parent / link.split("#", 1)[0]).resolve()
            if not target.exists():
                broken.append(f"{file.relative_to(ROOT)}: {link}")
    assert not broken, broken


def test_readme_is_short_and_links_into_the_docs() -> None:
    lines = README.splitlines()
    assert len(lines) < 200, f"README.md has {len(lines)} lines"
    links = _relative_links(README)
    assert any(link.startswith("docs/") for link in links)
    assert "make demo" in README and "make test" in README


def test_the_package_map_is_true() -> None:
    page = _page("explanation/architecture.md")
    block = page.split("## The package", 1)[1].split("```", 2)[1]
    package = ROOT / "sluice"
    for folder in sorted(p.name for p in package.iterdir() if (p / "__init__.py").exists()):
        assert f"  {folder}/" in block, f"sluice/{folder}/ is not in the package map"
    for module in sorted(p.name for p in package.glob("*.py")):
        if module != "__main__.py":
            assert module in block, f"sluice/{module} is not in the package map"
    names = set(re.findall(r"\b([a-z_]+\.py)\b", block))
    everywhere = {p.name for p in package.rglob("*.py")}
    assert names <= everywhere, (
        f"the package map names files that do not exist: {names - everywhere}"
    )
    for folder in re.findall(r"\b([a-z_]+)/", block):
        assert any(p.is_dir() for p in package.rglob(folder)) or folder == "sluice", folder


def test_the_readme_map_names_every_subpackage() -> None:
    block = README.split("## Development", 1)[1].split("```", 2)[1]
    package = ROOT / "sluice"
    subpackages = {p.name for p in package.iterdir() if (p / "__init__.py").exists()}
    named = set(re.findall(r"\b([a-z_]+)/", block)) - {"sluice"}
    assert named == subpackages
    for module in re.findall(r"\b([a-z_]+\.py)\b", block):
        assert (package / module).exists(), module


def test_the_dashboard_links_the_api_docs_and_the_docs_site() -> None:
    base = (ROOT / "sluice/service/dashboard/templates/base.html").read_text(encoding="utf-8")
    assert "url_for('docs-swagger')" in base
    assert "docs_site()" in base
    from sluice.service.dashboard.templating import DOCS_SITE

    assert _mkdocs()["site_url"] == DOCS_SITE


@pytest.mark.parametrize("configured", [None, "https://docs.example.com/sluice/"])
def test_the_dashboard_renders_both_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, configured: str | None
) -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from sluice.config import parse_project
    from sluice.service import close, create_app
    from sluice.service.dashboard.templating import DOCS_SITE
    from sluice.service.settings import ServiceSettings

    monkeypatch.delenv("SLUICE_STATE_URL", raising=False)
    if configured:
        monkeypatch.setenv("SLUICE_DOCS_URL", configured)
    else:
        monkeypatch.delenv("SLUICE_DOCS_URL", raising=False)
    project = parse_project("name: links\n", root=tmp_path)
    app = create_app(project, ServiceSettings(dev_open=True), executor="local")
    try:
        page = TestClient(app, base_url="http://127.0.0.1").get("/signin").text
    finally:
        close(app)
    assert re.search(r'href="[^"]*/docs"', page)
    assert f'href="{configured or DOCS_SITE}"' in page


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs")
    pytest.importorskip("material")
    pytest.importorskip("mkdocstrings")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert (tmp_path / "reference/cli/index.html").exists()
    cli = (tmp_path / "reference/cli/index.html").read_text(encoding="utf-8")
    assert "sluice quarantine replay" in cli
    api = (tmp_path / "reference/python-api/index.html").read_text(encoding="utf-8")
    assert 'id="sluice.run_pipeline"' in api
