"""Zip archives (read in place; a member that is unsafe or broken set aside alone), JSON
Lines and Parquet sources."""

from __future__ import annotations

import zipfile
from pathlib import Path

import polars as pl
import pytest

from sluice.batch import LINE
from sluice.config import FileSourceConfig
from sluice.errors import SourceError
from sluice.sources import create_source

PROJECT = """
pipelines:
  p:
    sources:
      s:
        type: file
        path: {path}
{extra}
    table:
      name: events
      columns:
        id: {{type: integer, required: true}}
        kind: string
        day: date
"""


def project(path: str, extra: str = "") -> str:
    return PROJECT.format(path=path, extra=extra)


def make_zip(path: Path, members: dict[str, str | bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return path


def listing(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


# --------------------------------------------------------------------------- zip


def test_zip_members_are_units_read_without_unpacking(tmp_path: Path) -> None:
    make_zip(
        tmp_path / "drop.zip",
        {
            "a.csv": "id,kind\n1,x\n2,y\n",
            "sub/b.csv": "id,kind\n3,z\n",
            "folder/": "",
        },
    )
    before = listing(tmp_path)
    cfg = FileSourceConfig(path="*.zip")
    units = list(create_source("s", cfg, tmp_path).units())
    assert [u.name for u in units] == ["drop.zip!a.csv", "drop.zip!sub/b.csv"]
    rows = []
    for u in units:
        for b in u.open().batches():
            rows += b.data.select("id", "kind", LINE).rows()
    assert rows == [("1", "x", 2), ("2", "y", 3), ("3", "z", 2)]
    assert listing(tmp_path) == before  # nothing unpacked


def test_zip_members_glob_selects_members(tmp_path: Path) -> None:
    make_zip(
        tmp_path / "drop.zip",
        {
            "events_1.csv": "id\n1\n",
            "events_2.csv": "id\n2\n",
            "readme.txt": "not data",
            "other.csv": "id\n9\n",
        },
    )
    cfg = FileSourceConfig(path="drop.zip", members="events_*.csv")
    names = [u.name for u in create_source("s", cfg, tmp_path).units()]
    assert names == ["drop.zip!events_1.csv", "drop.zip!events_2.csv"]


def test_run_loads_zip_members(make_project, run_project) -> None:
    root = make_project(project("data/*.zip", "        members: '*.csv'"))
    make_zip(
        root / "data" / "drop.zip",
        {
            "jan.csv": "id,kind,day\n1,open,2024-01-01\n2,close,2024-01-02\n",
            "feb.csv": "id,kind,day\n3,open,2024-02-01\nnope,bad,2024-02-02\n",
            "notes.md": "# not loaded",
        },
    )
    out = run_project(root)
    assert out.status == "succeeded_with_quarantine"
    c = out.counts("s")
    assert (c.read, c.loaded, c.quarantined, c.filtered) == (4, 3, 1, 0)
    assert sorted(r["id"] for r in out.rows()) == [1, 2, 3]
    files = sorted(f["file"] for f in out.stream("s")["files"])
    assert files == ["data/drop.zip!feb.csv", "data/drop.zip!jan.csv"]
    (entry,) = out.quarantine("row")
    assert (entry.unit, entry.line) == ("data/drop.zip!feb.csv", 3)
    assert sorted(p.name for p in (root / "data").iterdir()) == ["drop.zip"]


def test_zip_slip_member_is_refused(tmp_path: Path) -> None:
    make_zip(tmp_path / "drop.zip", {"ok.csv": "id\n1\n", "../evil.csv": "id\n666\n"})
    cfg = FileSourceConfig(path="drop.zip")
    ok, evil = list(create_source("s", cfg, tmp_path).units())
    assert ok.open().columns == ["id"]
    with pytest.raises(SourceError, match="points outside the archive"):
        evil.open()


def test_run_zip_slip_is_a_quarantined_file_and_writes_nothing_outside(
    make_project, run_project, tmp_path: Path
) -> None:
    root = make_project(project("data/*.zip"))
    make_zip(
        root / "data" / "drop.zip",
        {
            "ok.csv": "id,kind,day\n1,a,2024-01-01\n",
            "../evil.csv": "id,kind,day\n666,evil,2024-01-01\n",
            "/abs/evil2.csv": "id,kind,day\n667,evil,2024-01-01\n",
        },
    )
    outside_before = listing(tmp_path.parent)
    out = run_project(root)
    assert out.status == "succeeded_with_quarantine"
    # Only the climbing members are set aside; the sound one loads.
    aside = out.stream("s")["quarantined_files"]
    assert [q["file"] for q in aside] == [
        "data/drop.zip!../evil.csv",
        "data/drop.zip!/abs/evil2.csv",
    ]
    assert all("points outside the archive" in q["reason"] for q in aside)
    assert sorted(e.unit for e in out.quarantine("file")) == sorted(q["file"] for q in aside)
    c = out.counts("s")
    assert (c.read, c.loaded) == (1, 1)
    assert [r["id"] for r in out.rows()] == [1]
    assert not (root / "evil.csv").exists()
    assert not (root / "data" / "evil.csv").exists()
    assert not (tmp_path.parent / "evil.csv").exists()
    new_outside = listing(tmp_path.parent) - outside_before
    assert all(p.startswith(tmp_path.name) for p in new_outside), new_outside
    # Its bytes are kept only as its dead-letter copy, under a name of no folders.
    kept = [p for p in listing(root) if p.endswith("evil.csv")]
    assert kept and all(p.startswith(".sluice/deadletter/") for p in kept), kept
    assert all(len(Path(p).parts) == 4 for p in kept), kept


def test_archive_over_max_unzipped_bytes_is_refused(make_project, run_project) -> None:
    root = make_project(project("data/*.zip", "        max_unzipped_bytes: 1000"))
    big = "id,kind,day\n" + "".join(f"{i},{'k' * 40},2024-01-01\n" for i in range(200))
    make_zip(root / "data" / "bomb.zip", {"big.csv": big})
    assert (root / "data" / "bomb.zip").stat().st_size < 1000 < len(big)
    out = run_project(root)
    assert out.status == "succeeded_with_quarantine"
    (qf,) = out.stream("s")["quarantined_files"]
    assert qf["file"] == "data/bomb.zip"
    assert f"archive would inflate to {len(big):,} bytes" in qf["reason"]
    assert "max_unzipped_bytes" in qf["hint"]
    assert out.counts("s").read == 0
    assert out.rows() == []


def test_archive_under_the_limit_loads(make_project, run_project) -> None:
    root = make_project(project("data/*.zip", "        max_unzipped_bytes: 100000"))
    big = "id,kind,day\n" + "".join(f"{i},{'k' * 40},2024-01-01\n" for i in range(200))
    make_zip(root / "data" / "ok.zip", {"big.csv": big})
    out = run_project(root)
    assert out.status == "succeeded"
    assert out.counts("s").loaded == 200


def test_not_a_zip_archive_is_quarantined(make_project, run_project) -> None:
    root = make_project(project("data/*.zip"), {"data/fake.zip": b"this is not a zip"})
    out = run_project(root)
    (qf,) = out.stream("s")["quarantined_files"]
    assert qf["file"] == "data/fake.zip"
    assert qf["reason"].startswith("not a zip archive")


# --------------------------------------------------------------------------- jsonl, parquet


def test_jsonl_source_reads_rows_with_line_numbers(tmp_path: Path) -> None:
    frame = pl.DataFrame({"id": [1, 2, 3], "kind": ["a", None, "c"]})
    frame.write_ndjson(tmp_path / "e.jsonl")
    cfg = FileSourceConfig(path="e.jsonl")
    (unit,) = list(create_source("s", cfg, tmp_path).units())
    reader = unit.open()
    assert reader.columns == ["id", "kind"]
    (batch,) = list(reader.batches())
    # Values come as text, as from a CSV; the table's types are applied later.
    assert batch.data.select("id", "kind", LINE).rows() == [
        ("1", "a", 1),
        ("2", None, 2),
        ("3", "c", 3),
    ]


def test_run_jsonl_source(make_project, run_project) -> None:
    root = make_project(project("data/*.jsonl"))
    (root / "data").mkdir()
    pl.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "kind": ["open", "close", "open", "x"],
            "day": ["2024-01-01", "2024-01-02", "not a day", "2024-01-04"],
        }
    ).write_ndjson(root / "data" / "e.jsonl")
    out = run_project(root)
    c = out.counts("s")
    assert (c.read, c.loaded, c.quarantined) == (4, 3, 1)
    assert [(r["id"], r["day"]) for r in out.rows()] == [
        (1, "2024-01-01"),
        (2, "2024-01-02"),
        (4, "2024-01-04"),
    ]
    (entry,) = out.quarantine("row")
    assert entry.line == 3
    assert entry.reasons[0].startswith("day: 'not a day' is not a valid date")


def test_run_invalid_jsonl_lines_are_quarantined_and_the_rest_loads(
    make_project, run_project
) -> None:
    good = '{"id": 1, "kind": "a", "day": "2024-01-01"}'
    root = make_project(
        project("data/*.jsonl"),
        {"data/e.jsonl": good + "\n{not json\n", "data/f.jsonl": "{not json\nnull\n"},
    )
    out = run_project(root)
    c = out.counts("s")
    assert (c.read, c.loaded, c.quarantined) == (2, 1, 1)
    (entry,) = out.quarantine("row")
    assert (entry.unit, entry.line, entry.payload) == ("data/e.jsonl", 2, {"_raw": "{not json"})
    assert entry.reasons == [
        "line is not valid JSON: Expecting property name enclosed in double quotes (column 2)"
    ]
    (qf,) = out.stream("s")["quarantined_files"]  # no line of it is a record
    assert qf["file"] == "data/f.jsonl" and "no line is a JSON object" in qf["reason"]
    assert [r["id"] for r in out.rows()] == [1]


def test_parquet_source_keeps_types(tmp_path: Path) -> None:
    pl.DataFrame({"id": [7, 8], "kind": ["a", "b"]}).write_parquet(tmp_path / "e.parquet")
    cfg = FileSourceConfig(path="*.parquet")
    (unit,) = list(create_source("s", cfg, tmp_path).units())
    reader = unit.open()
    assert reader.columns == ["id", "kind"]
    data = pl.concat([b.data for b in reader.batches()])
    assert data.schema["id"] == pl.Int64
    assert data.select("id", "kind", LINE).rows() == [(7, "a", 1), (8, "b", 2)]


def test_run_parquet_source_with_dates(make_project, run_project) -> None:
    from datetime import date

    root = make_project(project("data/*.parquet"))
    (root / "data").mkdir()
    pl.DataFrame(
        {
            "id": [1, 2, None],
            "kind": ["a", "b", "c"],
            "day": [date(2024, 1, 1), date(2024, 2, 29), None],
        }
    ).write_parquet(root / "data" / "e.parquet")
    out = run_project(root)
    c = out.counts("s")
    assert (c.read, c.loaded, c.quarantined) == (3, 2, 1)
    assert [(r["id"], r["kind"], r["day"]) for r in out.rows()] == [
        (1, "a", "2024-01-01"),
        (2, "b", "2024-02-29"),
    ]
    (entry,) = out.quarantine("row")
    assert (entry.line, entry.reasons) == (3, ["id: required but empty"])


def test_parquet_in_zip(make_project, run_project, tmp_path: Path) -> None:
    root = make_project(project("data/*.zip"))
    buf = tmp_path / "tmp.parquet"
    pl.DataFrame({"id": [5], "kind": ["z"], "day": ["2024-03-03"]}).write_parquet(buf)
    make_zip(root / "data" / "p.zip", {"inner.parquet": buf.read_bytes()})
    out = run_project(root)
    assert out.rows() == [{"id": 5, "kind": "z", "day": "2024-03-03"}]


def test_corrupt_zip_member_is_a_quarantined_file(make_project, run_project) -> None:
    root = make_project(project("data/*.zip"))
    path = make_zip(root / "data" / "bad.zip", {"a.csv": "id,kind,day\n" + "1,x,2024-01-01\n" * 50})
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("a.csv")
    data_start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    raw[data_start + 5] ^= 0xFF  # flip bits inside the compressed data
    path.write_bytes(bytes(raw))
    out = run_project(root)
    assert out.status == "succeeded_with_quarantine"
    assert out.report.errors == []
    (qf,) = out.stream("s")["quarantined_files"]
    assert qf["file"] == "data/bad.zip!a.csv"
    assert qf["reason"].startswith("zip member is corrupt: ")
    assert "CRC-32" in qf["reason"] or "Error -3" in qf["reason"]
    assert out.counts("s").read == 0


def test_run_jsonl_nested_values_are_kept_as_json_text(make_project, run_project) -> None:
    content = (
        '{"id": 1, "kind": {"a": 1, "b": "x"}, "day": "2024-01-01"}\n'
        '{"id": 2, "kind": null, "day": "2024-01-02"}\n'
    )
    out = run_project(make_project(project("data/*.jsonl"), {"data/e.jsonl": content}))
    assert [r["kind"] for r in out.rows()] == ['{"a":1,"b":"x"}', None]
    content = '{"id": 3, "kind": [1, 2], "day": "2024-01-03"}\n'
    out = run_project(
        make_project(project("data/*.jsonl"), {"data/e.jsonl": content}), full_refresh=True
    )
    assert [r["kind"] for r in out.rows()][-1] == "[1,2]"


def test_run_jsonl_line_numbers_count_blank_lines(make_project, run_project) -> None:
    content = '{"id": 1, "kind": "a", "day": "2024-01-01"}\n\n{"id": 2, "day": "bad"}\n'
    out = run_project(make_project(project("data/*.jsonl"), {"data/e.jsonl": content}))
    assert [e.line for e in out.quarantine("row")] == [3]


def test_one_broken_or_unexpected_member_is_set_aside_alone(make_project, run_project) -> None:
    root = make_project(project("data/*.zip"))
    path = make_zip(
        root / "data" / "drop.zip",
        {
            "jan.csv": "id,kind,day\n1,a,2024-01-01\n",
            "README.pdf": "%PDF-1.4 not data",
            "feb.csv": "id,kind,day\n" + "2,b,2024-02-01\n" * 50,
            "mar.csv": "id,kind,day\n3,c,2024-03-01\n",
        },
    )
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("feb.csv")
    raw[info.header_offset + 30 + len(info.filename.encode()) + len(info.extra) + 5] ^= 0xFF
    path.write_bytes(bytes(raw))
    out = run_project(root)
    assert out.status == "succeeded_with_quarantine" and out.report.errors == []
    assert sorted(r["id"] for r in out.rows()) == [1, 3]
    aside = {q["file"]: q for q in out.stream("s")["quarantined_files"]}
    assert set(aside) == {"data/drop.zip!README.pdf", "data/drop.zip!feb.csv"}
    assert aside["data/drop.zip!README.pdf"]["reason"].startswith(
        "cannot tell the format of 'README.pdf'"
    )
    assert "narrow members of source 's'" in aside["data/drop.zip!README.pdf"]["hint"]
    assert aside["data/drop.zip!feb.csv"]["reason"].startswith("zip member is corrupt")
    assert "`sluice run p`" in aside["data/drop.zip!feb.csv"]["hint"]
    entries = {e.unit: e for e in out.quarantine("file")}
    assert set(entries) == set(aside)  # each with its own entry, ledger record and reason
    assert len({e.file_id for e in entries.values()}) == 2

    # Again: nothing is loaded twice, nothing set aside twice.
    again = run_project(root)
    assert again.counts("s").read == 0 and again.quarantine("file") == []
    # A sound copy of the archive in its place: only the member that was broken loads.
    make_zip(
        path,
        {
            "jan.csv": "id,kind,day\n1,a,2024-01-01\n",
            "README.pdf": "%PDF-1.4 not data",
            "feb.csv": "id,kind,day\n" + "2,b,2024-02-01\n" * 50,
            "mar.csv": "id,kind,day\n3,c,2024-03-01\n",
        },
    )
    fixed = run_project(root)
    assert [f["file"] for f in fixed.stream("s")["files"]] == ["data/drop.zip!feb.csv"]
    assert sorted(r["id"] for r in fixed.rows()) == [1] + [2] * 50 + [3]
