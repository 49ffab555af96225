"""The file source with `url:`: download to a temporary file, then read as usual."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Response

from sluice.sim.server import SimServer

CSV = "id,name\n1,Ada\n2,Grace\n"


def zipped() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("events_1.csv", CSV)
        z.writestr("events_2.csv", "id,name\n3,Edsger\n")
    return buf.getvalue()


@pytest.fixture
def files() -> Iterator[tuple[str, dict[str, Any]]]:
    app = FastAPI()
    state: dict[str, Any] = {"fail": 0, "calls": 0}

    @app.get("/files/{name}")
    async def get(name: str) -> Response:
        state["calls"] += 1
        if state["fail"]:
            state["fail"] -= 1
            return Response(status_code=503, headers={"Retry-After": "0"})
        if name == "people.csv":
            return Response(CSV, media_type="text/csv")
        if name == "drop.zip":
            return Response(zipped(), media_type="application/zip")
        if name == "big.csv":
            return Response("id,name\n" + "9,x\n" * 50_000, media_type="text/csv")
        return Response(status_code=404)

    with SimServer(app) as server:
        yield server.url, state


def project(url: str, extra: str = "") -> str:
    return f"""
pipelines:
  p:
    sources:
      s:
        type: file
        url: {url}
        retry: {{max_attempts: 3, backoff: 0.01}}
{extra}
    table:
      name: people
      columns:
        id: {{type: integer, required: true}}
        name: string
"""


def test_a_downloaded_csv_loads_and_the_same_content_is_not_loaded_twice(
    files, make_project, run_project
) -> None:
    base, _ = files
    root = make_project(project(f"{base}/files/people.csv"))
    out = run_project(root)
    assert out.status == "succeeded", out.report.errors
    assert [r["name"] for r in out.rows()] == ["Ada", "Grace"]
    assert out.stream("s")["files"][0]["file"] == f"{base}/files/people.csv"
    again = run_project(root)
    assert again.counts("s").loaded == 0
    assert "already loaded" in again.stream("s")["skipped_files"][0]["reason"]


def test_a_downloaded_zip_is_read_member_by_member(files, make_project, run_project) -> None:
    base, _ = files
    out = run_project(make_project(project(f"{base}/files/drop.zip")))
    assert out.status == "succeeded", out.report.errors
    assert sorted(r["id"] for r in out.rows()) == [1, 2, 3]
    names = sorted(f["file"] for f in out.stream("s")["files"])
    assert names == [f"{base}/files/drop.zip!events_1.csv", f"{base}/files/drop.zip!events_2.csv"]


def test_a_503_is_retried(files, make_project, run_project) -> None:
    base, state = files
    state["fail"] = 2
    out = run_project(make_project(project(f"{base}/files/people.csv")))
    assert out.status == "succeeded", out.report.errors
    assert state["calls"] == 3


def test_a_download_over_the_limit_fails_the_run(files, make_project, run_project) -> None:
    base, _ = files
    root = make_project(project(f"{base}/files/big.csv", "        max_download_bytes: 10000"))
    out = run_project(root)
    assert out.status == "failed"
    (err,) = out.report.errors
    assert "larger than max_download_bytes" in err["message"]
    assert "raise max_download_bytes" in err["hint"]
    assert out.rows() == []


def test_a_missing_file_fails_the_run_with_its_status(files, make_project, run_project) -> None:
    base, _ = files
    out = run_project(make_project(project(f"{base}/files/nope.csv")))
    assert out.status == "failed"
    assert "HTTP 404" in out.report.errors[0]["message"]


def test_path_and_url_together_are_a_config_error(make_project) -> None:
    from sluice.config import load_project
    from sluice.errors import ConfigError

    root = make_project(project("http://x/a.csv", "        path: data/*.csv"))
    with pytest.raises(ConfigError) as exc:
        load_project(root)
    assert "exactly one of path" in str(exc.value.as_dict())
