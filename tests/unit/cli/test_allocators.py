"""The defaults the ``sluice`` process sets before Polars, PyArrow and NumPy load."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sluice.cli import allocators


def test_defaults_are_set_and_what_the_user_exported_wins() -> None:
    env: dict[str, str] = {"_RJEM_MALLOC_CONF": "narenas:1"}
    allocators.tune(env, platform="linux")
    assert env == {
        "_RJEM_MALLOC_CONF": "narenas:1",
        "ARROW_DEFAULT_MEMORY_POOL": "jemalloc",
        "OPENBLAS_NUM_THREADS": "1",
    }
    env = {"OPENBLAS_NUM_THREADS": "4"}
    allocators.tune(env, platform="darwin")  # PyArrow's jemalloc is a Linux wheel's
    assert env == {"_RJEM_MALLOC_CONF": "muzzy_decay_ms:0", "OPENBLAS_NUM_THREADS": "4"}


@pytest.mark.skipif(sys.platform != "linux", reason="PyArrow's jemalloc pool: Linux wheels")
def test_the_libraries_take_them_without_a_warning() -> None:
    # The installed wheels: PyArrow's default pool becomes jemalloc (no "unsupported
    # backend" warning), and Polars appends our setting after its own.
    code = (
        "import os; from sluice.cli import allocators; allocators.tune();"
        "import polars, pyarrow as pa;"
        "print(pa.default_memory_pool().backend_name);"
        "print(os.environ['_RJEM_MALLOC_CONF'])"
    )
    unset = ("_RJEM_MALLOC_CONF", "ARROW_DEFAULT_MEMORY_POOL")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    pool, conf = out.stdout.split()
    assert pool == "jemalloc"
    assert conf.endswith(",muzzy_decay_ms:0")
    assert out.stderr == ""


def _threads_numpy_starts(tuned: bool) -> int:
    code = (
        "import os; from sluice.cli import allocators;"
        + ("allocators.tune();" if tuned else "")
        + "before = len(os.listdir('/proc/self/task'));"
        "import numpy;"
        "print(len(os.listdir('/proc/self/task')) - before)"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return int(out.stdout)


@pytest.mark.skipif(
    not os.path.isdir("/proc/self/task") or (os.cpu_count() or 1) < 2,
    reason="counts the process's threads in /proc; OpenBLAS starts none on one core",
)
def test_numpy_starts_no_blas_thread() -> None:
    # The installed NumPy starts an OpenBLAS thread per extra core (each spins for a
    # while after the import); with the default it starts none.
    assert _threads_numpy_starts(tuned=False) >= 1
    assert _threads_numpy_starts(tuned=True) == 0
