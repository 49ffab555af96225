"""Normalized layouts and PII policies, end to end from JSON Lines into SQLite."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from sluice.config import load_project
from sluice.errors import ProjectInvalid

PROJECT = """
pii_salt: ${TEST_SALT:-}
pipelines:
  p:
    sources:
      s: {type: file, path: "data/*.jsonl", flatten: true}
    table:
      name: people
      keys: %(keys)s
      columns:
        id: %(id_type)s
        name: {type: string, required: true}
        email: {type: string, pii: hash}
        phone: {type: string, pii: mask, keep: 2}
        secret: {type: string, pii: drop}
        zip: string
        home_city: string
        home_country: string
        pets: string
    tables:
      places:
        lookup: true
        columns: {city: home_city, country: home_country}
      pets:
        list: pets
        columns:
          kind: kind
          age: {from: age, type: integer}
          vet: clinic.vet.name
    destination: {mode: %(mode)s}
"""


def person(i: int, pets: Any, **extra: Any) -> dict[str, Any]:
    return {
        "id": i,
        "name": f"n{i}",
        "email": f"p{i}@x.org",
        "phone": f"555-000{i}",
        "secret": f"pw{i}",
        "zip": 10000 + i if i % 2 else f"AB {i}",  # a number here, text there
        "home": {"city": "Oslo" if i % 2 else "Bergen", "country": "NO"},
        "pets": pets,
        **extra,
    }


def jsonl(*records: dict[str, Any]) -> str:
    return "\n".join(json.dumps(r) for r in records) + "\n"


def project(make_project: Any, records: str, mode: str = "merge", keys: str = "[id]") -> Any:
    id_type = "{type: integer, required: true}" if keys != "[]" else "integer"
    text = PROJECT % {"keys": keys, "id_type": id_type, "mode": mode}
    return make_project(text, {"data/a.jsonl": records})


PETS = [
    {"kind": "cat", "age": 3, "clinic": {"vet": {"name": "Dr A"}}},
    {"kind": "dog", "age": "4", "clinic": None},
]


@pytest.fixture(autouse=True)
def salt(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TEST_SALT", "s3cret")
    return "s3cret"


def test_lists_deep_nesting_empty_lists_and_lookups(make_project: Any, run_project: Any) -> None:
    records = jsonl(person(1, PETS), person(2, []), person(3, None))
    out = run_project(project(make_project, records))
    assert out.status == "succeeded", out.report.errors
    people = out.rows("people", order_by="id")
    assert [p["id"] for p in people] == [1, 2, 3]
    assert [p["zip"] for p in people] == ["10001", "AB 2", "10003"]  # mixed: text
    assert "secret" not in people[0] and "pets" not in people[0]
    assert out.rows("pets", order_by="position") == [
        {"id": 1, "position": 0, "kind": "cat", "age": 3, "vet": "Dr A"},
        {"id": 1, "position": 1, "kind": "dog", "age": 4, "vet": None},
    ]
    places = out.rows("places", order_by="city")
    assert [(p["city"], p["country"]) for p in places] == [("Bergen", "NO"), ("Oslo", "NO")]
    by_id = {p["id"]: p["city"] for p in places}
    assert {p["id"]: by_id[p["places_id"]] for p in people} == {1: "Oslo", 2: "Bergen", 3: "Oslo"}
    assert out.report.as_dict()["tables"] == {"places": 2, "people": 3, "pets": 2}


def test_pii_hash_mask_drop(make_project: Any, run_project: Any, salt: str) -> None:
    out = run_project(project(make_project, jsonl(person(1, []), person(12, []))))
    people = out.rows("people", order_by="id")
    expected = hashlib.sha256(f"{salt}p1@x.org".encode()).hexdigest()
    assert people[0]["email"] == expected
    assert [p["phone"] for p in people] == ["******01", "*******12"]
    assert all(p.get("secret") is None for p in people)


def test_a_bad_list_item_quarantines_the_whole_record(make_project: Any, run_project: Any) -> None:
    bad = [{"kind": "eel", "age": "old"}]
    out = run_project(project(make_project, jsonl(person(1, PETS), person(2, bad))))
    assert (out.report.totals.read, out.report.totals.loaded) == (2, 1)
    (entry,) = out.quarantine("row")
    assert entry.line == 2
    assert any("age: 'old' is not a valid integer" in r for r in entry.reasons)
    assert entry.payload["secret"] is None and entry.payload["email"] != "p2@x.org"
    assert [p["id"] for p in out.rows("people")] == [1]
    assert {p["id"] for p in out.rows("pets")} == {1}


def test_broken_json_in_a_list_column_is_quarantined(make_project: Any, run_project: Any) -> None:
    records = jsonl(person(1, PETS), person(2, "not json"))
    out = run_project(project(make_project, records))
    (entry,) = out.quarantine("row")
    assert entry.reasons == ["pets: not a JSON array of the declared items"]
    assert out.report.totals.loaded == 1


def test_merge_replaces_the_children_of_merged_records(
    make_project: Any, run_project: Any, tmp_path: Any
) -> None:
    root = project(make_project, jsonl(person(1, PETS)))
    run_project(root)
    (root / "data" / "a.jsonl").write_text(jsonl(person(1, PETS[:1])))
    out = run_project(root)
    assert [p["kind"] for p in out.rows("pets")] == ["cat"]
    assert len(out.rows("places")) == 1


def test_without_keys_records_get_a_deterministic_hash_key(
    make_project: Any, run_project: Any
) -> None:
    root = project(make_project, jsonl(person(1, PETS)), mode="append", keys="[]")
    first = run_project(root).rows("people")
    (root / "data" / "b.jsonl").write_text(jsonl(person(1, PETS), person(2, [])))
    out = run_project(root)
    keys = [p["_key"] for p in out.rows("people", order_by="rowid")]
    assert len(keys) == 3 and keys[0] == keys[1] == first[0]["_key"] != keys[2]
    assert len(keys[0]) == 32
    assert {p["_key"] for p in out.rows("pets")} == {keys[0]}


def test_hash_without_a_salt_fails_with_a_hint(
    make_project: Any, run_project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_SALT", "")
    text = (PROJECT % {"keys": "[id]", "id_type": "integer", "mode": "merge"}).replace(
        "pii_salt: ${TEST_SALT:-}\n", ""
    )
    out = run_project(make_project(text, {"data/a.jsonl": jsonl(person(1, []))}))
    assert out.status == "failed"
    assert "pii: hash needs a salt" in out.report.errors[0]["message"]
    assert "SLUICE_PII_SALT" in out.report.errors[0]["hint"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("columns: {city: home_city", "columns: {city: nowhere"), "'nowhere', which is not"),
        (("secret: {type: string, pii: drop}", "secret: {type: integer, pii: hash}"), "string"),
        (("mode: %(mode)s", "mode: snapshot"), "append, replace and merge"),
        (("zip: string", "zip: {type: string, pii: restricted}\n        x: {type: string}"), None),
    ],
)
def test_layout_config_errors_say_what_is_wrong(
    make_project: Any, change: tuple[str, str], message: str | None
) -> None:
    text = PROJECT.replace(*change) % {"keys": "[id]", "id_type": "integer", "mode": "merge"}
    root = make_project(text, {"data/a.jsonl": ""})
    if message is None:  # a restricted column with no table of its own is fine
        load_project(root)
        return
    with pytest.raises(ProjectInvalid) as err:
        load_project(root)
    assert message in str(err.value)


def test_a_replayed_record_loads_into_every_table(
    make_project: Any, run_project: Any, tmp_path: Any
) -> None:
    from sluice.engine.replay import replay

    bad = person(2, PETS, name=None)
    root = project(make_project, jsonl(person(1, []), bad))
    out = run_project(root)
    assert out.report.totals.quarantined == 1
    text = (root / "sluice.yaml").read_text()
    (root / "sluice.yaml").write_text(text.replace("{type: string, required: true}", "string"))
    (report,) = replay(load_project(root), pipeline="p")
    assert report.status == "succeeded", report.errors
    again = run_project(root)  # nothing new; look at the tables
    assert [p["id"] for p in again.rows("people", order_by="id")] == [1, 2]
    assert [(p["id"], p["kind"]) for p in again.rows("pets", order_by="position")] == [
        (2, "cat"),
        (2, "dog"),
    ]
    person2 = again.rows("people", order_by="id")[1]
    # The policies were applied once, when the row was read, not again on replay.
    assert person2["email"] == hashlib.sha256(b"s3cretp2@x.org").hexdigest()
    assert person2["phone"] == "******02"


RESTRICTED = """
warehouse: "%(url)s"
pipelines:
  p:
    sources:
      s: {type: file, path: "data/*.jsonl", flatten: true}
    table:
      name: people
      keys: [uuid]
      columns:
        uuid: {type: string, required: true}
        name: {type: string, required: true}
        id_name: {type: string, pii: restricted}
        id_value: {type: string, pii: restricted}
        ssn: {type: string, pii: restricted}
    tables:
      altids:
        restricted: true
        columns: {name: id_name, value: id_value}
    destination: {mode: merge}
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    from tests.conftest import warehouse_url

    return str(warehouse_url(request, request.param, tmp_path))


def test_restricted_tables_get_no_row_for_a_record_without_a_value(
    make_project: Any, run_project: Any, warehouse: str
) -> None:
    """Like randomuser's users without a national id (``{"name": "", "value": null}``):
    a record whose restricted values are all null or blank has no restricted row."""
    from sluice.destinations import connect

    def rec(uuid: str, id_: Any = None, name: str | None = "n", **more: Any) -> dict[str, Any]:
        return {"uuid": uuid, "name": name, **({"id": id_} if id_ is not None else {}), **more}

    records = [
        rec("u1", {"name": "SSN", "value": "123"}, ssn="a"),
        rec("u2", {"name": "", "value": None}, ssn=None),  # nothing to keep
        rec("u3", {"name": "  ", "value": ""}, ssn=""),  # blanks: nothing either
        rec("u4", {"name": "TFN", "value": None}, ssn="  "),  # a name is a value
        rec("u5", {"name": "SSN", "value": "555"}, name=None),  # quarantined
        rec("u6"),  # no id at all
    ]
    root = make_project(RESTRICTED % {"url": warehouse}, {"data/a.jsonl": jsonl(*records)})
    out = run_project(root)
    assert out.status == "succeeded_with_quarantine", out.report.errors
    totals = out.report.totals
    assert (totals.read, totals.loaded, totals.quarantined) == (6, 5, 1)
    assert out.report.as_dict()["tables"] == {"people": 5, "altids": 2, "people_restricted": 1}
    dest = connect(warehouse)
    try:
        with dest.engine.connect() as c:  # type: ignore[attr-defined]
            altids = c.exec_driver_sql("SELECT uuid, name, value FROM altids ORDER BY uuid").all()
            kept = c.exec_driver_sql("SELECT uuid, ssn FROM people_restricted").all()
        assert [tuple(r) for r in altids] == [("u1", "SSN", "123"), ("u4", "TFN", None)]
        assert [tuple(r) for r in kept] == [("u1", "a")]

        # Merge: a record that no longer has a value loses its restricted row.
        (root / "data" / "b.jsonl").write_text(
            jsonl(rec("u1", {"name": "", "value": None}, ssn=None))
        )
        again = run_project(root)
        assert again.status == "succeeded", again.report.errors
        assert again.report.as_dict()["tables"] == {
            "people": 1,
            "altids": 0,
            "people_restricted": 0,
        }
        with dest.engine.connect() as c:  # type: ignore[attr-defined]
            uuids = c.exec_driver_sql("SELECT uuid FROM altids ORDER BY uuid").scalars().all()
            assert uuids == ["u4"]
            assert c.exec_driver_sql("SELECT COUNT(*) FROM people_restricted").scalar() == 0
    finally:
        dest.close()


@pytest.mark.parametrize("mode", ["append", "replace", "merge"])
def test_a_field_a_file_brings_under_drift_evolve_becomes_a_column_of_the_root(
    make_project: Any, run_project: Any, mode: str
) -> None:
    """Under ``evolve`` a new field is a new column of the root table: the file that
    brought it (read after its load split the first records) keeps its values, the
    files before it in the same load get null, and each lookup row is sent once."""
    text = PROJECT % {"keys": "[id]", "id_type": "{type: integer, required: true}", "mode": mode}
    text = text.replace("flatten: true}", "flatten: true, drift: evolve}")
    files = {
        "data/a.jsonl": jsonl(person(1, PETS)),
        "data/b.jsonl": jsonl(person(2, [], nickname="bo")),  # a field the table lacks
        "data/c.jsonl": jsonl(person(3, PETS)),
    }
    out = run_project(make_project(text, files))
    assert out.status == "succeeded", out.report.errors
    people = out.rows("people", order_by="id")
    assert [(p["id"], p["nickname"]) for p in people] == [(1, None), (2, "bo"), (3, None)]
    assert sorted(p["city"] for p in out.rows("places")) == ["Bergen", "Oslo"]
    assert len(out.rows("pets")) == 4
