"""What the benchmarks in bench/*/ share: bench/run.py's measuring tools, loaded once.

bench/run.py is a script, not a package module (and its name clashes with each
sub-benchmark's own run.py), so it is loaded from its path.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent


def load_bench() -> Any:
    """bench/run.py as a module: measure(), Schemas, psql(), schema_url(), SLUICE_CMD, ..."""
    spec = importlib.util.spec_from_file_location("load_bench", BENCH / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
