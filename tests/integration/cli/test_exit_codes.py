"""Exit codes a script or an orchestrator relies on, and errors on the right stream."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import sluice


def test_allow_quarantine_exits_0_for_run_and_replay_while_entries_remain(leads: Path) -> None:
    out = sluice("run", "leads", "-p", str(leads), "--json", "--allow-quarantine")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["status"] == "succeeded_with_quarantine"

    # Nothing is fixed: every entry stays open, so a replay is "succeeded with quarantine".
    replayed = sluice("quarantine", "replay", "-p", str(leads), "--json")
    assert replayed.returncode == 3, replayed.stdout + replayed.stderr
    assert json.loads(replayed.stdout)[0]["status"] == "succeeded_with_quarantine"
    allowed = sluice("quarantine", "replay", "-p", str(leads), "--allow-quarantine")
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    listed = json.loads(sluice("quarantine", "list", "-p", str(leads), "--json").stdout)
    assert listed and all(e["status"] == "open" for e in listed)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("postgresql://etl:s3cret@db:notaport/analytics", "its port is not a number"),
        ("etl:s3cret@db/analytics", "no scheme:// at its start"),
    ],
)
def test_a_malformed_warehouse_url_exits_2_on_stderr_naming_its_variable(
    leads: Path, url: str, why: str
) -> None:
    # examples/leads/sluice.yaml says `warehouse: ${SLUICE_WAREHOUSE_URL:-sqlite:///leads.db}`
    for args in (["run", "leads"], ["run", "leads", "--json"], ["validate"]):
        out = sluice(*args, "-p", str(leads), env={"SLUICE_WAREHOUSE_URL": url})
        assert out.returncode == 2, out.stdout + out.stderr
        assert "SLUICE_WAREHOUSE_URL is not a database URL" in out.stderr, out.stderr
        assert why in out.stderr and "sluice.yaml:11, key warehouse" in out.stderr
        assert "s3cret" not in out.stdout + out.stderr and "etl:***@db" in out.stderr
        assert "Traceback" not in out.stderr
        if args[-1] == "--json":  # the report still goes to stdout, for machines
            assert json.loads(out.stdout)["errors"][0]["type"] == "ConfigError"
        elif args[0] == "run":
            assert out.stdout == "" and "sluice validate" in out.stderr


@pytest.mark.parametrize(
    "args", [["run", "leads"], ["runs"], ["quarantine", "list"], ["cancel", "x"], ["validate"]]
)
def test_a_malformed_state_url_exits_2_naming_its_variable(leads: Path, args: list[str]) -> None:
    url = "postgresql://etl:s3cret@db:notaport/state"
    out = sluice(*args, "-p", str(leads), env={"SLUICE_STATE_URL": url})
    assert out.returncode == 2, out.stdout + out.stderr
    assert "SLUICE_STATE_URL is not a database URL" in out.stderr, out.stderr
    assert "its port is not a number" in out.stderr and "etl:***@db" in out.stderr
    assert "s3cret" not in out.stdout + out.stderr and "Traceback" not in out.stderr


def test_a_malformed_state_key_is_named_by_its_line(leads: Path) -> None:
    text = (leads / "sluice.yaml").read_text()
    (leads / "sluice.yaml").write_text("state: postgres@db/state\n" + text)
    for args in (["run", "leads"], ["validate"]):
        out = sluice(*args, "-p", str(leads))
        assert out.returncode == 2, out.stdout + out.stderr
        assert "sluice.yaml:1, key state" in out.stderr, out.stderr
        assert "no scheme:// at its start" in out.stderr and "write at `state:`" in out.stderr


def test_a_file_of_unknown_format_exits_2_on_stderr(leads: Path) -> None:
    (leads / "data" / "source1" / "notes.xlsx").write_bytes(b"PK\x03\x04")
    text = (leads / "sluice.yaml").read_text()
    (leads / "sluice.yaml").write_text(text.replace("data/source1/*.csv", "data/source1/*"))
    out = sluice("run", "leads", "-p", str(leads))
    assert out.returncode == 2 and out.stdout == "", out.stdout
    assert "data/source1/notes.xlsx: cannot tell the format of 'notes.xlsx'" in out.stderr
    assert "narrow the path of source 'source1'" in out.stderr
    assert f"once fixed: sluice run leads -p {leads}" in out.stderr


def test_a_missing_file_exits_2_on_stderr(leads: Path) -> None:
    out = sluice("run", "leads", "-p", str(leads), "--source", "source1", "--file", "nope.csv")
    assert out.returncode == 2 and out.stdout == ""
    assert "--file nope.csv: no such file" in out.stderr and "`ls .`" in out.stderr
    assert json.loads(sluice("runs", "-p", str(leads), "--json").stdout) == []  # no run begun


def test_a_replay_refused_for_a_retyped_column_exits_2_as_a_run_does(tmp_path: Path) -> None:
    # The table was made with `id` an integer; sluice.yaml now declares a string: the
    # run and the replay are refused before loading (TypesChanged), a config error.
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("id,v\n1,a\n2,\n")
    yaml = (
        "warehouse: sqlite:///w.db\npipelines:\n  p:\n"
        "    sources: {s: {type: file, path: data/*.csv}}\n"
        "    table: {name: t, columns: {id: integer, v: {type: string, required: true}}}\n"
    )
    (tmp_path / "sluice.yaml").write_text(yaml)
    assert sluice("run", "p", "-p", str(tmp_path)).returncode == 3  # row 2 lacks v
    (tmp_path / "sluice.yaml").write_text(yaml.replace("id: integer", "id: string"))
    replayed = sluice("quarantine", "replay", "-p", str(tmp_path))
    assert replayed.returncode == 2, replayed.stdout + replayed.stderr
    assert "was made with other column types" in replayed.stderr  # as a run says it
    assert replayed.stderr.rstrip().endswith("once fixed: sluice quarantine replay")
    (tmp_path / "data" / "b.csv").write_text("id,v\n3,c\n")
    ran = sluice("run", "p", "-p", str(tmp_path))
    assert ran.returncode == 2, ran.stdout + ran.stderr
