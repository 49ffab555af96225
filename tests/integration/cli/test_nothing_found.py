"""A source whose paths match no file says so: in the CLI, the report and the log;
with ``min_files`` the run fails."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from tests.support.cli import sluice


def set_path(root: Path, path: str, extra: str = "") -> None:
    text = (root / "sluice.yaml").read_text()
    new = f"path: {path}" + "".join(f"\n        {line}" for line in extra.splitlines())
    (root / "sluice.yaml").write_text(text.replace("path: data/source1/*.csv", new))


@pytest.mark.parametrize(
    ("path", "said"),
    [
        ("data/Source1/*.csv", "there is no folder data/Source1; did you mean data/source1?"),
        (
            "data/source1/*.CSV",
            "data/source1/leads_2026-11-01.csv matches when case is ignored",
        ),
        ("data/sorce1/*.csv", "did you mean data/source1"),
        ("data/source1/*.tsv", "data/source1 holds leads_2026-11-01.csv"),
    ],
)
def test_a_source_that_matches_no_file_warns_everywhere(leads: Path, path: str, said: str) -> None:
    set_path(leads, path)
    out = sluice("run", "leads", "-p", str(leads), "--source", "source1")
    assert out.returncode == 0, out.stdout + out.stderr
    flat = " ".join(out.stdout.split())
    assert f"warning source1: read nothing: no file matches '{path}'" in flat
    assert said in flat
    assert "hint: fix path of source 'source1' in sluice.yaml" in flat

    report = json.loads(sluice("run", "leads", "-p", str(leads), "--json").stdout)
    (warning,) = report["warnings"]
    assert warning["stream"] == "source1" and said in warning["message"]
    assert "min_files: 1" in warning["hint"]
    shown = json.loads(sluice("show", report["run_id"], "-p", str(leads), "--json").stdout)
    assert any(
        e["level"] == "warning" and said in e["message"] and "source1" in e["message"]
        for e in shown["log"]
    )


def test_min_files_turns_finding_nothing_into_a_failure_with_a_hint_that_works(
    leads: Path,
) -> None:
    set_path(leads, "data/Source1/*.csv", "min_files: 1")
    out = sluice("run", "leads", "-p", str(leads), "--source", "source1", "--json")
    assert out.returncode == 1, out.stdout + out.stderr
    (error,) = json.loads(out.stdout)["errors"]
    assert error["message"].startswith(
        "source 'source1' found no files, fewer than min_files (1): no file matches "
        "'data/Source1/*.csv': there is no folder data/Source1"
    )
    assert "`sluice run leads --source source1`" in error["hint"]
    text = " ".join(sluice("run", "leads", "-p", str(leads), "--source", "source1").stdout.split())
    assert "error: source 'source1' found no files" in text

    # The hint's fix, then the hint's command: the file loads.
    text = (leads / "sluice.yaml").read_text()
    (leads / "sluice.yaml").write_text(text.replace("data/Source1/", "data/source1/"))
    fixed = sluice("run", "leads", "--source", "source1", "-p", str(leads), "--json")
    assert fixed.returncode == 3, fixed.stdout + fixed.stderr  # its rows with bad dates
    report = json.loads(fixed.stdout)
    assert report["streams"]["source1"]["loaded"] == 20 and report["warnings"] == []


def test_min_files_counts_files_and_zip_members(leads: Path) -> None:
    drop = leads / "data" / "zipped"
    drop.mkdir()
    with zipfile.ZipFile(drop / "one.zip", "w") as archive:
        archive.write(leads / "data" / "source1" / "leads_2026-11-01.csv", "LEADS.CSV")
    set_path(leads, "data/zipped/*.zip", "members: '*.csv'\nmin_files: 2")
    out = sluice("run", "leads", "-p", str(leads), "--source", "source1", "--json")
    assert out.returncode == 1
    (error,) = json.loads(out.stdout)["errors"]
    assert "found no files, fewer than min_files (2)" in error["message"]
    assert (
        "no member of data/zipped/one.zip matches members '*.csv' (it holds LEADS.CSV)"
        in (error["message"])
    )
    assert "fix members of source 'source1'" in error["hint"]
