"""Symbolic links and non-files in a source's folder are refused, never read: a link
dropped as ``drop/innocent.csv -> /elsewhere/secret.csv`` must not load the secret
into the warehouse, the dead letter or the quarantine, and is a warning naming it."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from sluice.config import load_project
from sluice.errors import FileGone, SourceError
from sluice.executors.parts import plan_parts
from sluice.sources import SourceContext
from sluice.sources.file import FileSource

SECRET = "TOPSECRET"

PROJECT = """
pipelines:
  p:
    sources:
      s:
        type: file
        path: {path}
    table:
      name: events
      columns:
        id: {{type: integer, required: true}}
        kind: string
"""


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """Files outside the project: what a link in the drop folder points at."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.csv").write_text(f"id,kind\n99,{SECRET}\n")
    # does not fit the table: read, it would be copied whole into the dead letter
    (folder / "secret_odd.csv").write_text(f"password,kind\n{SECRET},x\n")
    (folder / "sub").mkdir()
    (folder / "sub" / "deep.csv").write_text(f"id,kind\n98,{SECRET}\n")
    return folder


def project(tmp_path: Path, path: str) -> Path:
    root = tmp_path / "proj"
    (root / "drop").mkdir(parents=True)
    (root / "sluice.yaml").write_text(PROJECT.format(path=path))
    (root / "drop" / "real.csv").write_text("id,kind\n1,a\n")
    return root


def everything_under(root: Path) -> str:
    """Every byte under ``root`` (warehouse, state, dead letter), as text."""
    out = []
    for p in root.rglob("*"):
        if p.is_file() and not p.is_symlink():
            out.append(p.read_bytes().decode("utf-8", "replace"))
    return "\n".join(out)


def warehouse_rows(root: Path) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(root / "warehouse.db")) as conn:
        return conn.execute("SELECT id, kind FROM events ORDER BY id").fetchall()


def quarantine_and_log(root: Path, run_id: str) -> tuple[list[Any], list[str]]:
    from sluice.state.store import StateStore

    store = StateStore(load_project(root).state_url())
    try:
        entries = store.quarantined(pipeline="p", status=None)
        log = [e.message for e in store.events(run_id)]
    finally:
        store.close()
    return entries, log


def test_links_out_of_the_folder_are_refused_with_a_warning(
    tmp_path: Path, outside: Path, run_project: Callable[..., Any]
) -> None:
    root = project(tmp_path, "drop/*.csv")
    os.symlink(outside / "secret.csv", root / "drop" / "innocent.csv")
    os.symlink(outside / "secret_odd.csv", root / "drop" / "odd.csv")

    out = run_project(root)

    assert out.status == "succeeded"
    assert warehouse_rows(root) == [(1, "a")]
    warnings = out.report.as_dict()["warnings"]
    said = {w["message"] for w in warnings}
    assert said == {
        "drop/innocent.csv is a symbolic link, not a regular file: not read",
        "drop/odd.csv is a symbolic link, not a regular file: not read",
    }
    assert all("copy the file into the folder" in w["hint"] for w in warnings)
    entries, log = quarantine_and_log(root, out.report.run_id)
    assert entries == []  # the odd file was not set aside: it was never read
    assert any("drop/innocent.csv is a symbolic link" in line for line in log)
    assert not (root / ".sluice" / "deadletter").exists()
    assert SECRET not in everything_under(root)


def test_a_link_to_a_file_inside_the_folder_is_refused_too(
    tmp_path: Path, run_project: Callable[..., Any]
) -> None:
    """The simple rule: no link is followed, even one that stays in the folder (the
    file it points to is read as itself)."""
    root = project(tmp_path, "drop/*.csv")
    os.symlink(root / "drop" / "real.csv", root / "drop" / "again.csv")
    out = run_project(root)
    assert warehouse_rows(root) == [(1, "a")]
    (w,) = out.report.as_dict()["warnings"]
    assert w["message"] == "drop/again.csv is a symbolic link, not a regular file: not read"


def test_double_star_does_not_descend_into_a_linked_folder(
    tmp_path: Path, outside: Path, run_project: Callable[..., Any]
) -> None:
    root = project(tmp_path, "drop/**/*.csv")
    (root / "drop" / "real_sub").mkdir()
    (root / "drop" / "real_sub" / "b.csv").write_text("id,kind\n2,b\n")
    os.symlink(outside / "sub", root / "drop" / "linked")
    os.symlink(outside, root / "drop" / "real_sub" / "up")  # a link further down

    out = run_project(root)

    assert warehouse_rows(root) == [(1, "a"), (2, "b")]
    said = sorted(w["message"] for w in out.report.as_dict()["warnings"])
    assert said == [
        "drop/linked is a symbolic link to a folder: not looked into",
        "drop/real_sub/up is a symbolic link to a folder: not looked into",
    ]
    assert SECRET not in everything_under(root)


def test_a_fifo_in_the_folder_is_refused_and_does_not_hang_the_run(
    tmp_path: Path, outside: Path, run_project: Callable[..., Any]
) -> None:
    root = project(tmp_path, "drop/*")
    os.mkfifo(root / "drop" / "pipe.csv")
    os.symlink(outside / "secret.csv", root / "drop" / "link.csv")
    out = run_project(root)
    assert out.status == "succeeded"
    assert warehouse_rows(root) == [(1, "a")]
    said = sorted(w["message"] for w in out.report.as_dict()["warnings"])
    assert said == [
        "drop/link.csv is a symbolic link, not a regular file: not read",
        "drop/pipe.csv is a FIFO (named pipe), not a regular file: not read",
    ]


def test_a_file_swapped_for_a_link_after_listing_is_not_opened(
    tmp_path: Path, outside: Path
) -> None:
    """The check and the open cannot be raced: the file is opened with O_NOFOLLOW from
    the source's folder, and fstat must say it is a regular file."""
    root = project(tmp_path, "drop/*.csv")
    proj = load_project(root)
    cfg = proj.pipeline("p").sources["s"]
    (unit,) = FileSource("s", cfg, root, SourceContext()).units()  # type: ignore[arg-type]
    (root / "drop" / "real.csv").unlink()
    os.symlink(outside / "secret.csv", root / "drop" / "real.csv")
    with pytest.raises(SourceError, match=r"drop/real\.csv cannot be opened"):
        unit.fingerprint()
    with pytest.raises(SourceError, match=r"drop/real\.csv cannot be opened"):
        unit.copy_to(tmp_path / "copy.csv")
    assert not (tmp_path / "copy.csv").exists()
    # a folder on the way swapped for a link is refused as well
    (root / "drop" / "sub").mkdir()
    (root / "drop" / "sub" / "x.csv").write_text("id,kind\n3,c\n")
    cfg2 = cfg.model_copy(update={"path": "drop/*/x.csv"})
    (unit2,) = FileSource("s", cfg2, root, SourceContext()).units()  # type: ignore[arg-type]
    (root / "drop" / "sub" / "x.csv").unlink()
    (root / "drop" / "sub").rmdir()
    os.symlink(outside / "sub", root / "drop" / "sub")
    (outside / "sub" / "x.csv").write_text(f"id,kind\n97,{SECRET}\n")
    with pytest.raises(SourceError, match="a folder on its way is a symbolic link"):
        unit2.fingerprint()


def test_a_zip_reached_through_a_link_is_refused(
    tmp_path: Path, outside: Path, run_project: Callable[..., Any]
) -> None:
    import zipfile

    with zipfile.ZipFile(outside / "secret.zip", "w") as zf:
        zf.writestr("in.csv", f"id,kind\n96,{SECRET}\n")
    root = project(tmp_path, "drop/*")
    os.symlink(outside / "secret.zip", root / "drop" / "batch.zip")
    out = run_project(root)
    assert warehouse_rows(root) == [(1, "a")]
    (w,) = out.report.as_dict()["warnings"]
    assert w["message"] == "drop/batch.zip is a symbolic link, not a regular file: not read"


def test_a_run_given_the_link_as_its_file_refuses_it(
    tmp_path: Path, outside: Path, run_project: Callable[..., Any]
) -> None:
    """What a Celery part does with a path its plan listed: the path is not resolved,
    so a link is refused there as in a local run (and the plan makes it a part, so
    the run's warnings say so). The operator's `sluice run --file LINK` is resolved by
    the CLI first: tests/cli/test_terminal_text.py runs it."""
    root = project(tmp_path, "drop/*.csv")
    link = root / "drop" / "innocent.csv"
    os.symlink(outside / "secret.csv", link)
    parts = plan_parts(load_project(root), "p")
    assert [(p.key, p.target) for p in parts] == [
        ("s/00000", str(root / "drop" / "real.csv")),
        ("s/refused-00000", str(link)),
    ]
    out = run_project(root, file=str(link))
    (w,) = out.report.as_dict()["warnings"]
    assert w["message"].endswith("innocent.csv is a symbolic link, not a regular file: not read")
    assert SECRET not in everything_under(root)


@pytest.mark.parametrize("moved", ["drop/real.csv", "drop/sub", "drop"])
def test_a_listed_file_whose_path_went_away_is_file_gone_not_a_link(
    tmp_path: Path, moved: str
) -> None:
    """Deleted or moved after listing (the file, a folder on its way, the source's own
    folder): FileGone, which the run reports for that file alone, not the link refusal."""
    root = project(tmp_path, "drop/**/*.csv")
    (root / "drop" / "sub").mkdir()
    (root / "drop" / "real.csv").rename(root / "drop" / "sub" / "real.csv")
    cfg = load_project(root).pipeline("p").sources["s"]
    (unit,) = FileSource("s", cfg, root, SourceContext()).units()  # type: ignore[arg-type]
    path = root / moved.replace("drop/real.csv", "drop/sub/real.csv")
    path.rename(tmp_path / "elsewhere")
    with pytest.raises(FileGone, match=r"drop/sub/real\.csv: no such file \(it was there"):
        unit.fingerprint()
