"""The CLI starts without the data plane: `sluice --help`, `sluice --version` and the start
of every command load neither Polars, SQLAlchemy, Pydantic nor the engine (each costs a CLI
call, and every test that runs one in a subprocess, about a second before it does anything).
`sluice validate` loads the config models (Pydantic) and compiles the steps (Polars), but no
database driver, Arrow or the service (issue 15: start-up under 0.3 s above Python's own)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from sluice.testing import copy_example

#: database, data and service libraries, none of which a CLI call needs before it runs one
DRIVERS_AND_SERVICE = (
    "pyarrow",
    "sqlalchemy",
    "fastapi",
    "celery",
    "psycopg",
    "pymysql",
    "duckdb",
    "sluice.state",
    "sluice.executors",
    "sluice.service",
)
HEAVY = ("polars", "pydantic", "sluice.engine", *DRIVERS_AND_SERVICE)

PROBE = """
import json, sys
import sluice
from sluice.cli.app import app
print(json.dumps(sorted(sys.modules)))
"""


def test_the_cli_app_and_the_package_import_nothing_heavy() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    loaded = set(json.loads(done.stdout))
    assert not [m for m in HEAVY if m in loaded], sorted(m for m in HEAVY if m in loaded)


def test_the_public_names_still_load_on_first_use() -> None:
    import sluice

    assert sluice.load_project.__module__.startswith("sluice.config")
    assert sluice.RunReport.__name__ == "RunReport"


def _imports(*args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run ``python -X importtime -m sluice *args``: what it printed and every module it
    imported (with each package above it: ``polars.io`` counts as ``polars`` too)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "sluice", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    names = {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "cumulative" not in line
    }
    parts = {".".join(n.split(".")[:i]) for n in names for i in range(1, n.count(".") + 2)}
    return done, parts


def _installed() -> str:
    for name in ("sluice-etl", "sluice"):
        try:
            return version(name)
        except PackageNotFoundError:
            pass
    raise AssertionError("sluice is not installed")


def test_version_prints_the_installed_version_importing_nothing_heavy() -> None:
    done, loaded = _imports("--version")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout == f"sluice {_installed()}\n"
    # nor Rich: the commands' consoles are made when they first print
    bad = sorted(m for m in (*HEAVY, "rich") if m in loaded)
    assert not bad, bad


def test_validate_loads_no_driver_arrow_or_service(leads: Path) -> None:
    done, loaded = _imports("validate", "--project", str(leads))
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("ok: "), done.stdout
    bad = sorted(m for m in DRIVERS_AND_SERVICE if m in loaded)
    assert not bad, bad
    # croniter reads `schedule:`, which examples/leads has not
    assert "croniter" not in loaded
    # nor Rich: the one line of a valid project goes out through Typer
    assert "rich" not in loaded


def test_validate_prints_its_line_escaped_and_coloured_only_on_a_terminal(
    leads: Path, tmp_path: Path
) -> None:
    odd = tmp_path / "odd\x1b]0;x\x07name"
    leads.rename(odd)
    done, _ = _imports("validate", "--project", str(odd))
    assert done.returncode == 0, done.stderr[-2000:]
    # a pipe: no colour, and the folder's escape sequence shown, not sent
    assert (
        done.stdout == f"ok: {tmp_path}/odd\\x1b]0;x\\x07name/sluice.yaml (1 pipeline(s): leads)\n"
    )


def test_a_run_of_local_files_does_not_import_httpx(leads: Path) -> None:
    # httpx (with the click, Rich and Pygments its own CLI imports) is 0.1-0.2 s that
    # only http sources, downloads and http destinations use.
    done, loaded = _imports("run", "leads", "--project", str(leads))
    assert done.returncode in (0, 3), done.stderr[-2000:]
    assert "httpx" not in loaded
    # nor the SHA-256 plugin (~6 MB of RSS), which only pipelines that hash use
    assert "polars_hash" not in loaded


CELERY_PROBE = """
import json, sys
from sluice import executors
from sluice.cli import display, progress, runs
from sluice.engine import report, settle
from sluice.executors import celery
print(json.dumps(sorted(sys.modules)))
"""


def test_queuing_a_run_on_celery_loads_no_data_plane() -> None:
    """`sluice run` on Celery queues the run and waits for the workers: the engine's
    loads, Polars, Arrow, NumPy and httpx (~0.3 s of imports) are the workers' to load,
    and the plan task waited for them before it was queued."""
    done = subprocess.run(
        [sys.executable, "-c", CELERY_PROBE], capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(done.stdout))
    data_plane = ("polars", "pyarrow", "numpy", "httpx", "sluice.engine.run", "sluice.transforms")
    bad = sorted(m for m in (*data_plane, "sluice.destinations") if m in loaded)
    assert not bad, bad
    assert "celery" in loaded and "sqlalchemy" in loaded  # what queuing does need


#: runs the CLI as the `sluice` script does and says, as it exits, whether the GC is on
GC_PROBE = """
import gc, os, sys
from sluice.cli import app
real_exit = os._exit
def exit_(code):
    print("gc-enabled", gc.isenabled(), file=sys.stderr, flush=True)
    real_exit(code)
os._exit = exit_
sys.argv = ["sluice", *sys.argv[1:]]
app.main()
"""


def _gc_at_exit(*args: str, cwd: Path) -> bool:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    done = subprocess.run(
        [sys.executable, "-c", GC_PROBE, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("gc-enabled "), done.stderr[-2000:]
    return last == "gc-enabled True"


def test_the_gc_is_off_while_starting_and_on_once_a_run_works(leads: Path, tmp_path: Path) -> None:
    # A short command exits before the GC would have anything to find.
    assert not _gc_at_exit("validate", "--project", str(leads), cwd=leads)
    # A run turns it back on when its first stream reports, with progress shown or not.
    for progress in ("lines", "none"):
        project = copy_example("leads", tmp_path / progress)
        assert _gc_at_exit("run", "leads", "--progress", progress, cwd=project), progress
    # Any other command (a service, a worker, a replay: they may run for hours) has it on
    # from its start.
    assert _gc_at_exit("quarantine", "list", cwd=leads)


def test_a_runs_display_is_passed_on_whole_and_its_first_report_turns_the_gc_on() -> None:
    import gc

    from sluice.cli.startup import Begun

    told: list[tuple[str, str, int]] = []

    class Display:
        def __call__(self, stream: str, stage: str, rows: int) -> None:
            told.append((stream, stage, rows))

        def planned(self, stream: str, size: int) -> None:
            told.append((stream, "planned", size))

    was = gc.isenabled()
    gc.disable()
    try:
        shown = Begun(Display())
        shown.planned("s", 10)
        assert not gc.isenabled()
        shown("s", "extract", 0)
        assert gc.isenabled()
        assert told == [("s", "planned", 10), ("s", "extract", 0)]
        # No display: the run finds none of a display's methods, and still turns it on.
        gc.disable()
        quiet = Begun(None)
        assert getattr(quiet, "planned", None) is None
        quiet("s", "load", 5)
        assert gc.isenabled()
    finally:
        gc.unfreeze()
        (gc.enable if was else gc.disable)()
