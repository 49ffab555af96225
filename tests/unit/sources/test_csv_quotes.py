"""A quote left open: the lines it ran over are named, and one never closed is held back."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import pytest

from sluice.status import EntryKind
from tests.conftest import Outcome
from tests.unit.sources.test_csv import project, read_file, write

HEADER = b"id,name,city\n"


def strict_error(text: str) -> str | None:
    """What Python's csv in strict mode says of the record ``text`` (None: nothing)."""
    try:
        next(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as exc:
        return str(exc)
    return None


@pytest.mark.parametrize("end", [b"\n", b"\r\n"])
@pytest.mark.parametrize("last", [True, False])
def test_a_quote_never_closed_in_the_last_column_is_not_loaded(
    tmp_path: Path, end: bytes, last: bool
) -> None:
    # The quote opens in the last column: every line after it is that one value, and
    # the row has the header's width. It was loaded as "Paris\n3,Linus,Helsinki\n...".
    rows = [b"1,Ada,London", b'2,Grace,"Paris', b"3,Linus,Helsinki", b"4,Guido,Amsterdam"]
    content = HEADER + end.join(rows) + (end if last else b"")
    _, data, rejects = read_file(write(tmp_path, content))
    assert data.get_column("id").to_list() == ["1"]
    (reject,) = rejects
    assert strict_error(reject.text) == "unexpected end of data"
    assert reject.text == content.decode()[len(HEADER) + len(rows[0]) + len(end) :]
    assert (reject.line, reject.reason) == (
        3,
        "a quote opened on line 3 is never closed, so lines 3-5, to the end of the file, "
        "read as one row",
    )


def test_a_last_row_over_lines_whose_quote_closes_is_loaded(tmp_path: Path) -> None:
    for end in (b"\n", b""):
        content = HEADER + b'1,Ada,London\n2,Grace,"Paris\nFrance"' + end
        _, data, rejects = read_file(write(tmp_path, content))
        assert rejects == []
        assert data.get_column("city").to_list() == ["London", "Paris\nFrance"]
        assert data.get_column("_line").to_list() == [2, 3]


def test_the_last_row_is_checked_when_the_batch_before_it_was_full(tmp_path: Path) -> None:
    # Batches of 4 KiB: the row with the open quote comes after many full batches.
    body = b"".join(b"%d,Name %d,City %d\n" % (i, i, i) for i in range(1, 3000))
    content = HEADER + body + b'3000,Grace,"Paris\n3001,Linus,Helsinki\n'
    _, data, rejects = read_file(write(tmp_path, content), batch_bytes=4096)
    assert data.height == 2999
    assert [(r.line, r.reason.split(",")[0]) for r in rejects] == [
        (3001, "a quote opened on line 3001 is never closed")
    ]


def test_a_ragged_row_says_which_lines_a_quote_ran_over(tmp_path: Path) -> None:
    content = HEADER + b'1,Ada,London\n2,"Grace,Paris\n3,Linus,Helsinki\n4,Guido,"A"\n5,Alan,X\n'
    _, data, rejects = read_file(write(tmp_path, content))
    assert data.get_column("id").to_list() == ["1", "5"]
    (reject,) = rejects
    assert strict_error(reject.text) == "',' expected after '\"'"  # it closes
    assert (reject.line, reject.reason) == (
        3,
        "row has 2 fields, the header has 3: a quote opened on line 3 closes on line 5, "
        "so lines 3-5 read as one row",
    )


def test_a_ragged_row_whose_quote_never_closes(tmp_path: Path) -> None:
    content = HEADER + b'1,Ada,London\n2,"Grace,Paris\n3,Linus,Helsinki\n'
    _, _, (reject,) = read_file(write(tmp_path, content))
    assert reject.reason == (
        "row has 2 fields, the header has 3: a quote opened on line 3 is never closed, "
        "so lines 3-4, to the end of the file, read as one row"
    )


def test_a_run_quarantines_the_row_and_counts_it(
    make_project: Callable[..., Path], run_project: Callable[..., Outcome]
) -> None:
    content = HEADER + b'1,Ada,London\n2,Grace,"Paris\n3,Linus,Helsinki\n'
    out = run_project(make_project(project(), {"data/a.csv": content}))
    assert out.status == "succeeded_with_quarantine"
    c = out.counts("s")
    assert (c.read, c.loaded, c.quarantined) == (2, 1, 1)
    (entry,) = out.quarantine(EntryKind.ROW)
    assert entry.line == 3 and "never closed" in entry.reasons[0]
    assert entry.payload == {"_raw": '2,Grace,"Paris\n3,Linus,Helsinki\n'}


def test_a_quote_never_closed_past_the_last_column_of_a_trailing_delimiter_file(
    tmp_path: Path,
) -> None:
    # Lines that end with a delimiter are parsed one field wider: a quote opened in
    # that field and never closed gives the row its full width too. Its reject was
    # dropped when the trailing field was checked, and the row vanished.
    content = b'id,name,city,\n1,Ada,London,\n2,Grace,Paris,"x\n3,Linus,Helsinki,\n'
    _, data, rejects = read_file(write(tmp_path, content))
    assert data.get_column("id").to_list() == ["1"]
    assert [(r.line, r.reason.split(",")[0]) for r in rejects] == [
        (3, "a quote opened on line 3 is never closed")
    ]


@pytest.mark.parametrize("end", [b"\r", b"\r\n", b"\n"], ids=["cr", "crlf", "lf"])
def test_line_numbers_after_values_over_lines_are_pythons_for_every_line_end(
    tmp_path: Path, end: bytes
) -> None:
    # Old Mac exports end lines with a lone `\r`: the lines a value spanned were not
    # counted (the rows after it were a line short each), and a quote never closed at
    # the end loaded the lines it ate, as it did with `\n` before.
    from tests.unit.sources.test_csv_header import python_csv

    rows = [b"1,Ann,ok", b'2,Bob,"multi' + end + b'line"', b"3,Cy,x", b'4,Di,"oops', b"5,Ed,x"]
    content = HEADER.rstrip(b"\n") + end + end.join(rows) + end
    _, data, rejects = read_file(write(tmp_path, content))
    _, records = python_csv(content, encoding="utf-8")
    starts = {r[0]: line for line, r in records}
    assert data.select("id", "_line").rows() == [(i, starts[i]) for i in ("1", "2", "3")]
    (reject,) = rejects
    assert reject.line == starts["4"] and "is never closed, so lines 6-7" in reject.reason
