"""``sluice run`` hashes the source's files while the engine loads (sluice.digests):
the ledger's fingerprints are still each file's own SHA-256, a file seen before is
still skipped, and a file changed in place (same size) is still a new file."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from contextlib import closing
from pathlib import Path

from sluice.digests import SETTLED_NS
from tests.support.cli import sluice

PROJECT = """\
warehouse: sqlite:///w.db
state: sqlite:///state.db
pipelines:
  events:
    sources:
      drop: {type: file, path: "data/*.csv"}
    table:
      name: events
      columns:
        id: {type: integer, required: true}
        kind: string
"""


def fingerprints(root: Path) -> dict[str, str]:
    with closing(sqlite3.connect(root / "state.db")) as conn:
        rows = conn.execute("SELECT name, fingerprint FROM sluice_files ORDER BY id").fetchall()
    return {Path(name).name: fp for name, fp in rows}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_fingerprints_made_ahead_are_the_files_own(tmp_path: Path) -> None:
    (tmp_path / "sluice.yaml").write_text(PROJECT)
    data = tmp_path / "data"
    data.mkdir()
    a, b = data / "a.csv", data / "b.csv"
    a.write_text("id,kind\n1,x\n2,y\n")
    b.write_text("id,kind\n3,z\n")
    # Files changed within the last SETTLED_NS are hashed when needed, not ahead.
    time.sleep(SETTLED_NS / 1e9 + 0.2)

    first = json.loads(sluice("run", "events", "-p", str(tmp_path), "--json").stdout)
    assert first["totals"]["loaded"] == 3
    assert fingerprints(tmp_path) == {"a.csv": sha(a), "b.csv": sha(b)}

    again = json.loads(sluice("run", "events", "-p", str(tmp_path), "--json").stdout)
    assert again["totals"]["read"] == 0
    assert len(again["streams"]["drop"]["skipped_files"]) == 2

    # Changed in place, same size: a new file to the ledger, loaded.
    a.write_text("id,kind\n1,x\n4,w\n")
    time.sleep(SETTLED_NS / 1e9 + 0.2)
    third = json.loads(sluice("run", "events", "-p", str(tmp_path), "--json").stdout)
    assert third["totals"]["loaded"] == 2
    assert sha(a) in fingerprints(tmp_path).values()
