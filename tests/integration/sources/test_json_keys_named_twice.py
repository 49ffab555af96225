"""A JSON record that names a key twice (``{"id": 2, "name": "Bo", "name": "Bob"}``):
JSON readers keep either value, and a JSON document or an API's page loaded the one
Python keeps (the last), without a word; a JSON Lines file set such a line aside. Each
such record is set aside now, with its place and the key, and the rest load."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import Response

from sluice.sim.server import SimServer

PAGE = (
    b'{"data": [{"id": 1, "name": "Ada"}, {"id": 2, "name": "Bo", "name": "Bob"}, '
    b'{"id": 3, "geo": {"lat": "1", "lat": "2"}, "name": "Cy"}, {"id": 4, "name": "Di"}]}'
)
TABLE = """
    table:
      name: t
      columns:
        id: {type: integer, required: true}
        name: string
"""


@pytest.fixture
def api() -> Iterator[str]:
    app = FastAPI()

    @app.get("/v1/people")
    def people() -> Response:
        return Response(content=PAGE, media_type="application/json")

    with SimServer(app) as server:
        yield server.url


def _checked(out: Any, where: str = "") -> list[int]:
    """The run set aside the two records, saying which key; their lines."""
    assert out.status == "succeeded_with_quarantine", out.report.errors
    entries = sorted((e.line, e.reasons) for e in out.quarantine())
    said = "twice, and JSON readers keep either value: write it once"
    assert [reasons for _, reasons in entries] == [
        [f"{where}record names the key 'name' {said}"],
        [f"{where}record names the key 'lat' {said}"],
    ]
    counts = out.report.streams["s"].counts
    assert (counts.read, counts.loaded, counts.quarantined) == (4, 2, 2)
    return [line for line, _ in entries]


def test_a_json_document_sets_aside_a_record_naming_a_key_twice(
    make_project: Callable[..., Path], run_project: Any
) -> None:
    doc = PAGE.decode()
    root = make_project(
        "pipelines:\n  p:\n    sources:\n      s: {type: file, path: data/*.json, records: data, "
        "flatten: true}\n" + TABLE,
        {"data/people.json": doc},
    )
    assert _checked(run_project(root)) == [2, 3]  # places in the list


def test_an_api_page_sets_aside_a_record_naming_a_key_twice(
    api: str, make_project: Callable[..., Path], run_project: Any
) -> None:
    source = (
        f"      s: {{type: http, base_url: {api}, endpoint: /v1/people, records: data, "
        "flatten: true}\n"
    )
    root = make_project("pipelines:\n  p:\n    sources:\n" + source + TABLE)
    _checked(run_project(root), "/v1/people: ")
