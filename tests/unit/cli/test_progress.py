"""What the progress display computes: percent, bytes and ETA from what the engine says."""

from __future__ import annotations

import time

from sluice.cli.progress import ProgressLines, Tracker, clock


def test_percent_bytes_and_eta_of_a_sized_unit() -> None:
    t = Tracker(["a", "b"])
    assert [s["stage"] for s in t.snapshot()] == ["planning", "planning"]
    t("a", "extract", 0)
    t.streams["a"].unit_began -= 10  # it opened ten seconds ago
    t("a", "load", 500)
    t.bytes_read("a", "a.csv", 250, 1000)
    a, b = t.snapshot()
    assert (a["bytes"], a["size"], a["percent"]) == (250, 1000, 25.0)
    assert 29 <= a["eta"] <= 31  # 250 bytes in 10 s: 750 more in 30 s
    assert b["stage"] == "waiting" and "size" not in b  # nothing known of b yet
    t.bytes_read("a", "a.csv", 1100, 1000)  # the estimate ran past the size
    assert t.snapshot()[0]["percent"] == 99.0  # not done until every row is sent
    t("a", "commit", 1000)
    (a, _) = t.snapshot()
    assert (a["percent"], a["eta"]) == (100.0, None)
    rate = a["rows_per_s"]
    time.sleep(0.05)  # the warehouse commits: no new rows, the rate holds
    assert t.snapshot()[0]["rows_per_s"] == rate


def test_a_stream_of_several_files_shows_its_own_percent_and_eta() -> None:
    t = Tracker(["a"])
    t.planned("a", 3000)  # three files: 1000, then 2000 bytes
    t("a", "extract", 0)
    t.streams["a"].began -= 10  # the stream began ten seconds ago
    t("a", "load", 100)
    t.bytes_read("a", "1.csv", 500, 1000)
    (a,) = t.snapshot()
    assert (a["bytes"], a["size"], a["percent"]) == (500, 3000, 16.7)
    assert 49 <= a["eta"] <= 51  # 500 bytes in 10 s: 2500 more in 50 s
    t("a", "done", 200)  # the first file committed
    t("a", "extract", 200)  # the second one opens
    t("a", "load", 300)
    t.bytes_read("a", "2.csv", 1000, 2000)
    (a,) = t.snapshot()
    assert (a["unit"], a["bytes"], a["size"], a["percent"]) == ("2.csv", 2000, 3000, 66.7)
    # A run that could not tell every size: the file in progress, as before.
    t.planned("a", 0)
    assert t.snapshot()[0]["size"] == 2000


def test_a_line_says_it_all_in_one_line() -> None:
    line = ProgressLines.line(
        65.0,
        {
            "stream": "s\x1b1",
            "stage": "load",
            "rows": 460000,
            "rows_per_s": 46000,
            "bytes": 82_000_000,
            "size": 178_100_000,
            "percent": 46.0,
            "eta": 12.0,
        },
    )
    assert line == (
        "progress 1:05 s\\x1b1: load, 460,000 rows, 46,000 rows/s, 82.0 of 178.1 MB (46%), ETA 0:12"
    )
    assert clock(3723) == "1:02:03"


def test_lines_come_every_few_seconds_while_nothing_is_said() -> None:
    lines = ProgressLines(["a"], as_json=True, every=0.05)
    written: list[int] = []
    lines.write = lambda: written.append(1)  # type: ignore[method-assign]
    with lines:
        lines("a", "merge", 10)  # a long merge: the engine says nothing more
        time.sleep(0.4)
    assert len(written) >= 4  # the clock went on, and the last one at the end
