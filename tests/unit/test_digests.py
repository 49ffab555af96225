"""Hashes made ahead (sluice.digests): used only for the very file they were made from."""

from __future__ import annotations

import hashlib
import io
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, cast

import pytest

from sluice import digests
from sluice.config import parse_project
from sluice.sources.file import hash_ahead

DAY_NS = 86_400 * 10**9


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # A test's files are seconds old: settled at once, unless a test says otherwise
    # (their change time cannot be put back as a drop folder's would be).
    monkeypatch.setattr(digests, "SETTLED_NS", 0)
    digests._ahead.clear()
    yield
    digests._ahead.clear()


def settled(path: Path, content: bytes) -> Path:
    """A file written, its modification time a day back (as a drop folder's are)."""
    path.write_bytes(content)
    past = time.time_ns() - DAY_NS
    os.utime(path, ns=(past, past))
    return path


def wait(path: Path) -> None:
    entry = digests._ahead[os.fspath(path)]
    assert entry.done.wait(10)


class Opener:
    """``open_stored``, counting the times the file is read to be hashed."""

    def __init__(self, path: Path) -> None:
        self.path, self.calls = path, 0

    def __call__(self) -> IO[bytes]:
        self.calls += 1
        return self.path.open("rb")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_file_hashed_ahead_is_not_read_again_and_its_digest_is_sha256(tmp_path: Path) -> None:
    data = b"id,name\n" + b"1,a\n" * 100_000
    f = settled(tmp_path / "a.csv", data)
    digests.ahead([f])
    wait(f)
    opener = Opener(f)
    assert digests.sha256(f, opener) == sha(data)
    assert opener.calls == 0
    # used once: a second ask reads the file
    assert digests.sha256(f, opener) == sha(data)
    assert opener.calls == 1


@pytest.mark.parametrize(
    "change",
    [
        lambda f: f.write_bytes(f.read_bytes() + b"2,b\n"),  # appended
        lambda f: f.write_bytes(f.read_bytes().replace(b"1,a", b"9,z")),  # same size
        lambda f: os.utime(f, ns=(time.time_ns(), time.time_ns() - DAY_NS + 1)),  # touched
    ],
)
def test_a_file_changed_after_its_hash_is_hashed_again(
    tmp_path: Path, change: Callable[[Path], object]
) -> None:
    f = settled(tmp_path / "a.csv", b"id,name\n1,a\n")
    digests.ahead([f])
    wait(f)
    change(f)
    opener = Opener(f)
    assert digests.sha256(f, opener) == sha(f.read_bytes())
    assert opener.calls == 1


def test_a_file_changed_just_now_is_not_hashed_ahead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # File times move in clock ticks: a file still being written could be rewritten
    # within one tick, same size, and look unchanged. It is hashed when needed.
    monkeypatch.setattr(digests, "SETTLED_NS", 2_000_000_000)
    f = settled(tmp_path / "fresh.csv", b"id\n1\n")  # changed (its status) just now
    digests.ahead([f])
    wait(f)
    assert digests._ahead[os.fspath(f)].hexdigest is None
    opener = Opener(f)
    assert digests.sha256(f, opener) == sha(b"id\n1\n")
    assert opener.calls == 1


def test_links_fifos_and_missing_files_are_left_to_the_run(tmp_path: Path) -> None:
    target = settled(tmp_path / "target.csv", b"id\n1\n")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    missing = tmp_path / "gone.csv"
    digests.ahead([link, fifo, missing])
    for p in (link, fifo, missing):
        wait(p)
        assert digests._ahead[os.fspath(p)].hexdigest is None
    with pytest.raises(FileNotFoundError):  # the run's own read reports it
        digests.sha256(missing, Opener(missing))


def test_the_run_waits_for_a_hash_under_way(tmp_path: Path) -> None:
    files = [settled(tmp_path / f"{i}.csv", os.urandom(4 << 20)) for i in range(4)]
    digests.ahead(files)
    last = files[-1]
    opener = Opener(last)
    assert digests.sha256(last, opener) == sha(last.read_bytes())
    assert opener.calls == 0


class Counted(io.BufferedReader):
    """A file that counts its reads: each is a hand-back of the GIL."""

    reads = 0

    def readinto(self, buffer: Any) -> int:
        self.reads += 1
        return super().readinto(buffer)

    def read(self, size: int | None = -1) -> bytes:
        self.reads += 1
        return super().read(size)


@pytest.mark.parametrize("size", [0, 1, digests.CHUNK - 1, digests.CHUNK, 2 * digests.CHUNK + 5])
def test_a_file_is_hashed_in_few_large_pieces(tmp_path: Path, size: int) -> None:
    # hashlib.file_digest reads 256 KiB at a time: beside a thread running Python
    # code (the imports), each piece waited up to 5 ms to take the GIL back.
    data = os.urandom(size)
    f = tmp_path / "big.csv"
    f.write_bytes(data)
    counted = Counted(io.FileIO(f))
    assert digests.of_stream(lambda: counted) == sha(data)
    assert counted.reads == -(-size // digests.CHUNK) + 1  # the last read finds the end
    plain = io.BytesIO(data)  # no readinto: read() pieces, the same digest
    assert digests.of_stream(lambda: cast(IO[bytes], _NoReadinto(plain))) == sha(data)


class _NoReadinto:
    """A stream with read() only (as some archive members' wrappers are)."""

    def __init__(self, inner: io.BytesIO) -> None:
        self.inner = inner

    def read(self, size: int = -1) -> bytes:
        return self.inner.read(size)

    def __enter__(self) -> _NoReadinto:
        return self

    def __exit__(self, *exc: object) -> None:
        self.inner.close()


PIPELINE = """
pipelines:
  p:
    sources:
      drop: {type: file, path: "drop/*"}
      other: {type: file, path: "other/*.csv"}
      api: {type: http, base_url: "http://127.0.0.1:9", endpoint: /items}
    table:
      name: t
      columns: {id: integer}
"""


def test_hash_ahead_takes_the_files_the_sources_match(tmp_path: Path) -> None:
    (tmp_path / "drop").mkdir()
    (tmp_path / "other").mkdir()
    a = settled(tmp_path / "drop" / "a.csv", b"id\n1\n")
    settled(tmp_path / "drop" / "b.zip", b"PK")  # its members are the units
    (tmp_path / "drop" / "link.csv").symlink_to(a)  # refused by the source
    c = settled(tmp_path / "other" / "c.csv", b"id\n2\n")
    pipe = parse_project(PIPELINE, root=tmp_path).pipeline("p")
    hash_ahead(pipe, tmp_path, "drop")
    assert set(digests._ahead) == {os.fspath(a)}
    hash_ahead(pipe, tmp_path)
    assert set(digests._ahead) == {os.fspath(a), os.fspath(c)}


def test_a_run_hashes_its_files_ahead_whoever_started_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Celery part or a service-triggered run has no CLI to hash its files ahead: the
    planner starts it, so no file is hashed on the load's own thread (a worker spent
    1.1 s of 31 there, for 120 files in parts of four)."""
    import sluice

    (tmp_path / "drop").mkdir()
    for i in range(3):
        settled(tmp_path / "drop" / f"f{i}.csv", f"id\n{i}\n".encode())
    on_thread: list[str] = []
    real = digests.of_stream

    def counted(open_bytes: Callable[[], IO[bytes]]) -> str:
        on_thread.append("hashed on the load's thread")
        return real(open_bytes)

    monkeypatch.setattr(digests, "of_stream", counted)
    project = parse_project(
        "warehouse: sqlite:///w.db\nstate: sqlite:///s.db\n"
        + PIPELINE.replace('      other: {type: file, path: "other/*.csv"}\n', "").replace(
            '      api: {type: http, base_url: "http://127.0.0.1:9", endpoint: /items}\n', ""
        ),
        root=tmp_path,
    )
    report = sluice.run_pipeline(project, "p")
    assert report.totals.loaded == 3, report.as_dict()
    assert on_thread == []
    assert digests._ahead == {}  # each hash made ahead was used


def test_digests_made_ahead_and_never_taken_are_forgotten_past_a_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long-lived worker hashes each part's files ahead; a part that ends before it
    plans them never takes their digests, and they must not pile up."""
    monkeypatch.setattr(digests, "KEPT", 2)
    paths = [settled(tmp_path / f"f{i}.csv", b"id\n%d\n" % i) for i in range(5)]
    for path in paths:
        digests.ahead([path])
        wait(path)
    assert list(digests._ahead) == [os.fspath(p) for p in paths[-2:]]
    opener = Opener(paths[0])  # forgotten: hashed again when it is wanted, rightly
    assert digests.sha256(paths[0], opener) == sha(b"id\n0\n") and opener.calls == 1
    opener = Opener(paths[4])
    assert digests.sha256(paths[4], opener) == sha(b"id\n4\n") and opener.calls == 0


def test_on_two_threads_each_hashes_every_other_file_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Celery part waits for its files' digests: they are made on both cores, the
    first two files at once."""
    import threading

    paths = [settled(tmp_path / f"f{i}.csv", b"id\n%d\n" % i) for i in range(5)]
    by: dict[str, threading.Thread] = {}  # the threads themselves (an ident is reused)
    real = digests._hash

    def hashed(path: Path) -> Any:
        by[path.name] = threading.current_thread()
        return real(path)

    monkeypatch.setattr(digests, "_hash", hashed)
    digests.ahead(paths, threads=2)
    for path in paths:
        wait(path)
    assert by["f0.csv"] is by["f2.csv"] is by["f4.csv"]
    assert by["f1.csv"] is by["f3.csv"] and by["f1.csv"] is not by["f0.csv"]
    for i, path in enumerate(paths):
        assert digests.sha256(path, Opener(path)) == sha(b"id\n%d\n" % i)
