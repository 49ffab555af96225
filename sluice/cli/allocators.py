"""The memory allocators' settings for the ``sluice`` process: set before Polars and
PyArrow load, so that memory a batch freed leaves the process.

Polars and PyArrow each bring their own allocator, and at their defaults both keep
freed memory resident:

- Polars' jemalloc hands freed pages back with ``MADV_FREE`` and keeps them "muzzy"
  for a second (``muzzy_decay_ms``); such pages stay in the process's RSS until the
  kernel is short of memory. ``muzzy_decay_ms:0`` returns them at once.
- PyArrow's default pool (mimalloc) kept ~35 MB of a CSV parse's 256 KiB blocks
  resident (a 1M-row file streamed through ``pyarrow.csv.open_csv``: RSS +37 MB
  against +12 MB with its jemalloc pool, and the pool's own high-water mark 1 MB).

The 1M-row load into PostgreSQL (``bench/run.py --only sluice-pg``) peaked at 362-366
MB of RSS with neither and at 328-336 MB with both, no slower (bench/README.md).
A setting the user exported wins; these are defaults.
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping

#: Appended by Polars to its own jemalloc settings when it is imported.
POLARS = ("_RJEM_MALLOC_CONF", "muzzy_decay_ms:0")
#: PyArrow's Linux wheels carry jemalloc; elsewhere its default stays.
ARROW = ("ARROW_DEFAULT_MEMORY_POOL", "jemalloc")


def tune(environ: MutableMapping[str, str] = os.environ, platform: str = sys.platform) -> None:
    """Set the allocators' defaults in ``environ`` (before Polars or PyArrow is imported)."""
    environ.setdefault(*POLARS)
    if platform == "linux":
        environ.setdefault(*ARROW)
