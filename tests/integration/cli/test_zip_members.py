"""A zip with one unexpected or broken member: that member is set aside, the rest load,
and the hints' commands work."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from tests.support.cli import sluice

PROJECT = """\
warehouse: sqlite:///w.db
pipelines:
  events:
    sources:
      drops:
        type: file
        path: data/*.zip
    table:
      name: events
      columns:
        id: {type: integer, required: true}
        kind: string
"""


def test_an_odd_member_is_set_aside_alone_and_comes_back_as_its_hint_says(
    tmp_path: Path,
) -> None:
    (tmp_path / "sluice.yaml").write_text(PROJECT)
    (tmp_path / "data").mkdir()
    with zipfile.ZipFile(tmp_path / "data" / "drop.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("jan.csv", "id,kind\n1,a\n2,b\n")
        zf.writestr("feb.dat", "id,kind\n3,c\n")  # CSV under a name sluice cannot read
        zf.writestr("notes.pdf", "%PDF-1.4 not data")
        zf.writestr("mar.csv", "id,kind\n4,d\n")
    out = sluice("run", "events", "-p", str(tmp_path), "--json")
    assert out.returncode == 3, out.stdout + out.stderr
    report = json.loads(out.stdout)
    assert report["errors"] == [] and report["totals"]["loaded"] == 3
    aside = {q["file"]: q for q in report["streams"]["drops"]["quarantined_files"]}
    assert set(aside) == {"data/drop.zip!feb.dat", "data/drop.zip!notes.pdf"}
    hint = aside["data/drop.zip!feb.dat"]["hint"]
    then = "set format: csv, jsonl, json or parquet on the source, then `sluice quarantine replay`"
    assert then in hint
    assert "`sluice quarantine discard ID`" in hint

    entries = json.loads(sluice("quarantine", "list", "-p", str(tmp_path), "--json").stdout)
    ids = {e["unit"]: e["id"] for e in entries}
    # notes.pdf is not data: discard it, as the hint says.
    gone = sluice("quarantine", "discard", str(ids["data/drop.zip!notes.pdf"]), "-p", str(tmp_path))
    assert gone.returncode == 0, gone.stderr
    # feb.dat is: say its format, then replay.
    text = (tmp_path / "sluice.yaml").read_text()
    (tmp_path / "sluice.yaml").write_text(
        text.replace("path: data/*.zip", "path: data/*.zip\n        format: csv")
    )
    replayed = sluice("quarantine", "replay", "-p", str(tmp_path), "--json")
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert json.loads(replayed.stdout)[0]["totals"]["loaded"] == 1
    rows = json.loads(
        sluice("preview", "events", "-p", str(tmp_path), "--json", "--limit", "10").stdout
    )
    assert sorted(r["id"] for r in rows) == [1, 2, 3, 4]
