"""Messages that said the wrong thing (issue 12): each names what happened and where,
and its hint names a command that works there."""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from sluice.sim.server import SimServer
from tests.support.cli import sluice
from tests.support.http_app import create_app

CSV_PROJECT = """\
warehouse: sqlite:///w.db
pipelines:
  people:
    sources:
      s:
        type: file
        path: data/*.csv
    table:
      name: people
      columns:
        name: {type: string}
        city: {type: string}
"""


def csv_project(root: Path, data: bytes, extra: str = "") -> Path:
    (root / "data").mkdir(parents=True, exist_ok=True)
    text = CSV_PROJECT.replace("path: data/*.csv", "path: data/*.csv" + extra)
    (root / "sluice.yaml").write_text(text)
    (root / "data" / "people.csv").write_bytes(data)
    return root


def set_aside(out: str) -> dict[str, str]:
    (qf,) = json.loads(out)["streams"]["s"]["quarantined_files"]
    return dict(qf)


@pytest.mark.parametrize(
    ("extra", "line"),
    [("", 3), ("\n        csv: {header: false}", 3)],
)
def test_an_undeclared_latin1_file_names_the_data_line_not_the_header(
    tmp_path: Path, extra: str, line: int
) -> None:
    data = b"name,city\nann,paris\nbob,z\xfcrich\n"
    if extra:  # without a header row, the first row is data too
        data = b"ann,paris\nzoe,lyon\nbob,z\xfcrich\n"
        extra += "\n        columns: {name: column_1, city: column_2}"
    root = csv_project(tmp_path, data, extra)
    out = sluice("run", "people", "-p", str(root), "--json")
    assert out.returncode == 3, out.stdout + out.stderr
    qf = set_aside(out.stdout)
    assert qf["reason"] == (
        f"line {line} is not valid utf-8 (csv.encoding not set): byte 0xfc at column 6: "
        "bob,z\\xfcrich"
    )
    assert "header" not in qf["reason"]
    (entry,) = json.loads(sluice("quarantine", "list", "-p", str(root), "--json").stdout)
    assert entry["line"] == line
    # The hint: set csv.encoding, then replay.
    assert "set csv.encoding on source 's'" in qf["hint"]
    assert "`sluice quarantine replay`" in qf["hint"]
    text = (root / "sluice.yaml").read_text()
    (root / "sluice.yaml").write_text(
        text.replace("path: data/*.csv", "path: data/*.csv\n        csv: {encoding: latin-1}")
        if not extra
        else text.replace("csv: {header: false}", "csv: {header: false, encoding: latin-1}")
    )
    replayed = sluice("quarantine", "replay", "-p", str(root), "--json")
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert json.loads(replayed.stdout)[0]["totals"]["loaded"] == (3 if extra else 2)


#: Excel's "Unicode text" export: UTF-16 with a byte order mark, tab-separated, CRLF
UTF16_EXPORT = "name\tcity\r\nann\tparis\r\nbob\tz\u00fcrich\r\n".encode("utf-16")


@pytest.mark.parametrize("read_as", ["", "latin-1", "cp1252"])
def test_a_utf16_export_is_named_as_one_and_loads_as_the_hint_says(
    tmp_path: Path, read_as: str
) -> None:
    # Read as UTF-8 it is not valid at byte 0xff; read as an 8-bit encoding (what the
    # hint for a bad byte suggested) its header is garbage that "looks delimited by
    # tabs". Either way the hint names UTF-16, and following it loads the rows.
    extra = f"\n        csv: {{encoding: {read_as}}}" if read_as else ""
    root = csv_project(tmp_path, UTF16_EXPORT, extra)
    out = sluice("run", "people", "-p", str(root), "--json")
    assert out.returncode == 3, out.stdout + out.stderr
    qf = set_aside(out.stdout)
    assert qf["hint"].startswith("the file starts with a UTF-16 byte order mark")
    assert "set csv.encoding to utf-16 on source 's'" in qf["hint"]
    assert "`sluice quarantine replay`" in qf["hint"]
    text = (root / "sluice.yaml").read_text().replace(extra, "")
    (root / "sluice.yaml").write_text(
        text.replace(
            "path: data/*.csv",
            'path: data/*.csv\n        csv: {encoding: utf-16, delimiter: "\\t"}',
        )
    )
    replayed = sluice("quarantine", "replay", "-p", str(root), "--json")
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert json.loads(replayed.stdout)[0]["totals"]["loaded"] == 2
    shown = sluice("preview", "people", "-p", str(root), "--json")
    assert [r["city"] for r in json.loads(shown.stdout)] == ["paris", "z\u00fcrich"]


def test_a_utf16_file_read_as_latin1_is_not_evolved_into_garbage_columns(
    tmp_path: Path,
) -> None:
    # Comma-separated UTF-16 read as latin-1: its header splits into garbled names
    # ("\xff\xfen\x00a\x00m\x00e\x00", "\x00c\x00i\x00t\x00y\x00"). Under `drift: evolve`
    # they were added to the table (as n_a_m_e and c_i_t_y) and its rows quarantined
    # for NUL bytes: the user's table changed for a file that was never read right.
    data = "name,city\r\nann,paris\r\n".encode("utf-16")
    root = csv_project(tmp_path, data, "\n        csv: {encoding: latin-1}\n        drift: evolve")
    out = sluice("run", "people", "-p", str(root), "--json")
    assert out.returncode == 3, out.stdout + out.stderr
    assert set_aside(out.stdout)["hint"].startswith("the file starts with a UTF-16 byte order mark")
    totals = json.loads(out.stdout)["totals"]
    assert (totals["read"], totals["loaded"], totals["quarantined"]) == (0, 0, 0)
    with closing(sqlite3.connect(root / "w.db")) as conn:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(people)")]
    assert columns == ["name", "city"]


def test_a_utf32_file_is_named_as_one_and_loads_as_the_hint_says(tmp_path: Path) -> None:
    # Its byte order mark was a bad byte, the hint naming cp1252 or latin-1 (which read
    # every other byte as a NUL).
    root = csv_project(tmp_path, "name,city\r\nann,z\u00fcrich\r\n".encode("utf-32"))
    qf = set_aside(sluice("run", "people", "-p", str(root), "--json").stdout)
    assert qf["hint"] == (
        "the file starts with a UTF-32 byte order mark: set csv.encoding to utf-32 on "
        "source 's'; then `sluice quarantine replay`"
    )
    text = (root / "sluice.yaml").read_text()
    (root / "sluice.yaml").write_text(
        text.replace("path: data/*.csv", "path: data/*.csv\n        csv: {encoding: utf-32}")
    )
    replayed = sluice("quarantine", "replay", "-p", str(root), "--json")
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    shown = sluice("preview", "people", "-p", str(root), "--json")
    assert [r["city"] for r in json.loads(shown.stdout)] == ["z\u00fcrich"]


def test_a_utf16_hint_only_for_a_utf16_file(tmp_path: Path) -> None:
    # A latin-1 file whose first name starts with "ÿþ" (0xff 0xfe read as latin-1) is no
    # UTF-16 export: its bad byte gets the encoding hint as before.
    root = csv_project(tmp_path, b"name,city\n\xff\xfeann,paris\n")
    qf = set_aside(sluice("run", "people", "-p", str(root), "--json").stdout)
    assert "UTF-16" not in qf["hint"] and "to cp1252 or latin-1" in qf["hint"]


@pytest.mark.parametrize(
    ("line", "encoding", "said"),
    [
        # a Windows export: euro sign, curly quotes, en dash (0x80, 0x93, 0x94, 0x96)
        ("ann,\u20ac5 \u201cspecial\u201d \u2013 Z\u00fcrich", "cp1252", "to cp1252 (Windows'"),
        # only letters both read alike (0xfc)
        ("ann,Z\u00fcrich", "cp1252", "to cp1252 or latin-1"),
    ],
)
def test_the_encoding_hint_names_the_one_that_reads_the_line_right(
    tmp_path: Path, line: str, encoding: str, said: str
) -> None:
    # cp1252 read as latin-1 (the first encoding the hint named) turned the euro sign and
    # curly quotes into invisible control characters, loaded without a word.
    data = ("name,city\n" + line + "\n").encode("cp1252")
    root = csv_project(tmp_path, data)
    qf = set_aside(sluice("run", "people", "-p", str(root), "--json").stdout)
    assert f"set csv.encoding on source 's' {said}" in qf["hint"]
    text = (root / "sluice.yaml").read_text()
    (root / "sluice.yaml").write_text(
        text.replace("path: data/*.csv", f"path: data/*.csv\n        csv: {{encoding: {encoding}}}")
    )
    replayed = sluice("quarantine", "replay", "-p", str(root), "--json")
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    shown = json.loads(sluice("preview", "people", "-p", str(root), "--json").stdout)
    assert [(r["name"], r["city"]) for r in shown] == [
        tuple(data.decode("cp1252").split("\n")[1].split(","))
    ]


def test_a_windows_export_read_as_latin1_is_set_aside_and_loads_as_cp1252(
    tmp_path: Path,
) -> None:
    # latin-1 decodes every byte: the euro sign and curly quotes of a cp1252 export
    # loaded as invisible control characters (U+0080, U+0093), without a word.
    data = "name,city\nann,Z\u00fcrich\nbob,\u20ac5 \u201cspecial\u201d\n".encode("cp1252")
    root = csv_project(tmp_path, data, "\n        csv: {encoding: latin-1}")
    out = sluice("run", "people", "-p", str(root), "--json")
    assert out.returncode == 3, out.stdout + out.stderr
    qf = set_aside(out.stdout)
    assert qf["reason"] == (
        "line 3 has byte 0x80 at column 5, which latin-1 (csv.encoding) reads as an "
        "invisible control character and Windows' cp1252 as a sign: bob,\\x805 "
        "\\x93special\\x94"
    )
    assert qf["hint"].startswith("set csv.encoding on source 's' to cp1252 (Windows'")
    totals = json.loads(out.stdout)["totals"]
    assert (totals["read"], totals["loaded"]) == (0, 0)  # no row of the file loaded
    text = (root / "sluice.yaml").read_text()
    (root / "sluice.yaml").write_text(text.replace("encoding: latin-1", "encoding: cp1252"))
    replayed = sluice("quarantine", "replay", "-p", str(root), "--json")
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    shown = json.loads(sluice("preview", "people", "-p", str(root), "--json").stdout)
    assert [r["city"] for r in shown] == ["Z\u00fcrich", "\u20ac5 \u201cspecial\u201d"]


def test_a_byte_cp1252_leaves_undefined_still_reads_as_latin1(tmp_path: Path) -> None:
    # 0x81 has no cp1252 reading: latin-1's (U+0081) is the only one, and it loads.
    root = csv_project(tmp_path, b"name,city\nann,a\x81b\n", "\n        csv: {encoding: latin-1}")
    out = sluice("run", "people", "-p", str(root), "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    shown = json.loads(sluice("preview", "people", "-p", str(root), "--json").stdout)
    assert [r["city"] for r in shown] == ["a\x81b"]


def test_a_stray_byte_in_a_utf8_file_is_fixed_in_the_file_not_by_an_encoding(
    tmp_path: Path,
) -> None:
    # Line 2 is UTF-8 ("café"), line 3 holds a latin-1 byte. Setting cp1252, as the
    # hint said, loaded "cafÃ©": every UTF-8 letter of the file read wrong, silently.
    root = csv_project(
        tmp_path,
        "name,city\nann,café\nbob,Z\xfcrich\n".encode("latin-1").replace(
            b"caf\xe9", "café".encode()
        ),
    )
    out = sluice("run", "people", "-p", str(root), "--json")
    qf = set_aside(out.stdout)
    assert qf["hint"].startswith("the file is UTF-8 before line 3 (it has UTF-8 letters there)")
    assert "csv.encoding" in qf["hint"] and "cp1252" not in qf["hint"]
    # As the hint says: fix line 3, run, discard the entry.
    (root / "data" / "people.csv").write_text("name,city\nann,café\nbob,Zürich\n")
    again = sluice("run", "people", "-p", str(root), "--json")
    assert again.returncode == 0, again.stdout + again.stderr
    assert json.loads(again.stdout)["totals"]["loaded"] == 2
    (entry,) = json.loads(sluice("quarantine", "list", "-p", str(root), "--json").stdout)
    done = sluice("quarantine", "discard", str(entry["id"]), "-p", str(root))
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(sluice("quarantine", "list", "-p", str(root), "--json").stdout) == []
    shown = json.loads(sluice("preview", "people", "-p", str(root), "--json").stdout)
    assert [r["city"] for r in shown] == ["café", "Zürich"]


def test_a_byte_cp1252_leaves_undefined_gets_latin1(tmp_path: Path) -> None:
    root = csv_project(tmp_path, b"name,city\nann,a\x81b\n")
    qf = set_aside(sluice("run", "people", "-p", str(root), "--json").stdout)
    assert "set csv.encoding on source 's' to latin-1" in qf["hint"]
    text = (root / "sluice.yaml").read_text()
    (root / "sluice.yaml").write_text(
        text.replace("path: data/*.csv", "path: data/*.csv\n        csv: {encoding: latin-1}")
    )
    replayed = sluice("quarantine", "replay", "-p", str(root), "--json")
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr


def test_a_bad_byte_in_the_header_says_line_1(tmp_path: Path) -> None:
    root = csv_project(tmp_path, b"n\xe4me,city\nbob,x\n")
    qf = set_aside(sluice("run", "people", "-p", str(root), "--json").stdout)
    assert qf["reason"].startswith("line 1 is not valid utf-8 (csv.encoding not set): byte 0xe4")


def test_an_empty_file_is_not_a_mapping_to_fix(tmp_path: Path) -> None:
    root = csv_project(tmp_path, b"")
    out = sluice("run", "people", "-p", str(root), "--json")
    qf = set_aside(out.stdout)
    assert qf["reason"] == "the file is empty: no header row"
    assert "mapping" not in qf["hint"] and "`sluice run people`" in qf["hint"]
    again = json.loads(sluice("run", "people", "-p", str(root), "--json").stdout)
    (skipped,) = again["streams"]["s"]["skipped_files"]
    assert "mapping" not in skipped["reason"]
    run_id = json.loads(out.stdout)["run_id"]
    assert f"`sluice quarantine list --run {run_id}` says why" in skipped["reason"]
    listed = sluice("quarantine", "list", "--run", run_id, "-p", str(root))
    assert "the file is empty" in listed.stdout and "fix the config" not in listed.stdout
    # What the hint says: a complete export in its place loads, then discard the entry.
    (root / "data" / "people.csv").write_bytes(b"name,city\nann,paris\n")
    loaded = json.loads(sluice("run", "people", "-p", str(root), "--json").stdout)
    assert loaded["totals"]["loaded"] == 1
    (entry,) = json.loads(sluice("quarantine", "list", "-p", str(root), "--json").stdout)
    assert sluice("quarantine", "discard", str(entry["id"]), "-p", str(root)).returncode == 0


# --------------------------------------------------------------------------- http

HTTP_PROJECT = """\
warehouse: sqlite:///w.db
pipelines:
  items:
    sources:
      s:
        type: http
        base_url: {base}
        endpoint: /items
        params: {{style: cursor}}
        records: data
        paginate: {{style: cursor, cursor_path: meta.next}}
        auth: {{type: api_key, name: api_key, in: query, value: "${{ITEMS_KEY}}"}}
        ignore: ["meta_*", updated_at]
        concurrency: 1
        max_concurrency: 1
        retry: {{max_attempts: 3, backoff: 0.01, max_backoff: 0.02}}
    table:
      name: items
      columns:
        id: {{type: integer, required: true}}
        name: string
"""


@pytest.fixture
def api() -> Iterator[str]:
    with SimServer(create_app()) as server:
        yield server.url


def test_http_retries_and_the_final_error_show_the_full_url_with_secrets_masked(
    api: str, tmp_path: Path
) -> None:
    (tmp_path / "sluice.yaml").write_text(HTTP_PROJECT.format(base=api))
    httpx.post(f"{api}/_fail", json={"statuses": [200, 503, 503, 503]})
    out = sluice("run", "items", "-p", str(tmp_path), "--json", env={"ITEMS_KEY": "s3cret"})
    assert out.returncode == 1, out.stdout + out.stderr
    assert "s3cret" not in out.stdout + out.stderr
    report = json.loads(out.stdout)
    (error,) = report["errors"]
    url = f"{api}/items?api_key=***&style=cursor&cursor=5"  # the second page
    assert error["message"] == f"GET {url} failed 3 times; last: HTTP 503"
    shown = sluice("show", report["run_id"], "-p", str(tmp_path), "--json", env={"ITEMS_KEY": "s"})
    log = json.loads(shown.stdout)["log"]
    retries = [e["message"] for e in log if e["message"].startswith("retry ")]
    assert len(retries) == 2 and all(f"of GET {url} in " in m for m in retries), retries
    assert "s3cret" not in json.dumps(log)


class Resetting:
    """An API on a raw socket: page 1 answers, then every connection is reset."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.served = 0
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                request = conn.recv(65536)
                if b"cursor=" not in request.split(b"\r\n", 1)[0] and not self.served:
                    self.served += 1
                    body = b'{"meta": {"next": 5}, "data": [{"id": 1, "name": "a"}]}'
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
                    )
                else:  # RST instead of an answer
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00" * 2)


def test_a_connection_reset_by_a_live_api_is_not_is_the_api_up(tmp_path: Path) -> None:
    server = Resetting()
    try:
        (tmp_path / "sluice.yaml").write_text(HTTP_PROJECT.format(base=server.url))
        out = sluice("run", "items", "-p", str(tmp_path), "--json", env={"ITEMS_KEY": "k"})
    finally:
        server.sock.close()
    assert out.returncode == 1, out.stdout + out.stderr
    (error,) = json.loads(out.stdout)["errors"]
    assert "cursor=5" in error["message"]
    assert "last: the connection was dropped before the answer was complete (" in error["message"]
    assert "is the API up" not in error["hint"]
    assert error["hint"].startswith(
        "the API answered 1 request(s) of this pull, then stopped: it is up but may be "
        "overloaded or restarting. Lower max_concurrency (now 1)"
    )
    assert error["hint"].endswith("then `sluice run items` pulls again")


def test_an_api_that_never_answers_asks_whether_it_is_up(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "sluice.yaml").write_text(HTTP_PROJECT.format(base=f"http://127.0.0.1:{port}"))
    out = sluice("run", "items", "-p", str(tmp_path), "--json", env={"ITEMS_KEY": "k"})
    (error,) = json.loads(out.stdout)["errors"]
    assert "last: no answer: could not connect (ConnectError" in error["message"]
    assert f"`curl -sI http://127.0.0.1:{port}` shows whether it answers" in error["hint"]


def test_show_with_a_prefix_of_several_runs_says_ambiguous_and_lists_them(tmp_path: Path) -> None:
    root = csv_project(tmp_path, b"name,city\nann,paris\n")
    first = json.loads(sluice("run", "people", "-p", str(root), "--json").stdout)["run_id"]
    second = json.loads(sluice("run", "people", "-p", str(root), "--json").stdout)["run_id"]
    prefix = first[:4]  # the year: every run starts with it
    for command in ("show", "audit"):
        out = sluice(command, prefix, "-p", str(root))
        assert out.returncode == 2, out.stdout + out.stderr
        assert f"run id '{prefix}' is ambiguous: 2 runs start with it: {second}, {first}" in (
            out.stderr
        )
        assert f"`sluice {command} {second}` (the newest)" in out.stderr
    shown = sluice("show", second, "-p", str(root), "--json")  # the hint's command
    assert shown.returncode == 0 and json.loads(shown.stdout)["run_id"] == second
    assert "no run 'zzz'" in sluice("show", "zzz", "-p", str(root)).stderr


@pytest.mark.parametrize("dialect", ["sqlite", "postgres"])
def test_a_column_limit_hit_under_evolve_is_permanent_and_named(
    tmp_path: Path, dialect: str, request: pytest.FixtureRequest
) -> None:
    wide = 1700 if dialect == "postgres" else 2100  # past 1,600 / 2,000 columns
    env = (
        {"SLUICE_WAREHOUSE_URL": request.getfixturevalue("pg_url")} if dialect == "postgres" else {}
    )
    (tmp_path / "data").mkdir()
    (tmp_path / "sluice.yaml").write_text(
        "warehouse: ${SLUICE_WAREHOUSE_URL:-sqlite:///w.db}\n"
        "pipelines:\n  wide:\n    sources:\n      s:\n        type: file\n"
        "        path: data/*.csv\n        drift: evolve\n"
        "    table:\n      name: wide\n      columns:\n        id: {type: integer}\n"
    )
    header = ",".join(["id"] + [f"c{i}" for i in range(wide)])
    (tmp_path / "data" / "wide.csv").write_text(
        header + "\n" + ",".join(["1"] + ["x"] * wide) + "\n"
    )
    out = sluice("run", "wide", "-p", str(tmp_path), "--json", env=env)
    assert out.returncode == 1, out.stdout + out.stderr
    (error,) = json.loads(out.stdout)["errors"]
    assert error["type"] == "LimitExceeded"  # not RetryableLoadError
    limit = "1,600" if dialect == "postgres" else "2,000"
    assert f"table 'wide' would have {wide + 1:,} columns;" in error["message"]
    assert f"allows at most {limit} columns in a table" in error["message"]
    assert "database is running" not in error["hint"]
    assert error["hint"].startswith("running again as is will not help")
    assert "sources.s.ignore" in error["hint"] and "`sluice run wide`" in error["hint"]
    # The hint: ignore the headers not needed, then run.
    text = (tmp_path / "sluice.yaml").read_text()
    (tmp_path / "sluice.yaml").write_text(
        text.replace("drift: evolve", "drift: evolve\n        ignore: ['c1*']")
    )
    again = sluice("run", "wide", "-p", str(tmp_path), "--json", env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert json.loads(again.stdout)["totals"]["loaded"] == 1
