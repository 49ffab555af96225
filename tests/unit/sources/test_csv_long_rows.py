"""Fields longer than PyArrow's 256 KiB read block, up to ``csv.max_row_bytes``."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.csv as pacsv
import pytest

from sluice.sources import csv_reader
from tests.unit.sources.test_csv import project, read_file, write
from tests.unit.sources.test_csv_header import python_csv, source_rows

MiB = 1 << 20


@pytest.fixture
def big_csv_fields() -> Iterator[None]:
    """Python's csv module refuses fields over 128 KiB unless told otherwise."""
    before = csv.field_size_limit()
    csv.field_size_limit(64 * MiB)
    yield
    csv.field_size_limit(before)


@pytest.fixture
def blocks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The block size of every PyArrow read the CSV reader starts."""
    seen: list[int] = []
    real = pacsv.open_csv

    def spy(f: Any, read_options: pacsv.ReadOptions, *args: Any) -> Any:
        seen.append(read_options.block_size)
        return real(f, read_options, *args)

    monkeypatch.setattr(csv_reader.pacsv, "open_csv", spy)
    return seen


def long_rows_file() -> bytes:
    """Ragged and multi-line rows around a 2 MiB and a 5 MiB field."""
    before = [
        f'{i},"name {i}",city {i}\n' if i % 97 else f'{i},"two\nlines",x\n'
        for i in range(1, 30_000)
    ]
    rows = ["id,name,note\n", *before]
    rows.append("short,row\n")  # a reject before the long fields
    rows.append('30000,"' + "a" * (2 * MiB) + '",after two MiB\n')
    rows += [f"{i},n{i},c{i}\n" for i in range(30_001, 30_100)]
    rows.append('30100,"' + ("b" * MiB + "\n") * 5 + '",after five MiB\n')  # 6 lines
    rows.append("1,2,3,4\n")  # a reject after them
    rows += [f"{i},n{i},c{i}\n" for i in range(30_101, 31_000)]
    return "".join(rows).encode()


def test_two_and_five_mib_fields_load_with_rows_before_and_after(
    tmp_path: Path, big_csv_fields: None, blocks: list[int]
) -> None:
    content = long_rows_file()
    header, records = python_csv(content)
    columns, data, rejects = read_file(write(tmp_path, content), batch_bytes=64 * 1024)
    assert columns == header
    # the source drops ragged rows as rejects; csv.reader gives them as records
    good = [(line, r) for line, r in records if len(r) == 3]
    assert source_rows(columns, data) == good
    assert [(r.line, r.text) for r in rejects] == [
        (line, ",".join(r)) for line, r in records if len(r) != 3
    ]
    names = data.get_column("name").to_list()
    assert names.count("a" * 2 * MiB) == 1 and names.count(("b" * MiB + "\n") * 5) == 1
    # read with blocks of batch_bytes, then once more with blocks that hold the long rows
    assert blocks == [64 * 1024, 8 * MiB]


def test_an_ordinary_file_reads_with_small_blocks(tmp_path: Path, blocks: list[int]) -> None:
    content = b"id,name\n" + b"".join(b"%d,name %d\n" % (i, i) for i in range(200_000))
    _, data, _ = read_file(write(tmp_path, content))
    assert data.height == 200_000
    assert blocks == [256 * 1024]


def test_a_row_over_the_limit_names_the_setting(tmp_path: Path) -> None:
    from sluice.errors import SourceError

    content = b"id,name\n1,a\n2," + b"x" * (3 * MiB) + b"\n3,c\n"
    with pytest.raises(SourceError) as info:
        read_file(write(tmp_path, content), csv={"max_row_bytes": MiB})
    assert "longer than csv.max_row_bytes (1,048,576 bytes)" in info.value.message
    assert "raise csv.max_row_bytes on the source (now 1,048,576)" in (info.value.hint or "")


def test_run_loads_a_two_mib_field_and_counts_every_row(make_project, run_project) -> None:
    content = "id,name,city\n1,Ada,London\n2," + "x" * (2 * MiB) + ",Paris\n3,Bob,Oslo\n4\n"
    out = run_project(make_project(project(), {"data/a.csv": content}))
    c = out.counts("s")
    assert (c.read, c.loaded, c.quarantined) == (4, 3, 1)
    assert [e.line for e in out.quarantine("row")] == [5]
    assert [len(r["name"]) for r in out.rows()] == [3, 2 * MiB, 3]
