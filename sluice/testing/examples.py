"""The example projects of the repository (``examples/``), copied for a test."""

from __future__ import annotations

import shutil
from pathlib import Path

import sluice

#: the repository's examples; present in a source checkout (``pip install -e .``)
EXAMPLES = Path(sluice.__file__).resolve().parents[1] / "examples"


def copy_example(name: str, dest: Path) -> Path:
    """Copy ``examples/<name>`` to ``dest`` (which must not exist) and return ``dest``.

    Its state (``.sluice``) and SQLite warehouses (``*.db``) are left behind, so a run
    in the copy starts from scratch whatever was run in the example itself.
    """
    source = EXAMPLES / name
    if not (source / "sluice.yaml").is_file():
        known = sorted(p.name for p in EXAMPLES.iterdir()) if EXAMPLES.is_dir() else []
        raise FileNotFoundError(
            f"no example {name!r} in {EXAMPLES} (examples: {', '.join(known) or 'none'}; "
            "they ship with a source checkout, not with the wheel)"
        )
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns(".sluice", "*.db"))
    return Path(dest)
