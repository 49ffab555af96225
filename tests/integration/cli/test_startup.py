"""The CLI starts without the data plane: `sluice --help` and the start of every command
load neither Polars, SQLAlchemy, Pydantic nor the engine (each costs a CLI call, and every
test that runs one in a subprocess, about a second before it does anything)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("polars", "pyarrow", "sqlalchemy", "pydantic", "fastapi", "celery", "sluice.engine")

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
