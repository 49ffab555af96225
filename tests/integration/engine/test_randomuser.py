"""examples/randomuser on every warehouse: six related tables, keys, no secrets stored."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sluice.config import load_project
from sluice.destinations import connect
from sluice.destinations.sql import SqlDestination
from sluice.engine import run_pipeline
from sluice.sim.randomuser import RandomUserConfig, create_app, user
from sluice.sim.server import SimServer
from sluice.state.store import StateStore
from tests.conftest import warehouse_url

EXAMPLE = Path(__file__).parents[3] / "examples" / "randomuser"
TABLES = {"users", "logins", "media", "timezones", "countries", "altids"}


@pytest.fixture(params=["sqlite", "postgresql", "mysql", "duckdb"])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return warehouse_url(request, request.param, tmp_path)


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[SimServer]:
    with SimServer(create_app(RandomUserConfig(max_results=100))) as server:
        monkeypatch.setenv("RANDOMUSER_API", server.url)
        yield server


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warehouse: str) -> Path:
    shutil.copy(EXAMPLE / "sluice.yaml", tmp_path / "sluice.yaml")
    monkeypatch.setenv("SLUICE_WAREHOUSE_URL", warehouse)
    monkeypatch.delenv("SLUICE_STATE_URL", raising=False)
    return tmp_path


def secrets(pages: int = 5) -> tuple[set[str], set[str]]:
    """(values no cell may equal, values no cell may contain) of the input."""
    exact, inside = set(), set()
    for page in range(1, pages + 1):
        for i in range(100):
            login = user("sluice", page, i)["login"]
            exact |= {login["password"], login["salt"]}
            inside |= {login["md5"], login["sha1"]}
    return exact, inside


HEX_RUN = re.compile(r"[0-9a-f]{32,}")


def hidden_hashes(text: str, lengths: set[int]) -> set[str]:
    """Every window of each ``lengths`` inside a lowercase hex run of ``text``: where an
    md5 or sha1 could sit. Checking these against the secrets is linear in the text,
    where testing each secret against each cell was 15 million comparisons a run."""
    found = set()
    for run in HEX_RUN.findall(text):
        for n in lengths:
            found.update(run[i : i + n] for i in range(len(run) - n + 1))
    return found


def national_ids(pages: int = 5) -> set[str]:
    """The uuids of users with a national id (NZ and TR have ``{"name": "", "value": null}``)."""
    users = [user("sluice", page, i) for page in range(1, pages + 1) for i in range(100)]
    return {u["login"]["uuid"] for u in users if u["id"]["value"] or u["id"]["name"]}


def dump(url: str) -> dict[str, list[dict[str, Any]]]:
    dest = connect(url)
    assert isinstance(dest, SqlDestination)
    try:
        with dest.engine.connect() as c:
            names = [t for t in sa.inspect(c).get_table_names() if not t.startswith("_")]
            out = {}
            for t in names:
                rows = c.execute(sa.text(f"SELECT * FROM {dest.quote(t)}"))
                out[t] = sorted((dict(r._mapping) for r in rows), key=repr)  # order: not a fact
            return out
    finally:
        dest.close()


def constraints(url: str) -> tuple[set[tuple[str, str]], list[str]]:
    """(table, referenced table) of every foreign key; the primary key of timezones."""
    dest = connect(url)
    assert isinstance(dest, SqlDestination)
    try:
        with dest.engine.connect() as c:
            if url.startswith("duckdb"):  # its SQLAlchemy inspector cannot list them
                rows = c.execute(
                    sa.text(
                        "SELECT table_name, constraint_type, referenced_table, "
                        "constraint_column_names FROM duckdb_constraints()"
                    )
                ).all()
                fks = {(r[0], r[2]) for r in rows if r[1] == "FOREIGN KEY"}
                pks = [list(r[3]) for r in rows if r[0] == "timezones" and r[1] == "PRIMARY KEY"]
                return fks, pks[0]
            inspector = sa.inspect(c)
            fks = {
                (t, fk["referred_table"]) for t in TABLES for fk in inspector.get_foreign_keys(t)
            }
            return fks, inspector.get_pk_constraint("timezones")["constrained_columns"]
    finally:
        dest.close()


def test_six_related_tables_with_keys_no_secrets_and_idempotent_reruns(
    example: Path, api: SimServer, warehouse: str
) -> None:
    project = load_project(example)
    report = run_pipeline(project, "randomuser")
    assert report.status == "succeeded", report.errors
    assert report.totals.read == report.totals.loaded == 500
    data = dump(warehouse)
    assert set(data) == TABLES
    assert {t: len(rows) for t, rows in data.items()} == {
        "users": 500,
        "logins": 500,
        "media": 500,
        "altids": len(national_ids()),  # no row for a user without one
        "timezones": 14,
        "countries": len({u["nat"] for u in data["users"]}),
    }
    assert report.as_dict()["tables"]["users"] == 500
    assert report.as_dict()["tables"]["altids"] == len(national_ids())

    # Keys join the tables back together; every reference resolves.
    uuids = {u["uuid"] for u in data["users"]}
    assert len(uuids) == 500
    for child in ("logins", "media"):
        assert {r["uuid"] for r in data[child]} == uuids
    assert {r["uuid"] for r in data["altids"]} == national_ids() < uuids
    assert {u["location_timezone_offset"] for u in data["users"]} <= {
        t["offset"] for t in data["timezones"]
    }
    assert {u["nat"] for u in data["users"]} == {c["nat"] for c in data["countries"]}

    # Policies: credentials gone, sha256 kept, ids only in the restricted table.
    assert set(data["logins"][0]) == {"uuid", "username", "sha256"}
    assert not {"id_name", "id_value", "login_password"} & set(data["users"][0])
    assert all(c["cell"].startswith("*") for c in data["users"])
    exact, inside = secrets()
    assert all(HEX_RUN.fullmatch(s) for s in inside)  # what hidden_hashes looks for
    lengths = {len(s) for s in inside}
    for table, rows in data.items():
        for row in rows:
            for value in row.values():
                text = str(value)
                assert text not in exact, (table, row)
                assert not hidden_hashes(text, lengths) & inside, (table, row)

    # Foreign keys are declared in the database.
    fks, pk = constraints(warehouse)
    assert fks == {
        ("users", "timezones"),
        ("users", "countries"),
        ("logins", "users"),
        ("media", "users"),
        ("altids", "users"),
    }
    assert pk == ["offset"]

    # The same seed again: merge on the keys changes nothing.
    again = run_pipeline(load_project(example), "randomuser")
    assert again.status == "succeeded", again.errors
    assert dump(warehouse) == data


def test_quarantine_never_shows_hidden_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A JSON Lines drop of users, one of them invalid: its quarantine entry hides PII."""
    text = (EXAMPLE / "sluice.yaml").read_text()
    source = text[text.index("    sources:") : text.index("    table:")]
    local = (
        "    sources:\n      drop:\n        type: file\n        path: users.jsonl\n"
        "        flatten: true\n        columns: {uuid: login_uuid}\n\n"
    )
    (tmp_path / "sluice.yaml").write_text(text.replace(source, local))
    users = [user("q", 1, i) for i in range(3)]
    users[1]["name"]["first"] = None  # required: the record is quarantined
    users[1]["dob"]["age"] = "old"  # not an integer
    (tmp_path / "users.jsonl").write_text("\n".join(json.dumps(u) for u in users) + "\n")
    monkeypatch.setenv("SLUICE_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'w.db'}")
    monkeypatch.delenv("SLUICE_STATE_URL", raising=False)
    project = load_project(tmp_path)
    report = run_pipeline(project, "randomuser")
    assert report.status == "succeeded_with_quarantine", report.errors
    assert (report.totals.read, report.totals.loaded, report.totals.quarantined) == (3, 2, 1)
    store = StateStore(project.state_url())
    try:
        (entry,) = store.quarantined(pipeline="randomuser")
    finally:
        store.close()
    payload = entry.payload or {}
    login = users[1]["login"]
    shown = json.dumps(payload) + json.dumps(entry.reasons)
    for secret in (login["password"], login["salt"], login["md5"], login["sha1"]):
        assert secret not in shown
    assert users[1]["id"]["value"] is None or users[1]["id"]["value"] not in shown
    assert payload["login_password"] is None
    assert payload["cell"].startswith("*")
    if users[1]["id"]["name"]:
        assert payload["id_name"] == "<restricted>"
    assert any("dob_age" in r for r in entry.reasons)
    assert any("name_first" in r for r in entry.reasons)


def test_lists_deep_nesting_empty_lists_and_mixed_types_on_every_warehouse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warehouse: str
) -> None:
    """The normalize tests' layout (tests/transforms/test_normalize.py), on each database."""
    from tests.integration.transforms.test_normalize import PETS, PROJECT, jsonl, person

    (tmp_path / "sluice.yaml").write_text(
        PROJECT % {"keys": "[id]", "id_type": "{type: integer, required: true}", "mode": "merge"}
    )
    (tmp_path / "data").mkdir()
    records = jsonl(person(1, PETS), person(2, []), person(3, None))
    (tmp_path / "data" / "a.jsonl").write_text(records)
    monkeypatch.setenv("SLUICE_WAREHOUSE_URL", warehouse)
    monkeypatch.setenv("TEST_SALT", "s")
    monkeypatch.delenv("SLUICE_STATE_URL", raising=False)
    report = run_pipeline(load_project(tmp_path), "p")
    assert report.status == "succeeded", report.errors
    data = dump(warehouse)
    assert {t: len(rows) for t, rows in data.items()} == {"people": 3, "pets": 2, "places": 2}
    assert sorted((p["id"], p["zip"]) for p in data["people"]) == [
        (1, "10001"),
        (2, "AB 2"),
        (3, "10003"),
    ]
    pets = sorted((p["id"], p["position"], p["kind"], p["age"], p["vet"]) for p in data["pets"])
    assert pets == [(1, 0, "cat", 3, "Dr A"), (1, 1, "dog", 4, None)]
    # The same records again, person 1 with one pet less: merge leaves no stale row.
    (tmp_path / "data" / "a.jsonl").write_text(jsonl(person(1, PETS[:1]), person(2, [])))
    again = run_pipeline(load_project(tmp_path), "p")
    assert again.status == "succeeded", again.errors
    assert [(p["id"], p["kind"]) for p in dump(warehouse)["pets"]] == [(1, "cat")]
