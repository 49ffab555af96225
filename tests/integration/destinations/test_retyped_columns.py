"""A column declared with another type than its table was made with is refused before
anything loads, on every warehouse, and each way out the hint names works.

Before, the database converted the values on the way in, silently: PostgreSQL loaded
``00123`` into the old BIGINT column as ``123``, SQLite turned an integer past BIGINT
into a REAL, a DATE column dropped a datetime's time.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest

from sluice.destinations import connect
from sluice.destinations.sql import SqlDestination
from sluice.errors import TypesChanged
from sluice.schema import ColumnSpec, TableSpec
from tests.conftest import warehouse_url
from tests.support.cli import sluice
from tests.support.warehouses import execute

DIALECTS = ["sqlite", "postgresql", "mysql", "duckdb"]
TYPES = ["string", "integer", "float", "decimal", "boolean", "date", "datetime", "list"]
#: declared -> made for: loads unchanged though the families differ (MariaDB keeps a
#: list's JSON as LONGTEXT, which is a string column to its catalog)
ACCEPTED = {("list", "string")}

PROJECT = """\
warehouse: "{url}"
pipelines:
  p:
    sources:
      s: {{type: file, path: "data/*.csv"}}
    table:
      name: {table}
      {keys}
      columns:
        id: {{type: integer, required: true}}
        code: {code}
        at: {at}
    destination: {{mode: {mode}}}
"""


def write_project(
    root: Path,
    url: str,
    *,
    code: str,
    at: str,
    mode: str = "append",
    table: str = "t",
    keys: str = "",
) -> None:
    text = PROJECT.format(url=url, table=table, keys=keys, code=code, at=at, mode=mode)
    (root / "sluice.yaml").write_text(text)


def add_file(root: Path, name: str, text: str) -> None:
    (root / "data").mkdir(exist_ok=True)
    (root / "data" / name).write_text(text)


def rows(url: str, table: str = "t") -> list[tuple[object, ...]]:
    q = connect(url).quote  # type: ignore[attr-defined]
    return execute(url, f"SELECT id, code, {q('at')} FROM {q(table)} ORDER BY id")


def run_hint_statements(url: str, hint: str) -> int:
    """Run the SQL the hint names, as a user pastes it into the database's client."""
    statements = hint.split("; the SQL: ", 1)[1].split("; ")
    execute(url, *statements)
    return len(statements)


def refused(root: Path) -> dict[str, object]:
    out = sluice("run", "p", "-p", str(root), "--json")
    assert out.returncode == 2, out.stdout + out.stderr
    (error,) = json.loads(out.stdout)["errors"]
    assert error["type"] == "TypesChanged"
    return error  # type: ignore[no-any-return]


@pytest.mark.parametrize("db", DIALECTS)
def test_every_other_declared_type_is_refused(
    request: pytest.FixtureRequest, tmp_path: Path, db: str
) -> None:
    """A table made with every declared type, read back from the warehouse's catalog:
    declared again as made, it is taken; each column declared as any other type is
    refused, naming that column, what it was made for and what is declared now."""
    url = warehouse_url(request, db, tmp_path)
    dest = connect(url)
    assert isinstance(dest, SqlDestination)
    made = TableSpec("every", [ColumnSpec(f"c_{t}", t) for t in TYPES])
    assert dest.prepare(made, "append") == []
    assert dest.prepare(made, "append") == []
    refusals = 0
    for made_for, declared in itertools.permutations(TYPES, 2):
        spec = TableSpec(
            "every",
            [ColumnSpec(c.name, declared if c.type == made_for else c.type) for c in made.columns],
        )
        if (declared, made_for) in ACCEPTED:
            assert dest.prepare(spec, "append") == []
            continue
        with pytest.raises(TypesChanged) as caught:
            dest.prepare(spec, "append")
        (change,) = caught.value.changes
        assert (change.column, change.made_for, change.declared) == (
            f"c_{made_for}",
            made_for,
            declared,
        )
        assert change.shown in caught.value.message
        refusals += 1
    assert refusals == 55
    # A replace loads a table made anew, as declared: nothing to convert
    spec = TableSpec("every", [ColumnSpec("c_string", "integer")])
    dest.prepare(spec, "replace")


@pytest.mark.parametrize("db", ["postgresql", "mysql", "duckdb"])
def test_the_hints_alter_table_converts_the_column_then_the_run_loads(
    request: pytest.FixtureRequest, tmp_path: Path, db: str
) -> None:
    url = warehouse_url(request, db, tmp_path)
    write_project(tmp_path, url, code="integer", at="datetime")
    add_file(tmp_path, "a.csv", "id,code,at\n1,12,2024-01-02T23:30:00-05:00\n")
    assert sluice("run", "p", "-p", str(tmp_path)).returncode == 0
    # The codes are zip-like: leading zeros matter; only the day is known
    write_project(tmp_path, url, code="string", at="date")
    add_file(
        tmp_path, "b.csv", "id,code,at\n2,00123,2024-01-04\n3,12345678901234567890,1999-12-31\n"
    )
    error = refused(tmp_path)
    message, hint = str(error["message"]), str(error["hint"])
    assert "'code' is " in message and "(made for integer), declared string" in message
    assert "(made for datetime), declared date" in message
    assert "code: integer, at: datetime" in hint
    assert "sluice run p --full-refresh" in hint
    assert rows(url) == rows(url)[:1] and len(rows(url)) == 1  # nothing loaded
    run_hint_statements(url, hint)
    out = sluice("run", "p", "-p", str(tmp_path), "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    got = [(i, c, str(a)) for i, c, a in rows(url)]
    # The old row converted through UTC (04:30 on the 3rd), the new ones as written
    assert got == [
        (1, "12", "2024-01-03"),
        (2, "00123", "2024-01-04"),
        (3, "12345678901234567890", "1999-12-31"),
    ]


def test_sqlite_has_no_alter_column_the_hint_loads_a_new_table(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    write_project(tmp_path, url, code="integer", at="datetime")
    add_file(tmp_path, "a.csv", "id,code,at\n1,00012,2024-01-02 10:00:00\n")
    assert sluice("run", "p", "-p", str(tmp_path)).returncode == 0
    write_project(tmp_path, url, code="string", at="datetime")
    add_file(tmp_path, "b.csv", "id,code,at\n2,12345678901234567890,2024-01-04 10:00:00\n")
    error = refused(tmp_path)
    hint = str(error["hint"])
    assert "ALTER" not in hint  # SQLite cannot change a column's type
    assert "give table.name a new name" in hint
    assert rows(url) == [(1, 12, "2024-01-02 10:00:00.000000+00:00")]
    write_project(tmp_path, url, code="string", at="datetime", table="t_text")
    (command,) = re.findall(r"`(sluice run [^`]+)`", hint)
    out = sluice(*command.split()[1:], "-p", str(tmp_path))
    assert out.returncode == 0, out.stdout + out.stderr
    # Both files again, the codes as the files write them
    assert [r[:2] for r in rows(url, "t_text")] == [(1, "00012"), (2, "12345678901234567890")]


def test_snapshot_view_is_dropped_by_the_hint_and_made_again(tmp_path: Path, pg_url: str) -> None:
    """PostgreSQL will not change a column a view reads: the hint drops the snapshot's
    `_latest` view first, and the next run makes it again."""
    write_project(tmp_path, pg_url, code="integer", at="date", mode="snapshot")
    add_file(tmp_path, "a.csv", "id,code,at\n1,7,2024-01-02\n")
    assert sluice("run", "p", "-p", str(tmp_path)).returncode == 0
    write_project(tmp_path, pg_url, code="string", at="date", mode="snapshot")
    add_file(tmp_path, "b.csv", "id,code,at\n2,007,2024-01-03\n")
    hint = str(refused(tmp_path)["hint"])
    assert run_hint_statements(pg_url, hint) == 2
    assert sluice("run", "p", "-p", str(tmp_path)).returncode == 0
    dest = connect(pg_url)
    assert isinstance(dest, SqlDestination)
    with dest.engine.connect() as conn:
        latest = conn.exec_driver_sql("SELECT id, code FROM t_latest ORDER BY id").all()
    assert [tuple(r) for r in latest] == [(2, "007")]


def test_merge_key_retyped_on_mariadb_keeps_its_key(tmp_path: Path, mysql_url: str) -> None:
    """A merge key made BIGINT, declared string: MODIFY gives it the bounded VARCHAR a
    key needs, NOT NULL kept, and the next merge updates by the new key."""
    keyed = {"mode": "merge", "keys": "keys: [code]", "at": "date"}
    write_project(tmp_path, mysql_url, code="{type: integer, required: true}", **keyed)
    add_file(tmp_path, "a.csv", "id,code,at\n1,42,2024-01-02\n")
    out = sluice("run", "p", "-p", str(tmp_path))
    assert out.returncode == 0, out.stdout + out.stderr
    write_project(tmp_path, mysql_url, code="{type: string, required: true}", **keyed)
    add_file(tmp_path, "b.csv", "id,code,at\n2,42,2024-02-02\n3,042,2024-03-03\n")
    hint = str(refused(tmp_path)["hint"])
    assert "NOT NULL" in hint
    run_hint_statements(mysql_url, hint)
    out = sluice("run", "p", "-p", str(tmp_path))
    assert out.returncode == 0, out.stdout + out.stderr
    assert [(i, c) for i, c, _ in rows(mysql_url)] == [(2, "42"), (3, "042")]
