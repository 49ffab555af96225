"""File-drop triggers on a real folder: a new file runs its pipeline once it is whole,
and the file ledger keeps the same content from loading twice."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from sluice.config import load_project
from sluice.engine import run_pipeline
from sluice.engine.report import RunReport
from sluice.service.runtime.watcher import FolderWatcher
from sluice.testing import Clock, copy_example

HEADER = (
    "License Number,Facility Name,Facility Type,Contact First Name,Contact Last Name,Phone,"
    "Email,Street Address,City,State,ZIP,Capacity,License Status,Licensed Since,"
    "Last Inspection,Monthly Rate\n"
)
ROWS = [
    "55501001,Maple Tree Center,Center,Ana,Lee,(208) 555-0101,ana@example.org,1 Elm St,"
    "Boise,ID,83702,40,Active,01/02/2020,03/04/2024,900.00\n",
    "55501002,Oak Grove Preschool,Preschool,Ben,Kim,(208) 555-0102,ben@example.org,2 Oak St,"
    "Boise,ID,83702,25,Active,05/06/2019,07/08/2024,850.00\n",
]


class Submits:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.busy = False

    def __call__(self, pipeline: str, kind: str) -> str | None:
        self.calls.append((pipeline, kind))
        return None if self.busy else f"run-{len(self.calls)}"


@pytest.fixture
def leads(tmp_path: Path, unset_urls: None) -> Path:
    root = tmp_path / "leads"
    copy_example("leads", root)
    text = (root / "sluice.yaml").read_text()
    text = text.replace(
        "    description: Childcare leads", "    watch: data\n    description: Childcare leads"
    )
    (root / "sluice.yaml").write_text(text)
    return root


def drop(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def test_a_new_file_starts_a_run_once_it_is_settled(leads: Path) -> None:
    clock, submits = Clock(), Submits()
    watcher = FolderWatcher(load_project(leads), submits, quiet=2.0, catch_up=False, clock=clock)
    assert watcher.folders == {"leads": leads / "data"}
    assert watcher.poll() == []  # takes stock of what is there
    drop(leads / "data" / "source1" / "new.csv", HEADER + ROWS[0])
    clock.now = 1.0
    assert watcher.poll() == []  # seen, not yet settled
    clock.now = 3.0
    (t,) = watcher.poll()
    assert (t.pipeline, t.files, t.run_id) == ("leads", ["data/source1/new.csv"], "run-1")
    assert submits.calls == [("leads", "watch")]
    clock.now = 10.0
    assert watcher.poll() == []  # handled: not again


def test_a_half_written_file_waits_until_it_stops_growing(leads: Path) -> None:
    clock, submits = Clock(), Submits()
    watcher = FolderWatcher(load_project(leads), submits, quiet=2.0, catch_up=False, clock=clock)
    watcher.poll()
    target = leads / "data" / "source1" / "big.csv"
    with target.open("w", encoding="utf-8") as f:
        f.write(HEADER)
        f.flush()
        for step in range(6):  # a slow copy: it grows at every poll for 6 s
            clock.now = 1.0 + step * 1.0
            assert watcher.poll() == []
            f.write(ROWS[step % 2])
            f.flush()
    clock.now = 7.5
    assert watcher.poll() == []  # its last change was seen at 7.5: settles at 9.5
    clock.now = 9.5
    (t,) = watcher.poll()
    assert t.files == ["data/source1/big.csv"]
    assert len(submits.calls) == 1


def test_other_files_hidden_files_and_partial_downloads_are_ignored(leads: Path) -> None:
    clock, submits = Clock(), Submits()
    watcher = FolderWatcher(load_project(leads), submits, quiet=1.0, catch_up=False, clock=clock)
    watcher.poll()
    drop(leads / "data" / "README.txt", "not data")  # matches no source path
    drop(leads / "data" / "source1" / ".new.csv", HEADER)  # hidden (rsync's temp name)
    drop(leads / "data" / "source1" / "new.csv.part", HEADER)  # a download in progress
    for clock.now in (1.0, 5.0, 10.0):
        assert watcher.poll() == []
    os.rename(leads / "data" / "source1" / "new.csv.part", leads / "data" / "source1" / "new.csv")
    clock.now = 11.0
    watcher.poll()
    clock.now = 12.0
    assert [t.files for t in watcher.poll()] == [["data/source1/new.csv"]]


def test_files_there_at_start_up_run_once_and_a_refused_submit_is_retried_later(
    leads: Path,
) -> None:
    clock, submits = Clock(), Submits()
    submits.busy = True
    watcher = FolderWatcher(load_project(leads), submits, quiet=2.0, retry=10.0, clock=clock)
    assert watcher.poll() == []
    clock.now = 2.0
    (t,) = watcher.poll()  # the four example files, in one run
    assert t.run_id is None and len(t.files) == 4
    for clock.now in (3.0, 6.0, 11.9):
        assert watcher.poll() == []  # refused: not retried at every poll
    submits.busy = False
    clock.now = 12.0
    (t,) = watcher.poll()
    assert t.run_id == "run-2" and len(t.files) == 4
    clock.now = 30.0
    assert watcher.poll() == []
    assert len(submits.calls) == 2


def test_the_same_content_dropped_twice_loads_once(leads: Path) -> None:
    """Real runs: the watcher starts a run for every new or changed file; the file
    ledger (content hash) makes the second drop of the same content load nothing."""
    reports: list[RunReport] = []

    def submit(pipeline: str, kind: str) -> str:
        report = run_pipeline(load_project(leads), pipeline)
        reports.append(report)
        return report.run_id

    clock = Clock()
    watcher = FolderWatcher(load_project(leads), submit, quiet=1.0, clock=clock)

    def settle() -> None:
        watcher.poll()
        clock.now += 1.0
        watcher.poll()
        clock.now += 1.0

    settle()  # the example's files: the run at start-up
    assert len(reports) == 1 and reports[0].totals.loaded == 54

    drop(leads / "data" / "source1" / "drop_a.csv", HEADER + "".join(ROWS))
    settle()
    assert len(reports) == 2
    assert reports[1].streams["source1"].counts.loaded == 2

    shutil.copy(
        leads / "data" / "source1" / "drop_a.csv", leads / "data" / "source1" / "drop_b.csv"
    )
    settle()
    assert len(reports) == 3  # a run happens ...
    assert reports[2].totals.read == 0  # ... and loads nothing: the ledger knows the content
    skipped = [f["file"] for f in reports[2].streams["source1"].skipped_files]
    assert "data/source1/drop_b.csv" in skipped

    stamp = time.time() + 5
    os.utime(leads / "data" / "source1" / "drop_a.csv", (stamp, stamp))  # touched
    settle()
    assert len(reports) == 4 and reports[3].totals.read == 0


def test_the_watcher_thread_polls_and_stops(leads: Path) -> None:
    submits = Submits()
    watcher = FolderWatcher(load_project(leads), submits, interval=0.02, quiet=0.05, catch_up=False)
    watcher.start()
    assert watcher.alive
    time.sleep(0.1)
    drop(leads / "data" / "source3" / "more.csv", "x\n")
    deadline = time.monotonic() + 5
    while not submits.calls and time.monotonic() < deadline:
        time.sleep(0.02)
    watcher.stop()
    assert not watcher.alive
    assert submits.calls == [("leads", "watch")]


def test_a_link_or_fifo_dropped_in_the_folder_starts_no_run(
    leads: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A symbolic link to a file elsewhere (or in the folder), a linked folder and a
    FIFO are not files dropped: no run, and one warning each in the log."""
    secret = tmp_path / "secret.csv"
    secret.write_text(HEADER + ROWS[0])
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "deep.csv").write_text(HEADER + ROWS[1])
    clock, submits = Clock(), Submits()
    watcher = FolderWatcher(load_project(leads), submits, quiet=2.0, catch_up=False, clock=clock)
    assert watcher.poll() == []
    src = leads / "data" / "source1"
    os.symlink(secret, src / "innocent.csv")
    os.symlink(tmp_path / "elsewhere", src / "linked")
    os.mkfifo(src / "pipe.csv")
    with caplog.at_level("WARNING", logger="sluice.triggers"):
        for clock.now in (1.0, 5.0, 10.0):
            assert watcher.poll() == []
    assert submits.calls == []
    said = [r.getMessage() for r in caplog.records]
    for name in ("innocent.csv", "pipe.csv"):
        (line,) = [m for m in said if f"data/source1/{name} " in m]
        assert "is a symbolic link or not a regular file" in line
        assert "copy the file into the folder" in line
    # a real file dropped next to them still runs the pipeline
    drop(src / "new.csv", HEADER + ROWS[0])
    clock.now = 11.0
    watcher.poll()
    clock.now = 14.0
    (t,) = watcher.poll()
    assert t.files == ["data/source1/new.csv"]
