"""The run log mirrored to Python's logging (logger ``sluice.run``), from real runs."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sluice import logs

PROJECT = """
    name: t
    warehouse: sqlite:///wh.db
    state: sqlite:///state.db
    pipelines:
      p:
        sources:
          drops: {type: file, path: "data/*.csv"}
        table:
          name: people
          columns:
            id: {type: integer, required: true}
            name: string
"""
FILES = {"data/a.csv": "id,name\n1,ann\nx,bob\n3,cy\n"}


class Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def kept() -> Iterator[Kept]:
    handler = Kept()
    logger = logging.getLogger("sluice")
    before = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(before)


def test_every_run_log_event_is_a_record_with_its_context(
    make_project: Callable[..., Path], run_project: Callable[..., Any], kept: Kept
) -> None:
    out = run_project(make_project(PROJECT, FILES))
    run_id = out.report.run_id
    mine = [r for r in kept.records if r.name == logs.RUN_LOGGER]
    logged = [r for r in mine if r.event == "log"]  # type: ignore[attr-defined]
    from sluice.state.store import StateStore

    store = StateStore(out.project.state_url())
    try:
        stored = [e.message for e in store.events(run_id)]
    finally:
        store.close()
    assert [r.getMessage() for r in logged] == stored  # every event, in order
    assert {r.run_id for r in mine} == {run_id}  # type: ignore[attr-defined]
    assert {r.pipeline for r in mine} == {"p"}  # type: ignore[attr-defined]
    unit = next(r for r in logged if "read 3" in r.getMessage())
    assert unit.stream == "drops" and unit.levelno == logging.INFO  # type: ignore[attr-defined]
    end = logged[-1]
    assert end.getMessage() == "run finished: succeeded_with_quarantine"
    assert (end.read, end.loaded, end.quarantined) == (3, 2, 1)  # type: ignore[attr-defined]
    assert end.sluice["status"] == "succeeded_with_quarantine"  # type: ignore[attr-defined]
    stages = [r for r in mine if r.event == "stage"]  # type: ignore[attr-defined]
    assert stages and all(r.levelno == logging.DEBUG for r in stages)
    assert {r.sluice["stage"] for r in stages} >= {"extract", "transform", "load"}  # type: ignore[attr-defined]


def test_a_library_run_configures_no_handler_and_leaves_the_root_logger_alone(
    make_project: Callable[..., Path],
) -> None:
    folder = make_project(PROJECT, FILES)
    code = (
        "import logging, sluice\n"
        "from sluice.config import load_project\n"
        "from sluice.engine import run_pipeline\n"
        "root = logging.getLogger()\n"
        "before = (list(root.handlers), root.level)\n"
        f"run_pipeline(load_project({str(folder)!r}), 'p')\n"
        "assert (list(root.handlers), root.level) == before\n"
        "assert [type(h).__name__ for h in logging.getLogger('sluice').handlers] "
        "== ['NullHandler']\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no record printed by Python's last-resort handler


def test_json_lines_carry_the_context_and_a_zoned_time() -> None:
    record = logging.makeLogRecord({"name": "sluice.run", "levelno": 20, "levelname": "INFO"})
    record.msg = "hello"
    record.sluice = {"run_id": "r1", "pipeline": "p", "stream": None, "event": "log", "read": 3}
    doc = json.loads(logs.JsonLines().format(record))
    assert doc["message"] == "hello" and doc["run_id"] == "r1" and doc["read"] == 3
    assert "stream" not in doc  # nothing to say
    assert doc["ts"].endswith("+00:00")


def test_event_data_never_overwrites_a_record_attribute(kept: Kept) -> None:
    logs.mirror(logging.INFO, "x", run_id="r", pipeline="p", data={"message": "m", "name": "n"})
    (record,) = kept.records
    assert record.getMessage() == "x" and record.name == logs.RUN_LOGGER
    assert record.data_message == "m" and record.data_name == "n"  # type: ignore[attr-defined]
