"""sluice.yaml: interpolation, problems with file/line/key, and the project commands."""

from __future__ import annotations

import json
import sqlite3
import textwrap
from contextlib import closing
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sluice.cli.app import app
from sluice.config import interpolate, load_project, parse_project
from sluice.errors import ConfigError, ProjectInvalid

MINIMAL = """\
name: demo
warehouse: WAREHOUSE
pipelines:
  p:
    sources:
      s:
        type: file
        path: PATH
    table:
      name: t
      columns:
        id: integer
"""


def minimal(warehouse: str = "sqlite:///w.db", path: str = "data/*.csv") -> str:
    return MINIMAL.replace("WAREHOUSE", warehouse).replace("PATH", path)


def problems(text: str, file: str = "proj/sluice.yaml") -> list[tuple[str, int | None, str | None]]:
    with pytest.raises(ProjectInvalid) as info:
        parse_project(textwrap.dedent(text), file)
    for p in info.value.problems:
        assert p.where.file == file
    return [(p.message, p.where.line, p.where.key) for p in info.value.problems]


@pytest.fixture
def cli() -> CliRunner:
    return CliRunner()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (
        "SLUICE_WAREHOUSE_URL",
        "SLUICE_STATE_URL",
        "SLUICE_PROJECT",
        "SLUICE_T_DB",
        "SLUICE_T_DIR",
    ):
        monkeypatch.delenv(var, raising=False)


# --------------------------------------------------------------------------- interpolation


def test_interpolation_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLUICE_T_DB", "sqlite:///from_env.db")
    monkeypatch.setenv("SLUICE_T_DIR", "drops")
    text = minimal("${SLUICE_T_DB}", "${SLUICE_T_DIR:-data}/*.csv")
    project = parse_project(text, "sluice.yaml")
    assert project.warehouse == "sqlite:///from_env.db"
    assert project.pipeline("p").sources["s"].path == "drops/*.csv"


def test_interpolation_default_when_unset_or_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    text = minimal("${SLUICE_T_DB:-sqlite:///default.db}", "${SLUICE_T_DIR:-data}/*.csv")
    project = parse_project(text, "sluice.yaml")
    assert project.warehouse == "sqlite:///default.db"
    assert project.pipeline("p").sources["s"].path == "data/*.csv"
    monkeypatch.setenv("SLUICE_T_DIR", "")
    assert parse_project(text, "sluice.yaml").pipeline("p").sources["s"].path == "data/*.csv"


def test_interpolation_escape_and_empty_default() -> None:
    assert interpolate("a $${SLUICE_T_DB} b") == "a ${SLUICE_T_DB} b"
    assert interpolate("x${SLUICE_T_DB:-}y") == "xy"


def test_missing_variable_is_a_config_error_with_line_and_key() -> None:
    text = minimal("sqlite:///w.db", "${SLUICE_T_DIR}/*.csv")
    with pytest.raises(ConfigError) as info:
        parse_project(text, "proj/sluice.yaml")
    err = info.value
    assert err.message == "environment variable SLUICE_T_DIR is not set"
    assert (err.where.file, err.where.line) == ("proj/sluice.yaml", 8)
    assert err.where.key == "pipelines.p.sources.s.path"
    assert "SLUICE_T_DIR" in (err.hint or "")
    assert str(err).startswith("proj/sluice.yaml:8")


def test_load_project_resolves_sqlite_paths_against_the_project(tmp_path: Path) -> None:
    (tmp_path / "sluice.yaml").write_text(minimal("sqlite:///sub/w.db"), encoding="utf-8")
    project = load_project(tmp_path)
    assert project.warehouse_url() == f"sqlite:///{(tmp_path / 'sub' / 'w.db').resolve()}"
    assert project.root == tmp_path.resolve()


# --------------------------------------------------------------------------- problems


def test_unknown_keys_are_reported_with_file_line_and_dotted_key() -> None:
    text = """\
    name: demo
    pipelines:
      p:
        sources:
          s:
            type: file
            path: a.csv
            delimter: ";"
        table:
          name: t
          columns:
            id: {type: integer, requird: true}
    colour: blue
    """
    # a misspelt key names the nearest one (a key of another block may be it: the
    # delimiter belongs under csv); one near none names nothing
    assert problems(text) == [
        ("unknown key 'delimter' (did you mean 'delimiter'?)", 8, "pipelines.p.sources.s.delimter"),
        (
            "unknown key 'requird' (did you mean 'required'?)",
            12,
            "pipelines.p.table.columns.id.requird",
        ),
        ("unknown key 'colour'", 13, "colour"),
    ]


TYPES = ("string", "integer", "float", "decimal", "boolean", "date", "datetime", "list")


def test_misspelt_steps_and_values_name_the_nearest() -> None:
    text = """\
    pipelines:
      p:
        sources: {s: {type: file, path: a.csv}}
        transforms:
          - dedup: {keys: [id]}
        table:
          name: t
          columns:
            id: {type: int}
            day: {type: date, format: '%d.%m.%Y'}
            n: {type: number}
    """
    said = [(msg, line) for msg, line, _ in problems(text)]
    assert [line for _, line in said] == [5, 9, 10, 11]
    assert said[0][0].endswith("or dedupe (did you mean 'dedupe'?)")
    assert said[1][0].endswith(" (did you mean 'integer'?)")
    assert said[2][0] == "unknown key 'format' (did you mean 'formats'?)"
    # `number` is near no type: the types are listed, and nothing is guessed
    assert said[3][0] == "Input should be " + ", ".join(repr(t) for t in TYPES[:-1]) + (
        f" or {TYPES[-1]!r}"
    )


def test_several_problems_are_reported_at_once() -> None:
    text = """\
    pipelines:
      p:
        sources:
          s:
            type: file
            path: a.csv
            csv: {delimiter: ";;", encoding: klingon}
        transforms:
          - trim: all
          - frobnicate: {x: 1}
        table:
          name: t
          columns:
            id: {type: int}
    """
    got = problems(text)
    assert [(line, key) for _, line, key in got] == [
        (7, "pipelines.p.sources.s.csv.delimiter"),
        (7, "pipelines.p.sources.s.csv.encoding"),
        (10, "pipelines.p.transforms.1"),
        (14, "pipelines.p.table.columns.id.type"),
    ]
    messages = [m for m, _, _ in got]
    assert messages[0] == "must be exactly one character, got ';;'"
    assert messages[1] == "unknown encoding 'klingon' (try utf-8 or latin-1)"
    assert "trim, case, cast, derive, filter or dedupe" in messages[2]
    assert "'string'" in messages[3]
    with pytest.raises(ProjectInvalid) as info:
        parse_project(textwrap.dedent(text), "proj/sluice.yaml")
    assert str(info.value).endswith("(and 3 more)")


def test_bad_regex_is_reported() -> None:
    text = """\
    pipelines:
      p:
        sources: {s: {type: file, path: a.csv}}
        table:
          name: t
          columns:
            zip: {type: string, regex: '^(\\d{5}$'}
    """
    ((message, line, key),) = problems(text)
    assert message.startswith(r"regex '^(\\d{5}$' does not compile: missing ), unterminated")
    assert (line, key) == (7, "pipelines.p.table.columns.zip.regex")


def test_dedupe_keep_last_is_refused_not_ignored() -> None:
    # It used to be accepted while the first row was kept: a silently different table.
    text = """\
    pipelines:
      p:
        sources: {s: {type: file, path: a.csv}}
        transforms:
          - dedupe: {keys: [id], keep: last}
        table: {name: t, columns: {id: string}}
    """
    ((message, line, key),) = problems(text)
    assert message.startswith("dedupe keeps the first row of each key")
    assert "remove `keep: last`" in message
    assert (line, key) == (5, "pipelines.p.transforms.0.dedupe.keep")


def test_merge_without_keys_is_reported() -> None:
    text = """\
    pipelines:
      p:
        sources: {s: {type: file, path: a.csv}}
        table:
          name: t
          columns: {id: integer}
        destination: {mode: merge}
    """
    assert problems(text) == [
        ("mode 'merge' needs table.keys (the columns to upsert on)", 2, "pipelines.p"),
    ]


def test_keys_and_mappings_must_name_columns() -> None:
    bad_key = """\
    pipelines:
      p:
        sources: {s: {type: file, path: a.csv}}
        table:
          name: t
          columns: {id: integer}
          keys: [nope]
    """
    assert problems(bad_key) == [
        ("key 'nope' is not a column of table 't'", 4, "pipelines.p.table")
    ]
    bad_map = """\
    pipelines:
      p:
        sources: {s: {type: file, path: a.csv, columns: {ghost: Ghost}}}
        table: {name: t, columns: {id: integer}}
    """
    assert problems(bad_map) == [
        ("source 's' maps 'ghost', which is not a column of table 't'", 2, "pipelines.p")
    ]


def test_hostile_names_are_refused() -> None:
    text = """\
    pipelines:
      p:
        sources: {s: {type: file, path: a.csv}}
        table:
          name: 't; drop table x'
          columns: {id: integer}
    """
    ((message, line, key),) = problems(text)
    assert message.startswith("'t; drop table x' is not a valid name")
    assert (line, key) == (5, "pipelines.p.table.name")


def test_not_yaml_is_reported_with_a_line() -> None:
    text = "pipelines:\n  p:\n    sources: [\n"
    ((message, line, _),) = problems(text)
    assert message.startswith("not valid YAML")
    assert line == 4


def test_unknown_pipeline_lists_the_known_ones() -> None:
    project = parse_project(minimal(), "sluice.yaml")
    with pytest.raises(ConfigError) as info:
        project.pipeline("nope")
    assert info.value.hint == "pipelines in this project: p"


# --------------------------------------------------------------------------- commands


def test_validate_catches_a_transform_on_an_unknown_column(tmp_path: Path, cli: CliRunner) -> None:
    text = minimal() + textwrap.indent(
        "transforms:\n  - trim: all\n  - case: {columns: [nope], to: upper}\n", "    "
    )
    (tmp_path / "sluice.yaml").write_text(text, encoding="utf-8")
    assert text.splitlines()[14].strip() == "- case: {columns: [nope], to: upper}"
    result = cli.invoke(app, ["validate", "--project", str(tmp_path)])
    assert result.exit_code == 2, result.output
    err = result.stderr
    assert "1 problem(s) in the project file" in err
    assert f"{tmp_path / 'sluice.yaml'}:15" in err.replace("\n", "")
    assert "pipelines.p.transforms.1.case" in err
    assert "nope" in err


def test_validate_reports_every_problem_with_its_line(tmp_path: Path, cli: CliRunner) -> None:
    (tmp_path / "sluice.yaml").write_text(
        minimal().replace("id: integer", "id: {typ: x}") + "bogus: 1\n", encoding="utf-8"
    )
    result = cli.invoke(app, ["validate", "--project", str(tmp_path)])
    assert result.exit_code == 2
    err = result.stderr.replace("\n", "")
    assert "2 problem(s)" in err
    assert "sluice.yaml:12, key pipelines.p.table.columns.id.typ: unknown key 'typ'" in err
    assert "sluice.yaml:13, key bogus: unknown key 'bogus'" in err


def test_validate_ok(tmp_path: Path, cli: CliRunner) -> None:
    (tmp_path / "sluice.yaml").write_text(minimal(), encoding="utf-8")
    result = cli.invoke(app, ["validate", "--project", str(tmp_path)])
    assert result.exit_code == 0, result.output
    # Rich wraps at the terminal's width, wherever the temporary path puts the break.
    out = " ".join(result.stdout.split())
    assert out.startswith("ok: ") and out.endswith("(1 pipeline(s): p)")


def test_schema_prints_json_schema(cli: CliRunner) -> None:
    result = cli.invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["title"] == "sluice.yaml"
    assert schema["additionalProperties"] is False
    assert {"name", "warehouse", "state", "synonyms", "pipelines"} <= set(schema["properties"])
    defs = schema["$defs"]
    drift = defs["FileSourceConfig"]["properties"]["drift"]["anyOf"]  # or ${VAR}
    assert set(drift[0]["enum"]) == {"quarantine", "evolve", "fail"}
    assert "members" in defs["FileSourceConfig"]["properties"]


def test_init_validate_and_run(tmp_path: Path, cli: CliRunner) -> None:
    target = tmp_path / "proj"
    result = cli.invoke(app, ["init", str(target)])
    assert result.exit_code == 0, result.output
    assert (target / "sluice.yaml").is_file()
    assert (target / "data" / "contacts.csv").is_file()

    again = cli.invoke(app, ["init", str(target)])
    assert again.exit_code == 2
    assert "already exists" in again.stderr

    result = cli.invoke(app, ["validate", "--project", str(target)])
    assert result.exit_code == 0, result.output

    result = cli.invoke(app, ["run", "contacts", "--project", str(target), "--json"])
    assert result.exit_code == 3, result.output
    report = json.loads(result.stdout)
    assert report["status"] == "succeeded_with_quarantine"
    totals = report["totals"]
    assert (totals["read"], totals["loaded"], totals["quarantined"]) == (4, 2, 2)
    with closing(sqlite3.connect(target / "warehouse.db")) as conn:
        rows = conn.execute(
            "SELECT email, country, signed_up FROM contacts ORDER BY email"
        ).fetchall()
    assert rows == [
        ("ada@example.org", "GB", "2024-01-15"),
        ("grace@example.org", "US", "2024-02-15"),
    ]

    # a second run skips the file the ledger has: nothing new, exit 0
    result = cli.invoke(app, ["run", "contacts", "--project", str(target), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["totals"]["read"] == 0


def test_a_problem_in_merged_keys_is_reported_where_they_are_merged() -> None:
    # YAML merge keys (<<) are rewritten in place while the file is read: its lines are
    # taken before, so b's problem is at b's table, not at a's lines.
    text = """\
    pipelines:
      a:
        sources: {s: {type: file, path: a.csv}}
        table: &t
          name: t
          columns: {id: integer, zip: {type: string, regex: '('}}
      b:
        sources: {s: {type: file, path: b.csv}}
        table:
          <<: *t
          name: u
    """
    assert [(line, key) for _, line, key in problems(text)] == [
        (6, "pipelines.a.table.columns.zip.regex"),
        (9, "pipelines.b.table"),
    ]


def test_the_environment_is_read_when_the_project_is_loaded_not_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SLUICE_WAREHOUSE_URL / SLUICE_STATE_URL are applied by the loader: a project
    already loaded keeps the URLs it was loaded with (a service's runs all use one)."""
    text = MINIMAL.replace("WAREHOUSE", "sqlite:///w.db").replace("PATH", "data.csv")
    monkeypatch.setenv("SLUICE_WAREHOUSE_URL", "sqlite:////tmp/from-env.db")
    monkeypatch.delenv("SLUICE_STATE_URL", raising=False)
    project = parse_project(text, str(tmp_path / "sluice.yaml"), tmp_path)
    monkeypatch.setenv("SLUICE_WAREHOUSE_URL", "sqlite:////tmp/changed-later.db")
    monkeypatch.setenv("SLUICE_STATE_URL", "sqlite:////tmp/changed-later-state.db")
    assert project.warehouse_url() == "sqlite:////tmp/from-env.db"
    assert project.url_origin()[0] == "SLUICE_WAREHOUSE_URL"
    assert "changed-later" not in project.state_url()
    again = parse_project(text, str(tmp_path / "sluice.yaml"), tmp_path)
    assert again.warehouse_url() == "sqlite:////tmp/changed-later.db"
    assert again.state_url() == "sqlite:////tmp/changed-later-state.db"


def test_a_key_written_in_another_block_names_the_block_it_belongs_under() -> None:
    text = """\
    pipelines:
      p:
        mode: merge
        sources:
          s: {type: file, path: a.csv, delimiter: ";"}
        table: {name: t, columns: {id: integer}}
        warehouse: sqlite:///w.db
    """
    assert [msg for msg, _, _ in problems(text)] == [
        "unknown key 'mode' (it belongs under pipelines.p.destination)",
        "unknown key 'delimiter' (it belongs under pipelines.p.sources.s.csv)",
        "unknown key 'warehouse' (it belongs at the top)",
    ]
