"""Reading a project file stays light: it never imports the data plane's libraries."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[3]


def test_load_project_imports_neither_polars_nor_sqlalchemy() -> None:
    # A script, the service's views and `--help` read projects; Polars alone is ~0.15 s
    # of import (sluice.dtypes holds what the data plane needs of it).
    code = (
        "import sys; from sluice.config import load_project;"
        f"load_project({str(ROOT / 'examples' / 'leads')!r});"
        "print(sorted(m for m in ('polars', 'sqlalchemy', 'pyarrow') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
