"""Column mapping: precedence of overrides and synonyms, header normalization, drift."""

from __future__ import annotations

import textwrap

import polars as pl
import pytest

from sluice.batch import LINE
from sluice.config import parse_project
from sluice.schema import normalize_header
from sluice.transforms import apply_mapping, plan_mapping

BASE = """
synonyms:
  phone: [project phone]
pipelines:
  p:
    sources:
      s:
        type: file
        path: data/*.csv
        {source}
    synonyms:
      phone: [pipeline phone]
    table:
      name: t
      columns:
        id: integer
        phone: {{type: string, synonyms: [column phone]}}
        licensed_since: date
"""


def plan_for(headers: list[str], source: str = ""):
    project = parse_project(textwrap.dedent(BASE.format(source=source)))
    pipe = project.pipeline("p")
    return plan_mapping(headers, pipe, pipe.sources["s"], project.synonyms)


ALL_PHONES = ["id", "Licensed Since", "project phone", "pipeline phone", "column phone", "Tel A"]


@pytest.mark.parametrize(
    ("headers", "source", "winner"),
    [
        (ALL_PHONES, "columns: {phone: Tel A}", "Tel A"),
        (ALL_PHONES, "", "column phone"),
        ([h for h in ALL_PHONES if h != "column phone"], "", "pipeline phone"),
        (["id", "Licensed Since", "project phone"], "", "project phone"),
        ([*ALL_PHONES, "phone"], "", "phone"),  # the column's own name comes first
    ],
)
def test_mapping_precedence(headers: list[str], source: str, winner: str) -> None:
    plan = plan_for(headers, source)
    assert plan.rename[winner] == "phone"
    assert [h for h, c in plan.rename.items() if c == "phone"] == [winner]
    assert plan.missing == []
    # the losers are headers nobody maps: drift
    assert sorted(plan.unexpected) == sorted(set(headers) - {winner, "id", "Licensed Since"})


def test_source_override_is_exclusive() -> None:
    # An override names the one header for this source: the synonyms are not tried.
    plan = plan_for(["id", "licensed_since", "column phone"], "columns: {phone: Tel A}")
    assert plan.missing == ["phone"]
    assert plan.unexpected == ["column phone"]


def test_source_synonyms_are_used() -> None:
    plan = plan_for(["id", "licensed_since", "Handy"], "synonyms: {phone: [handy]}")
    assert plan.rename == {"id": "id", "licensed_since": "licensed_since", "Handy": "phone"}
    assert not plan.drifted


@pytest.mark.parametrize(
    "header",
    [
        "Licensed Since",
        "licensed_since",
        "LicensedSince",
        "licensedSince",
        "LICENSED SINCE",
        " Licensed-Since ",
        "licensed__since",
        "Licensed.Since",
    ],
)
def test_header_normalization(header: str) -> None:
    assert normalize_header(header) == "licensed_since"
    plan = plan_for(["ID", header, "Phone"])
    assert plan.rename == {"ID": "id", header: "licensed_since", "Phone": "phone"}
    assert not plan.drifted


def test_null_column_override_means_absent_not_missing() -> None:
    plan = plan_for(["id", "licensed_since"], "columns: {phone: null}")
    assert plan.absent == ["phone"]
    assert plan.missing == [] and plan.unexpected == []
    assert not plan.drifted


def test_drift_missing_unexpected_and_ignore() -> None:
    plan = plan_for(["id", "Phone", "Fax", "Notes"])
    assert plan.missing == ["licensed_since"]
    assert plan.unexpected == ["Fax", "Notes"]
    assert plan.drifted
    assert (
        plan.describe()
        == "expected but not found: licensed_since; found but not mapped: 'Fax', 'Notes'"
    )
    ignored = plan_for(["id", "Phone", "Fax", "Notes"], "ignore: [fax, NOTES]")
    assert ignored.unexpected == []
    assert ignored.missing == ["licensed_since"]


def test_apply_mapping_orders_columns_and_fills_absent_with_null() -> None:
    source = "columns: {phone: null}\n        ignore: [extra]"
    plan = plan_for(["Licensed Since", "id", "extra"], source)
    assert not plan.drifted
    data = pl.DataFrame({"Licensed Since": ["2020-01-01"], "id": ["1"], "extra": ["x"], LINE: [2]})
    out = apply_mapping(data, plan, ["id", "phone", "licensed_since"])
    assert out.columns == ["id", "phone", "licensed_since", LINE]
    assert out.rows() == [("1", None, "2020-01-01", 2)]


# --------------------------------------------------------------------------- full runs

RUN = """
synonyms:
  phone: [telephone]
pipelines:
  p:
    sources:
      a:
        type: file
        path: a/*.csv
      b:
        type: file
        path: b/*.csv
        columns: {phone: null, name: Provider Name}
      c:
        type: file
        path: c/*.csv
        ignore: [internal id]
    table:
      name: t
      columns:
        name: {type: string, required: true}
        phone: string
        licensed_since: date
"""


def test_run_maps_each_source_onto_one_table(make_project, run_project) -> None:
    root = make_project(
        RUN,
        {
            "a/1.csv": "Name,Telephone,LicensedSince\nAda,555-1,2020-01-01\n",
            "b/1.csv": "Provider Name,Name,Licensed Since\nGrace,ignored?,2021-02-02\n",
            "c/1.csv": "internal id,NAME,PHONE,licensed_since\n9,Linus,555-3,2022-03-03\n",
        },
    )
    out = run_project(root)
    # b has a "Name" header the override does not use: that is drift, the file is set aside
    assert [f["file"] for f in out.stream("b")["quarantined_files"]] == ["b/1.csv"]
    assert "found but not mapped: 'Name'" in out.stream("b")["quarantined_files"][0]["reason"]
    assert out.rows(order_by="name") == [
        {"name": "Ada", "phone": "555-1", "licensed_since": "2020-01-01"},
        {"name": "Linus", "phone": "555-3", "licensed_since": "2022-03-03"},
    ]


def test_run_absent_column_loads_null(make_project, run_project) -> None:
    root = make_project(RUN, {"b/1.csv": "Provider Name,Licensed Since\nGrace,2021-02-02\n"})
    out = run_project(root, source="b")
    assert out.status == "succeeded"
    assert out.rows() == [{"name": "Grace", "phone": None, "licensed_since": "2021-02-02"}]


def test_run_missing_column_quarantines_file_with_diff(make_project, run_project) -> None:
    root = make_project(RUN, {"a/1.csv": "Name,LicensedSince,Fax\nAda,2020-01-01,1\n"})
    out = run_project(root, source="a")
    assert out.status == "succeeded_with_quarantine"
    (entry,) = out.quarantine("file")
    assert entry.unit == "a/1.csv"
    assert entry.payload["diff"] == {"missing": ["phone"], "unexpected": ["Fax"]}
    assert out.rows() == []
    assert out.counts("a").read == 0


def test_run_drift_fail_stops_the_run(make_project, run_project) -> None:
    text = RUN.replace("        ignore: [internal id]", "        drift: fail")
    root = make_project(text, {"c/1.csv": "internal id,name,phone,licensed_since\n9,L,5,\n"})
    out = run_project(root, source="c")
    assert out.status == "failed"
    (error,) = out.report.errors
    assert error["type"] == "DriftError"
    assert error["message"] == "columns drifted: found but not mapped: 'internal id'"
    assert out.rows() == []


def test_run_drift_evolve_adds_a_column(make_project, run_project) -> None:
    text = RUN.replace("        ignore: [internal id]", "        drift: evolve")
    root = make_project(text, {"c/1.csv": "Internal ID,name,phone,licensed_since\n9,L,5,\n"})
    out = run_project(root, source="c")
    assert out.status == "succeeded"
    assert out.rows() == [
        {"name": "L", "phone": "5", "licensed_since": None, "internal_id": "9"},
    ]


@pytest.mark.parametrize(
    "headers",
    [
        ["id", "phone", "Licensed Since", "licensed_since"],
        ["id", "phone", "licensed_since", "Licensed Since"],
    ],
)
def test_of_two_headers_alike_the_one_written_as_the_name_maps_and_the_drift_says_why(
    headers: list[str],
) -> None:
    # The first of the two won, whichever it was, and the exact one was reported as
    # "found but not mapped: 'licensed_since'", a name the table has.
    plan = plan_for(headers)
    assert plan.rename["licensed_since"] == "licensed_since"
    assert plan.unexpected == ["Licensed Since"]
    assert plan.describe() == (
        "found but not mapped: 'Licensed Since' (same as 'licensed_since' ignoring case "
        "and punctuation, which maps to licensed_since)"
    )


def test_a_repeated_header_is_named_as_such_in_the_drift() -> None:
    # A file with two `phone` headers reads the second as `phone_2` (as Python's csv
    # would make it a key twice): the drift named `phone_2`, a header the file lacks.
    from sluice.sources.csv_reader import unique_headers

    headers = unique_headers(["id", "phone", "phone", "licensed_since", "address_2"])
    plan = plan_for(headers)
    assert plan.unexpected == ["phone_2", "address_2"]
    assert plan.describe().startswith(
        "found but not mapped: 'phone_2' (the file's 'phone' header again), 'address_2'"
    )
