"""The CLI as a user meets it: exit codes, --json reports, errors without tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import sluice

EXAMPLE = Path(__file__).parents[3] / "examples" / "leads"


def test_run_json_report_and_exit_code_3_then_0(leads: Path) -> None:
    out = sluice("run", "leads", "-p", str(leads), "--json")
    assert out.returncode == 3, out.stderr
    report = json.loads(out.stdout)
    assert report["status"] == "succeeded_with_quarantine"
    assert set(report) >= {"run_id", "status", "streams", "totals", "seconds", "errors"}
    s1 = report["streams"]["source1"]
    assert (s1["read"], s1["loaded"], s1["quarantined"], s1["filtered"]) == (29, 20, 5, 4)
    assert set(s1["seconds"]) == {"extract", "transform", "load"}
    again = sluice("run", "leads", "-p", str(leads), "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["totals"]["loaded"] == 0

    runs = json.loads(sluice("runs", "-p", str(leads), "--json").stdout)
    assert [r["run_id"] for r in runs] == [json.loads(again.stdout)["run_id"], report["run_id"]]
    # a prefix, as git takes one (both runs may have started in the same second)
    shown = json.loads(sluice("show", report["run_id"][:-1], "-p", str(leads), "--json").stdout)
    assert shown["run_id"] == report["run_id"]
    assert {s["stage"] for s in shown["stages"]} == {"extract", "transform", "load"}
    assert any("leads_2026-11-01.csv: read 29" in e["message"] for e in shown["log"])


def test_quarantine_commands_and_preview(leads: Path) -> None:
    sluice("run", "leads", "-p", str(leads))
    entries = json.loads(sluice("quarantine", "list", "-p", str(leads), "--json").stdout)
    assert len(entries) == 10
    file_entry = next(e for e in entries if e["kind"] == "file")
    one = json.loads(
        sluice("quarantine", "show", str(entries[1]["id"]), "-p", str(leads), "--json").stdout
    )
    assert one["line"] == 9 and "licensed_since" in one["reasons"][0]
    assert sluice("quarantine", "discard", str(entries[0]["id"]), "-p", str(leads)).returncode == 0
    text = (leads / "sluice.yaml").read_text()
    text = text.replace("telephone]", "telephone, contact phone]").replace(
        "encoding: latin-1}", "encoding: latin-1}\n        ignore: [website]"
    )
    (leads / "sluice.yaml").write_text(text)
    replayed = sluice("quarantine", "replay", str(file_entry["id"]), "-p", str(leads), "--json")
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert json.loads(replayed.stdout)[0]["totals"]["loaded"] == 12
    rows = json.loads(
        sluice("preview", "leads", "-p", str(leads), "--limit", "100", "--json").stdout
    )
    assert len(rows) == 20 + 12 + 19 and {r["_source"] for r in rows} == {
        "source1",
        "source2",
        "source3",
    }
    assert all(r["license_number"].isdigit() for r in rows)
    assert any(r["license_number"].startswith("0") for r in rows)  # leading zeros kept


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["run", "nope"], 2, "no pipeline named 'nope'"),
        (["quarantine", "show", "999"], 2, "no quarantine entry 999"),
        (["show", "nope"], 2, "no run 'nope'"),
        (["run", "leads", "--source", "zzz"], 2, "has no source 'zzz'"),
    ],
)
def test_usage_errors_are_one_message_with_a_hint(
    leads: Path, args: list[str], code: int, message: str
) -> None:
    out = sluice(*args, "-p", str(leads))
    assert out.returncode == code
    assert message in out.stderr and "hint:" in out.stderr
    assert "Traceback" not in out.stderr


def test_missing_project_and_unreachable_warehouse(leads: Path, tmp_path: Path) -> None:
    missing = sluice("validate", "-p", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "no project file" in missing.stderr
    down = sluice(
        "run",
        "leads",
        "-p",
        str(leads),
        env={"SLUICE_WAREHOUSE_URL": "postgresql://nobody@127.0.0.1:1/x"},
    )
    assert down.returncode == 1
    assert "Connection refused" in down.stdout and "Traceback" not in down.stderr + down.stdout


def test_state_store_on_postgres(leads: Path, pg_url: str) -> None:
    env = {"SLUICE_STATE_URL": pg_url, "SLUICE_WAREHOUSE_URL": pg_url}
    first = sluice("run", "leads", "-p", str(leads), "--json", env=env)
    assert first.returncode == 3, first.stderr
    assert not (leads / ".sluice" / "state.db").exists()
    runs = json.loads(sluice("runs", "-p", str(leads), "--json", env=env).stdout)
    assert runs[0]["run_id"] == json.loads(first.stdout)["run_id"]
    second = sluice("run", "leads", "-p", str(leads), "--json", env=env)
    assert json.loads(second.stdout)["totals"]["loaded"] == 0


@pytest.mark.parametrize(
    "example",
    sorted(p.parent.name for p in (EXAMPLE.parent).glob("*/sluice.yaml")),
)
def test_every_example_validates(example: str) -> None:
    out = sluice("validate", "-p", str(EXAMPLE.parent / example))
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.startswith("ok: ")


def test_preview_of_a_pipeline_that_delivers_over_http_says_there_is_no_table() -> None:
    out = sluice(
        "preview",
        "animals",
        "-p",
        str(EXAMPLE.parent / "animals"),
        env={"ANIMALS_API": "http://127.0.0.1:1"},
    )
    assert out.returncode == 2
    assert "delivers to http://127.0.0.1:1/animals/v1/home" in out.stderr
    assert "sluice audit" in out.stderr and "Traceback" not in out.stderr
