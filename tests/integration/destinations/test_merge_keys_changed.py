"""Merge keys changed after the table was made: refused before anything loads when a
unique key of the table lies outside the new keys, on every warehouse, and each way
out the hint names works.

Before, MariaDB's upsert found the row by the old primary key and updated it: a row
new by ``[id, region]`` overwrote another region's values, silently. PostgreSQL failed
the load with "duplicate key value violates unique constraint" and a hint to "fix the
cause".
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sluice.destinations import connect
from tests.conftest import warehouse_url
from tests.support.cli import sluice
from tests.support.warehouses import execute

DIALECTS = ["sqlite", "postgresql", "mysql", "duckdb"]

PROJECT = """\
warehouse: "{url}"
pipelines:
  p:
    sources:
      s: {{type: file, path: "data/*.csv"}}
    table:
      name: {table}
      keys: [{keys}]
      columns:
        id: {{type: integer, required: true}}
        region: string
        v: integer
    destination: {{mode: {mode}}}
"""


def write(root: Path, url: str, keys: str, mode: str = "merge", table: str = "t") -> None:
    (root / "sluice.yaml").write_text(PROJECT.format(url=url, keys=keys, mode=mode, table=table))


def drop(root: Path, name: str, rows: str) -> None:
    (root / "data").mkdir(exist_ok=True)
    (root / "data" / name).write_text("id,region,v\n" + rows)


def table(url: str, name: str = "t") -> list[tuple[object, ...]]:
    q = connect(url).quote  # type: ignore[attr-defined]
    return execute(url, f"SELECT id, region, v FROM {q(name)} ORDER BY id, region")


def run(root: Path, *args: str) -> dict[str, object]:
    out = sluice("run", "p", "-p", str(root), "--json", *args)
    return {"code": out.returncode, **json.loads(out.stdout or "{}")}


@pytest.mark.parametrize("db", DIALECTS)
def test_keys_widened_past_the_primary_key_are_refused_then_fixed(
    request: pytest.FixtureRequest, tmp_path: Path, db: str
) -> None:
    url = warehouse_url(request, db, tmp_path)
    write(tmp_path, url, "id")
    drop(tmp_path, "a.csv", "1,eu,1\n2,eu,2\n")
    assert run(tmp_path)["code"] == 0
    # Ids turn out to repeat across regions: the key is (id, region) from now on
    write(tmp_path, url, "id, region")
    drop(tmp_path, "b.csv", "1,us,10\n2,eu,20\n")
    report = run(tmp_path)
    assert report["code"] == 2, report
    (error,) = report["errors"]  # type: ignore[misc]
    assert error["type"] == "KeysChanged"
    assert "has its primary key on [id], which the merge keys" in error["message"]
    assert "[id, region], do not include" in error["message"]
    assert "keys: [id]" in error["hint"]
    assert table(url) == [(1, "eu", 1), (2, "eu", 2)]  # nothing loaded, nothing merged
    if db in ("postgresql", "mysql"):
        for statement in error["hint"].split("; the SQL: ", 1)[1].split("; "):
            execute(url, statement)
        assert run(tmp_path)["code"] == 0
        assert table(url) == [(1, "eu", 1), (1, "us", 10), (2, "eu", 20)]
        return
    # SQLite and DuckDB cannot drop a primary key: a new table, every file again
    assert "the SQL" not in error["hint"]
    (command,) = re.findall(r"`(sluice run [^`]+)`", error["hint"])
    write(tmp_path, url, "id, region", table="t_by_region")
    out = sluice(*command.split()[1:], "-p", str(tmp_path))
    assert out.returncode == 0, out.stdout + out.stderr
    assert table(url, "t_by_region") == [(1, "eu", 1), (1, "us", 10), (2, "eu", 20)]


@pytest.mark.parametrize("db", ["postgresql", "sqlite"])
def test_the_unique_index_of_an_appended_table_dropped_as_the_hint_says(
    request: pytest.FixtureRequest, tmp_path: Path, db: str
) -> None:
    """A table made under append gets a unique index when it turns to merge; keys
    changed later find that index: the hint drops it and the next run makes one on the
    new keys."""
    url = warehouse_url(request, db, tmp_path)
    write(tmp_path, url, "id", mode="append")
    drop(tmp_path, "a.csv", "1,eu,1\n")
    assert run(tmp_path)["code"] == 0
    write(tmp_path, url, "id")
    drop(tmp_path, "b.csv", "1,eu,2\n")
    assert run(tmp_path)["code"] == 0
    write(tmp_path, url, "id, region")
    drop(tmp_path, "c.csv", "1,us,3\n")
    report = run(tmp_path)
    (error,) = report["errors"]  # type: ignore[misc]
    assert "has a unique index (ux_t_keys) on [id]" in error["message"]
    (statement,) = error["hint"].split("; the SQL: ", 1)[1].split("; ")
    execute(url, statement)
    assert run(tmp_path)["code"] == 0
    assert table(url) == [(1, "eu", 2), (1, "us", 3)]


@pytest.mark.parametrize("db", DIALECTS)
def test_keys_narrowed_with_repeats_in_the_table_say_how_to_find_them(
    request: pytest.FixtureRequest, tmp_path: Path, db: str
) -> None:
    """Narrower keys need a unique index the rows already there break: the error says
    so, and its query finds the rows."""
    url = warehouse_url(request, db, tmp_path)
    write(tmp_path, url, "id, region")
    drop(tmp_path, "a.csv", "1,eu,1\n1,us,2\n2,eu,3\n")
    assert run(tmp_path)["code"] == 0
    write(tmp_path, url, "id")
    drop(tmp_path, "b.csv", "2,eu,30\n")
    report = run(tmp_path)
    assert report["code"] == 1, report
    (error,) = report["errors"]  # type: ignore[misc]
    assert error["message"].startswith("table 't' holds rows with the same merge keys [id]")
    (find,) = re.findall(r"find them: (SELECT [^;]+);", error["hint"])
    assert execute(url, find) == [(1, 2)]
    assert table(url) == [(1, "eu", 1), (1, "us", 2), (2, "eu", 3)]
    # Without repeats the narrower keys take: a unique index on them, merged by id
    execute(url, "DELETE FROM t WHERE region = 'us'")
    assert run(tmp_path)["code"] == 0
    assert table(url) == [(1, "eu", 1), (2, "eu", 30)]
    drop(tmp_path, "c.csv", "1,us,10\n")
    assert run(tmp_path)["code"] == 0
    assert table(url) == [(1, "us", 10), (2, "eu", 30)]
