"""The native libraries' defaults for the ``sluice`` process, set before they load: the
memory allocators of Polars and PyArrow, so that memory a batch freed leaves the
process, and NumPy's BLAS threads, which sluice never uses.

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

NumPy's wheels bring OpenBLAS, which starts a thread per extra core when NumPy is
imported; the thread spins waiting for work that never comes (sluice does no linear
algebra): 0.11 CPU-s per process (``import numpy``: 0.179 against 0.070 CPU-s), 2% of
a 1M-row load's CPU in ``perf`` and 13% of ``sluice run`` on examples/leads (0.98 ->
0.86 CPU-s, 8 alternating runs). One BLAS thread starts none.

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
#: Read by OpenBLAS (in NumPy's wheels) when NumPy is imported.
BLAS = ("OPENBLAS_NUM_THREADS", "1")


def tune(environ: MutableMapping[str, str] = os.environ, platform: str = sys.platform) -> None:
    """Set the defaults in ``environ`` (before Polars, PyArrow or NumPy is imported)."""
    environ.setdefault(*POLARS)
    environ.setdefault(*BLAS)
    if platform == "linux":
        environ.setdefault(*ARROW)
