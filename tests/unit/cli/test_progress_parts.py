"""A run told from elsewhere (Celery workers, through the state store): the display
shows each stream's stage, rows and parts as :meth:`Tracker.update` sets them."""

from __future__ import annotations

import io

from rich.console import Console

from sluice.cli.progress import LiveProgress, ProgressLines, Tracker


def test_a_stream_told_in_parts_begins_when_its_first_part_runs() -> None:
    t = Tracker(["a", "b"])
    t.update("a", "queued", 0, (0, 3))
    a, b = t.snapshot()
    assert (a["stage"], a["elapsed"], a["parts_ended"], a["parts"]) == ("queued", 0.0, 0, 3)
    assert b["stage"] == "planning" and "parts" not in b  # nothing told of b yet
    t.update("a", "load", 0, (0, 3))
    t.streams["a"].began -= 10  # its first part started ten seconds ago
    t.update("a", "load", 500, (1, 3))
    a, b = t.snapshot()
    assert (a["stage"], a["rows"], a["parts_ended"]) == ("load", 500, 1)
    assert 45 <= a["rows_per_s"] <= 50 and a["elapsed"] >= 10
    assert b["stage"] == "waiting"  # another stream goes first
    t.update("a", "done", 1500, (3, 3))
    assert (t.snapshot()[0]["stage"], t.snapshot()[0]["rows"]) == ("done", 1500)


def test_a_line_and_the_live_table_show_the_parts() -> None:
    doc = {"stream": "s", "stage": "load", "rows": 40000, "rows_per_s": 20000}
    line = ProgressLines.line(2.0, {**doc, "parts_ended": 2, "parts": 12})
    assert line == "progress 0:02 s: load, 40,000 rows, 20,000 rows/s, 2 of 12 parts"
    assert ProgressLines.line(2.0, {**doc, "parts_ended": 0, "parts": 1}).endswith("0 of 1 part")

    out = io.StringIO()
    console = Console(file=out, width=80, force_terminal=False)
    live = LiveProgress(console, ["s", "t"], "run 20261201T031533-0fa921 on celery workers")
    live.update("s", "load", 40000, (2, 12))
    live.update("t", "queued", 0, (0, 2))
    console.print(live.render())
    text = out.getvalue()
    assert "run 20261201T031533-0fa921 on celery workers · 0:00\n" in text  # one line
    header = next(line for line in text.splitlines() if "stream" in line)
    assert header.split() == ["stream", "stage", "rows", "rows/s", "parts"]  # no bytes known
    rows = [line.split() for line in text.splitlines() if line.strip()[:1] in ("s", "t")]
    assert rows[-2][:3] == ["s", "load", "40,000"] and rows[-2][-1] == "2/12"
    assert rows[-1] == ["t", "queued", "0", "0", "0/2"]


def test_a_stream_told_in_parts_shows_its_bytes_percent_and_eta() -> None:
    t = Tracker(["a", "b"])
    t.update("a", "load", 0, (0, 2), (0, 1_000_000))
    t.streams["a"].began -= 10  # its first part started ten seconds ago
    t.update("a", "load", 300, (0, 2), (250_000, 1_000_000))
    t.update("b", "load", 10, (0, 1), (5_000, 0))  # a part's size is not known
    a, b = t.snapshot()
    assert (a["bytes"], a["size"], a["percent"]) == (250_000, 1_000_000, 25.0)
    assert "unit" not in a  # the bytes are the stream's, not a file's
    assert 29 <= a["eta"] <= 31  # a quarter in ten seconds: thirty more
    assert "size" not in b and "percent" not in b
    line = ProgressLines.line(10.0, a)
    assert ", 0.2 of 1.0 MB (25%), ETA 0:" in line and line.endswith(", 0 of 2 parts")
    t.update("a", "load", 900, (1, 2), (1_200_000, 1_000_000))  # an estimate past the end
    assert t.snapshot()[0]["percent"] == 99.0  # not 100 before every part ended
    t.update("a", "failed", 900, (2, 2), (1_000_000, 1_000_000))
    assert t.snapshot()[0]["eta"] is None  # failed: nothing more to come
    t.update("a", "done", 1000, (2, 2), (1_000_000, 1_000_000))
    assert (t.snapshot()[0]["percent"], t.snapshot()[0]["eta"]) == (100.0, None)


def test_the_live_table_of_a_run_in_parts_shows_bytes_when_a_stream_knows_them() -> None:
    out = io.StringIO()
    console = Console(file=out, width=80, force_terminal=False)
    live = LiveProgress(console, ["s", "t"], "run x on celery workers")
    live.update("s", "load", 40000, (0, 1), (5_000_000, 10_000_000))
    live.update("t", "queued", 0, (0, 2), (0, 0))
    console.print(live.render())
    text = out.getvalue()
    header = next(line for line in text.splitlines() if "stream" in line)
    assert header.split() == ["stream", "stage", "rows", "rows/s", "parts", "read", "%", "ETA"]
    row = next(line.split() for line in text.splitlines() if line.strip().startswith("s "))
    assert row[:3] == ["s", "load", "40,000"] and "0/1" in row and "50%" in row
