"""Compressed CSV and JSON Lines (.gz, .bz2, .xz, .zst): local files, zip members and
downloads, inflated as they are read under ``max_unzipped_bytes``."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import zstandard
from fastapi import FastAPI, Response

from sluice.batch import LINE
from sluice.config import FileSourceConfig
from sluice.errors import ConfigError, SourceError
from sluice.sim.server import SimServer
from sluice.sources import create_source
from sluice.sources.file_unit import FileUnit
from tests.unit.sources.test_csv import read_file

COMPRESS: dict[str, Callable[[bytes], bytes]] = {
    ".gz": gzip.compress,
    ".bz2": bz2.compress,
    ".xz": lzma.compress,
    ".zst": zstandard.ZstdCompressor().compress,
}

CSV = b'id,name,city\n1,Ada,London\n2,"Grace\nHopper",NYC\n3,Bob\n4,Linus,Helsinki\n'
JSONL = b'{"id": 1, "name": "Ada"}\n\n{"id": 2, "name": "Grace"}\n'

PROJECT = """
pipelines:
  p:
    sources:
      s:
        type: file
        {where}
{extra}
    table:
      name: people
      columns:
        id: {{type: integer, required: true}}
        name: string
"""


def project(where: str, extra: str = "") -> str:
    return PROJECT.format(where=where, extra=extra)


def unit_of(path: Path, **options: object) -> FileUnit:
    cfg = FileSourceConfig.model_validate({"path": path.name, **options})
    (unit,) = list(create_source("s", cfg, path.parent).units())
    assert isinstance(unit, FileUnit)
    return unit


@pytest.mark.parametrize("suffix", list(COMPRESS))
def test_compressed_csv_reads_as_the_plain_file(tmp_path: Path, suffix: str) -> None:
    (tmp_path / "plain.csv").write_bytes(CSV)
    (tmp_path / f"people.csv{suffix}").write_bytes(COMPRESS[suffix](CSV))
    plain = read_file(tmp_path / "plain.csv")
    columns, data, rejects = read_file(tmp_path / f"people.csv{suffix}")
    assert columns == plain[0] == ["id", "name", "city"]
    assert data.equals(plain[1])
    assert data.select("id", LINE).rows() == [("1", 2), ("2", 3), ("4", 6)]
    assert [(r.line, r.text) for r in rejects] == [(r.line, r.text) for r in plain[2]]


@pytest.mark.parametrize("suffix", list(COMPRESS))
def test_compressed_jsonl_reads_with_its_line_numbers(tmp_path: Path, suffix: str) -> None:
    (tmp_path / f"e.jsonl{suffix}").write_bytes(COMPRESS[suffix](JSONL))
    reader = unit_of(tmp_path / f"e.jsonl{suffix}").open()
    assert reader.columns == ["id", "name"]
    (batch,) = list(reader.batches())
    assert batch.data.select("id", "name", LINE).rows() == [("1", "Ada", 1), ("2", "Grace", 3)]


def test_a_tsv_gz_is_tab_separated(tmp_path: Path) -> None:
    path = tmp_path / "f.tsv.gz"
    path.write_bytes(gzip.compress(b"id\tname\n1\tAda, Countess\n"))
    columns, data, _ = read_file(path)
    assert data.select(columns).rows() == [("1", "Ada, Countess")]


def test_compressed_bytes_without_the_suffix_are_read_by_their_magic(tmp_path: Path) -> None:
    # an export endpoint saved as "export.csv", or a name without extension and format: csv
    for name, options in (("export.csv", {}), ("export", {"format": "csv"})):
        (tmp_path / name).write_bytes(gzip.compress(CSV))
        columns, data, _ = read_file(tmp_path / name, **options)
        assert columns == ["id", "name", "city"] and data.height == 3


def test_a_name_that_says_compressed_over_plain_bytes_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f.csv.gz").write_bytes(CSV)
    with pytest.raises(SourceError) as info:
        read_file(tmp_path / "f.csv.gz")
    assert "named as gzip data (.gz) but is not compressed" in info.value.message


def test_compressed_parquet_is_refused_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "f.parquet.gz").write_bytes(gzip.compress(b"PAR1"))
    with pytest.raises(ConfigError) as info:
        unit_of(tmp_path / "f.parquet.gz")
    assert "only csv, jsonl and json are read compressed" in info.value.message


def test_the_ledger_hashes_the_stored_bytes_and_the_copy_keeps_them(tmp_path: Path) -> None:
    stored = gzip.compress(CSV)
    (tmp_path / "f.csv.gz").write_bytes(stored)
    unit = unit_of(tmp_path / "f.csv.gz")
    assert unit.fingerprint() == hashlib.sha256(stored).hexdigest()
    unit.copy_to(tmp_path / "kept" / "f.csv.gz")
    assert (tmp_path / "kept" / "f.csv.gz").read_bytes() == stored


def test_a_two_mib_field_in_a_gzip_file(tmp_path: Path) -> None:
    content = b"id,name,city\n1,a,b\n2," + b"x" * (2 << 20) + b",c\n3,d,e\n"
    (tmp_path / "f.csv.gz").write_bytes(gzip.compress(content))
    _, data, _ = read_file(tmp_path / "f.csv.gz")
    assert data.select("id", LINE).rows() == [("1", 2), ("2", 3), ("3", 4)]


# --------------------------------------------------------------------------- bombs, corruption


def bomb(size: int) -> bytes:
    return gzip.compress(b"id,name\n" + b"1,aaaaaaaaaaaaaaaaaaaaaa\n" * (size // 25))


def test_inflating_past_max_unzipped_bytes_stops_mid_stream(tmp_path: Path) -> None:
    (tmp_path / "f.csv.gz").write_bytes(bomb(50_000_000))
    assert (tmp_path / "f.csv.gz").stat().st_size < 500_000
    # 64 KiB blocks: PyArrow reads about 2 MiB ahead of the first batch
    unit = unit_of(tmp_path / "f.csv.gz", max_unzipped_bytes=4_000_000, batch_bytes=65536)
    batches = unit.open().batches()
    # read as a stream: the first rows come before the limit is reached
    assert next(batches).data.height > 0
    with pytest.raises(SourceError) as info:
        list(batches)
    assert info.value.message == "gzip data inflates past 4,000,000 bytes (max_unzipped_bytes)"
    assert "raise max_unzipped_bytes on the source (now 4,000,000)" in (info.value.hint or "")


def test_run_sets_a_bomb_aside_and_loads_nothing_of_it(make_project, run_project) -> None:
    root = make_project(
        project("path: data/*", "        max_unzipped_bytes: 1000000"),
        {"data/bomb.jsonl.zst": zstandard.ZstdCompressor().compress(b'{"id": 1}\n' * 200_000)},
    )
    out = run_project(root)
    (qf,) = out.stream("s")["quarantined_files"]
    assert qf["reason"] == "zstd data inflates past 1,000,000 bytes (max_unzipped_bytes)"
    assert out.rows() == []


@pytest.mark.parametrize("suffix", list(COMPRESS))
def test_run_truncated_file_is_set_aside_whole(make_project, run_project, suffix: str) -> None:
    content = b"id,name\n" + b"".join(b"%d,name %d\n" % (i, i) for i in range(50_000))
    packed = COMPRESS[suffix](content)
    root = make_project(
        project("path: data/*"), {f"data/f.csv{suffix}": packed[: len(packed) // 2]}
    )
    out = run_project(root)
    (qf,) = out.stream("s")["quarantined_files"]
    assert qf["reason"].startswith("corrupt or truncated")
    assert out.rows() == []


def test_run_a_gzip_file_with_a_broken_block_is_set_aside_whole(make_project, run_project) -> None:
    """Damage inside the deflate stream (not its end): ISA-L's own error, as a reason."""
    content = b"id,name\n" + b"".join(b"%d,name %d\n" % (i, i) for i in range(50_000))
    packed = bytearray(gzip.compress(content))
    packed[20:60] = bytes(40)
    root = make_project(project("path: data/*"), {"data/f.csv.gz": bytes(packed)})
    out = run_project(root)
    (qf,) = out.stream("s")["quarantined_files"]
    assert qf["reason"].startswith("corrupt or truncated gzip data: ")
    assert out.rows() == []


def test_a_gzip_file_of_two_members_reads_as_both(tmp_path: Path) -> None:
    """`cat a.gz b.gz > c.gz` is a valid gzip file: both members' rows, in order."""
    first, second = b"id,name,city\n1,Ada,London\n", b"2,Grace,NYC\n"
    (tmp_path / "f.csv.gz").write_bytes(gzip.compress(first) + gzip.compress(second))
    headers, rows, rejects = read_file(tmp_path / "f.csv.gz")
    assert headers == ["id", "name", "city"]
    assert rows["name"].to_list() == ["Ada", "Grace"] and rejects == []


# --------------------------------------------------------------------------- zip members, runs


def test_run_loads_compressed_zip_members_and_skips_them_next_time(
    make_project, run_project
) -> None:
    root = make_project(project("path: data/*.zip"))
    (root / "data").mkdir()
    with zipfile.ZipFile(root / "data" / "drop.zip", "w") as zf:
        zf.writestr("a.csv.gz", gzip.compress(b"id,name\n1,Ada\n"))
        zf.writestr("b.jsonl.xz", lzma.compress(b'{"id": 2, "name": "Grace"}\n'))
    out = run_project(root)
    assert out.status == "succeeded", out.report.errors
    assert sorted((r["id"], r["name"]) for r in out.rows()) == [(1, "Ada"), (2, "Grace")]
    again = run_project(root)
    assert again.counts("s").loaded == 0
    assert all("already loaded" in f["reason"] for f in again.stream("s")["skipped_files"])


def test_run_drifted_gzip_file_is_replayed_from_its_compressed_copy(
    make_project, run_project
) -> None:
    from sluice.config import load_project
    from sluice.engine.replay import replay

    root = make_project(
        project("path: data/*"), {"data/f.csv.gz": gzip.compress(b"id,full_name\n1,Ada\n")}
    )
    assert run_project(root).stream("s")["quarantined_files"]
    yaml = root / "sluice.yaml"
    yaml.write_text(
        yaml.read_text().replace("path: data/*", "path: data/*\n        columns: {name: full_name}")
    )
    (report,) = replay(load_project(root), ids=None)
    assert report.streams["s"].counts.loaded == 1


# --------------------------------------------------------------------------- downloads


@pytest.fixture
def server() -> Iterator[str]:
    app = FastAPI()
    packed = gzip.compress(b"id,name\n1,Ada\n2,Grace\n")

    @app.get("/files/{name}")
    async def get(name: str) -> Response:
        if name == "people.csv.gz":  # a gzip file, sent as such
            return Response(packed, media_type="application/gzip")
        if name == "marked.csv.gz":  # a gzip file its server marks as gzip-encoded
            return Response(packed, media_type="text/csv", headers={"Content-Encoding": "gzip"})
        if name == "people.csv":  # a plain CSV compressed for the transfer
            return Response(packed, media_type="text/csv", headers={"Content-Encoding": "gzip"})
        if name == "bomb.csv":
            return Response(bomb(5_000_000), headers={"Content-Encoding": "gzip"})
        return Response(status_code=404)

    with SimServer(app) as running:
        yield running.url


@pytest.mark.parametrize("name", ["people.csv.gz", "marked.csv.gz", "people.csv"])
def test_run_downloads_compressed_csv(server, make_project, run_project, name: str) -> None:
    out = run_project(make_project(project(f"url: {server}/files/{name}")))
    assert out.status == "succeeded", out.report.errors
    assert [r["name"] for r in out.rows()] == ["Ada", "Grace"]


def test_run_a_gzip_encoded_download_is_not_inflated_past_the_limit(
    server, make_project, run_project
) -> None:
    extra = "        max_unzipped_bytes: 1000000"
    out = run_project(make_project(project(f"url: {server}/files/bomb.csv", extra)))
    (qf,) = out.stream("s")["quarantined_files"]
    assert qf["reason"] == "gzip data inflates past 1,000,000 bytes (max_unzipped_bytes)"
