"""Where a CSV's rows start: headers with quoted newlines, blank lines, skipped lines.

Each file is also read with Python's own csv module, and the source must agree with
it: the header is the first non-blank record, every row is the record csv.reader
reads, on the physical line csv.reader counts.
"""

from __future__ import annotations

import codecs
import csv
import io
import time
from pathlib import Path

import pytest

from sluice.batch import LINE
from sluice.sources.csv_reader import unique_headers
from sluice.sources.csv_start import utf16_hint
from tests.unit.sources.test_csv import project, read_file, write


def python_csv(
    content: bytes, *, encoding: str = "utf-8-sig", skip_rows: int = 0, delimiter: str = ","
) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """(header, [(line, record)]) as Python's csv module reads the file: ``skip_rows``
    lines dropped, blank records before the header skipped, blank rows left out."""
    text = io.StringIO(content.decode(encoding), newline="")
    for _ in range(skip_rows):
        text.readline()
    reader = csv.reader(text, delimiter=delimiter)
    records: list[tuple[int, list[str]]] = []
    line = skip_rows + 1  # the line the next record starts on
    for record in reader:
        if any(field.strip() for field in record):
            records.append((line, record))
        line = skip_rows + reader.line_num + 1
    return records[0][1], records[1:]


def source_rows(columns: list[str], data) -> list[tuple[int, list[str]]]:
    """The source's rows as csv.reader gives them: nulls back to "", blank rows left out."""
    out = []
    for row in data.select(*columns, LINE).rows():
        fields = ["" if v is None else v for v in row[:-1]]
        if any(f.strip() for f in fields):
            out.append((row[-1], fields))
    return out


def agree(tmp_path: Path, content: bytes, name: str = "f.csv", **options) -> list[str]:
    """Read ``content`` both ways, assert they agree; the source's header."""
    csv_opts = options.get("csv", {})
    header, records = python_csv(
        content,
        encoding=csv_opts.get("encoding", "utf-8-sig"),
        skip_rows=csv_opts.get("skip_rows", 0),
        delimiter=csv_opts.get("delimiter", ","),
    )
    columns, data, rejects = read_file(write(tmp_path, content, name), **options)
    assert columns == header
    assert source_rows(columns, data) == records
    assert rejects == []
    return columns


LICENSES = (
    b'"License\nNumber",Facility Name,"City\n(Mailing)",Capacity\n'  # lines 1-3
    b"CC-1001,Little Stars,Austin,24\n"  # 4
    b'CC-1002,"Sunrise\nAcademy",Dallas,60\n'  # 5-6
    b'CC-1003,"Oak ""Tree"" House","El Paso,\nTX",12\n'  # 7-8
    b"CC-1004,Bright Path,Houston,40\n"  # 9
)


def test_header_with_quoted_newlines_starts_the_rows_after_it(tmp_path: Path) -> None:
    columns = agree(tmp_path, LICENSES)
    assert columns == ["License\nNumber", "Facility Name", "City\n(Mailing)", "Capacity"]
    _, data, _ = read_file(tmp_path / "f.csv")
    assert data.select("License\nNumber", LINE).rows() == [
        ("CC-1001", 4),
        ("CC-1002", 5),
        ("CC-1003", 7),
        ("CC-1004", 9),
    ]


def test_two_line_header_with_crlf_bom_and_multiline_rows(tmp_path: Path) -> None:
    content = b"\xef\xbb\xbf" + LICENSES.replace(b"\n", b"\r\n")
    assert agree(tmp_path, content)[0] == "License\r\nNumber"


def test_skip_rows_blank_lines_and_a_multiline_header(tmp_path: Path) -> None:
    content = (
        b"Exported from Licensing Portal\r\n"
        b'"Report date: 2024-05-01, ""all regions"""\r\n'
        b"\r\n"
        b"   \r\n"
        b",,,\r\n" + LICENSES.replace(b"\n", b"\r\n")
    )
    agree(tmp_path, content, csv={"skip_rows": 2})
    _, data, _ = read_file(tmp_path / "f.csv", csv={"skip_rows": 2})
    assert data.get_column(LINE).to_list() == [9, 10, 12, 14]


@pytest.mark.parametrize("options", [{}, {"csv": {"delimiter": ";"}}])
def test_excels_sep_line_names_the_delimiter_and_is_no_header(
    tmp_path: Path, options: dict[str, object]
) -> None:
    # Excel writes and reads a first line `sep=;`: it was read as the header, and the
    # file set aside as drifted ('sep=', 'column_2'). It is what skip_rows: 1 and the
    # delimiter it names make of the file, as Python's csv reads it then.
    content = LICENSES.replace(b",", b";").replace(b"El Paso;", b"El Paso,")
    content = b"sep=;\r\n" + content
    columns, data, rejects = read_file(write(tmp_path, content), **options)
    header, records = python_csv(content, skip_rows=1, delimiter=";")
    assert columns == header and rejects == []
    assert source_rows(columns, data) == records
    assert data.get_column(LINE).to_list() == [5, 6, 8, 10]


def test_a_delimiter_set_against_the_sep_line_is_refused_with_the_setting_to_change(
    tmp_path: Path,
) -> None:
    from sluice.errors import SourceError

    path = write(tmp_path, b"SEP=|\nid|name\n1|Ada\n")
    with pytest.raises(SourceError) as info:
        read_file(path, csv={"delimiter": ","})
    assert info.value.message == (
        "line 1 says the delimiter is '|' (Excel's 'sep=|' line), but csv.delimiter on "
        "source 's' is ','"
    )
    assert "set csv.delimiter to '|' on source 's'" in (info.value.hint or "")
    # with skip_rows the line is skipped as any other: the delimiter set is used
    columns, _, _ = read_file(path, csv={"delimiter": "|", "skip_rows": 1})
    assert columns == ["id", "name"]


def test_leading_blank_lines_are_not_an_empty_file(tmp_path: Path) -> None:
    columns = agree(tmp_path, b"\n\r\n\nid,name\n1,Ada\n\n2,Grace\n")
    assert columns == ["id", "name"]


def test_a_file_of_blank_lines_is_empty(tmp_path: Path) -> None:
    columns, data, rejects = read_file(write(tmp_path, b"\n\r\n  \n"))
    assert columns == [] and data.height == 0 and rejects == []


def test_rejects_after_a_multiline_header_keep_their_physical_line(tmp_path: Path) -> None:
    content = (
        b'"id\nnumber",name,city\n'  # 1-2
        b"1,Ada,London\n"  # 3
        b"2,Grace\n"  # 4: too few
        b'3,"multi\nline",Paris\n'  # 5-6
        b"4,Linus,Helsinki,extra\n"  # 7: too many
        b"5,Guido,Amsterdam\n"  # 8
    )
    _, data, rejects = read_file(write(tmp_path, content))
    assert data.select("id\nnumber", LINE).rows() == [("1", 3), ("3", 5), ("5", 8)]
    assert [(r.line, r.text) for r in rejects] == [(4, "2,Grace"), (7, "4,Linus,Helsinki,extra")]


def test_without_a_header_leading_blank_lines_are_skipped(tmp_path: Path) -> None:
    content = b'\n\n1,"Ada\nLovelace",London\n2,Grace,NYC\n'
    columns, data, rejects = read_file(write(tmp_path, content), csv={"header": False})
    assert columns == ["column_1", "column_2", "column_3"]
    assert data.select("column_1", LINE).rows() == [("1", 3), ("2", 5)]
    assert rejects == []


def test_latin1_multiline_header_is_transcoded(tmp_path: Path) -> None:
    content = 'Note\n"Numéro\nde licence";Établissement\nA-1;Crèche "Soleil"\n'.encode("latin-1")
    options = {"csv": {"encoding": "latin-1", "delimiter": ";", "skip_rows": 1}}
    assert agree(tmp_path, content, **options) == ["Numéro\nde licence", "Établissement"]


def test_utf16_tab_separated_export(tmp_path: Path) -> None:
    # What a spreadsheet writes as "Unicode text": UTF-16 with a BOM, tab separated.
    text = '"License\r\nNumber"\tName\r\nCC-1\tZoë\r\nCC-2\t"Two\r\nlines"\r\n'
    content = text.encode("utf-16")
    options = {"csv": {"encoding": "utf-16", "delimiter": "\t"}}
    assert agree(tmp_path, content, "f.txt", **options) == ["License\r\nNumber", "Name"]


def test_old_mac_line_ends(tmp_path: Path) -> None:
    agree(tmp_path, b'"id\rnumber",name\r1,Ada\r\r2,Grace\r')


def test_run_loads_a_spreadsheet_export_with_a_multiline_header(make_project, run_project) -> None:
    content = b'\r\n"id\r\n(number)",Name,"City"\r\n1,Ada,London\r\n2,"Grace\r\nHopper",NYC\r\n'
    extra = '        columns: {id: "id\\r\\n(number)"}'
    out = run_project(make_project(project(extra), {"data/a.csv": content}))
    assert out.status == "succeeded"
    assert out.rows() == [
        {"id": 1, "name": "Ada", "city": "London"},
        {"id": 2, "name": "Grace\r\nHopper", "city": "NYC"},
    ]


# --------------------------------------------------------------------------- repeated names


def test_unique_headers_keep_their_naming() -> None:
    assert unique_headers(["x", "x", "x_2", "x", "", "x_2"]) == [
        "x",
        "x_2",
        "x_2_2",
        "x_3",
        "column_5",
        "x_2_3",
    ]
    assert unique_headers(["a", "a_2", "a", "a", "a_3"]) == ["a", "a_2", "a_3", "a_4", "a_3_2"]


# Not a timer on the assertion: a generous bound that only a quadratic reader misses
# (about 1.5 s here; 37 s and more before the fix, which made it minutes in a run).
@pytest.mark.timeout(20)
def test_twenty_thousand_repeats_of_one_header_read_quickly(tmp_path: Path) -> None:
    n = 20_000
    content = ",".join(["x"] * n).encode() + b"\n" + ",".join(["1"] * n).encode() + b"\n"
    started = time.perf_counter()
    columns, data, _ = read_file(write(tmp_path, content))
    elapsed = time.perf_counter() - started
    assert columns[:3] == ["x", "x_2", "x_3"] and columns[-1] == f"x_{n}"
    assert len(set(columns)) == n
    assert data.height == 1 and data.row(0)[:n] == ("1",) * n
    print(f"{n:,} repeated headers read in {elapsed:.2f} s")


@pytest.fixture
def repeated(make_project) -> Path:
    header = "id,name,city," + ",".join(["x"] * 20_000)
    row = "1,Ada,London," + ",".join(["v"] * 20_000)
    return make_project(project(), {"data/a.csv": f"{header}\n{row}\n"})


def test_run_drift_message_lists_a_few_names_and_counts_the_rest(repeated, run_project) -> None:
    out = run_project(repeated)
    (qf,) = out.stream("s")["quarantined_files"]
    # the first repeat says what the others are
    assert "found but not mapped: 'x', 'x_2' (the file's 'x' header again), 'x_3'," in qf["reason"]
    assert "... and 19,970 more" in qf["reason"]
    assert len(qf["reason"]) < 1000


@pytest.mark.timeout(30)
def test_run_twenty_thousand_repeats_ignored_loads(repeated, run_project) -> None:
    (repeated / "sluice.yaml").write_text(
        (repeated / "sluice.yaml")
        .read_text()
        .replace("path: data/*.csv", "path: data/*.csv\n        ignore: ['x', 'x_*']")
    )
    out = run_project(repeated)
    assert out.status == "succeeded"
    assert out.rows() == [{"id": 1, "name": "Ada", "city": "London"}]


def test_a_header_field_past_pythons_csv_limit_says_so(tmp_path: Path) -> None:
    from sluice.errors import SourceError

    content = b'id,"' + b"x" * 200_000 + b'"\n1,2\n'
    with pytest.raises(SourceError) as info:
        read_file(write(tmp_path, content))
    assert "field larger than field limit" in info.value.message
    assert f"at most {csv.field_size_limit():,} characters in the header" in (info.value.hint or "")


@pytest.mark.parametrize(
    ("start", "encoding", "named"),
    [
        ("a,b".encode("utf-16"), "utf-8", True),  # read as UTF-8: its first bytes
        ("a,b".encode("utf-16-be"), "utf-8", False),  # no mark: nothing to tell it by
        (codecs.BOM_UTF16_BE + "a,b".encode("utf-16-be"), "utf-8", True),
        ("a,b".encode("utf-16").decode("latin-1"), "latin-1", True),  # its first header
        ("a,b".encode("utf-16").decode("cp1252"), "cp1252", True),
        ("a,b".encode("utf-32"), "utf-8", "utf-32"),  # UTF-32's mark starts as UTF-16's
        (codecs.BOM_UTF32_BE + "a,b".encode("utf-32-be"), "utf-8", "utf-32"),
        ("a,b".encode("utf-32"), "utf-32", False),
        ("a,b".encode("utf-16"), "utf-16", False),  # read as it should be
        ("a,b".encode("utf-16"), "UTF_16LE", False),
        ("\xff\xfename".encode("latin-1"), "utf-8", True),  # as it comes: the bytes say so
        ("name", "latin-1", False),
    ],
)
def test_a_utf16_file_is_told_by_its_byte_order_mark(
    start: bytes | str, encoding: str, named: bool | str
) -> None:
    hint = utf16_hint(start, encoding, "s", "`sluice quarantine replay`")
    assert (hint is not None) is bool(named)
    if hint:
        said = named if isinstance(named, str) else "utf-16"
        assert f"set csv.encoding to {said} on source 's'" in hint
        assert hint.endswith("then `sluice quarantine replay`")
