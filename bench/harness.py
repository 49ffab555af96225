"""What every load line of the benchmarks shares: running a child and measuring it, and
the databases' command-line clients and fresh schemas.

bench/run.py re-exports all of it (bench/tools.py's ``load_bench()`` gives the other
benchmarks bench/run.py as a module, and they use ``measure``, ``Schemas``, ``psql``, ...
from there).
"""

from __future__ import annotations

import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psutil

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
VENV_BIN = Path(sys.executable).parent
SLUICE = str(VENV_BIN / "sluice") if (VENV_BIN / "sluice").exists() else shutil.which("sluice")
SLUICE_CMD = SLUICE or "sluice"
PG_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
MYSQL_URL = os.environ.get("BENCH_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")
MYSQL_CLIENT = shutil.which("mariadb") or shutil.which("mysql")


# --------------------------------------------------------------------------- measuring


def compile_sluice() -> None:
    """Byte-compile the package, as installing it does: an editable install compiles
    nothing, and where PYTHONDONTWRITEBYTECODE is set every measured run would compile
    each module changed since its .pyc again (0.1 s for two dozen modules)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    cmd = [sys.executable, "-m", "compileall", "-q", str(ROOT / "sluice")]
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)


#: local database servers whose CPU a measurement counts, by process name
SERVERS = {"postgres": "postgresql", "mariadbd": "mariadb", "mysqld": "mariadb"}


def server_cpu() -> dict[str, float]:
    """CPU seconds the local database servers have used so far, per server: each
    process's own and its reaped children's. A PostgreSQL connection's backend is a
    child of the postmaster, reaped when the connection ends, so a load's backend is
    counted whether or not it still runs. A server this user cannot read is left out."""
    used: dict[str, float] = {}
    for proc in psutil.process_iter(["name"]):
        server = SERVERS.get(proc.info["name"] or "")
        if server is None:
            continue
        try:
            t = proc.cpu_times()
        except psutil.Error:
            continue
        used[server] = used.get(server, 0.0) + t.user + t.system
        used[server] += t.children_user + t.children_system
    return used


def cpu_model() -> str | None:
    """The processor's name as the kernel gives it: the targets that pass on one kind of
    machine can fail on another (bench/README.md), so each result says which."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _children_cpu() -> float:
    """CPU seconds of this process's reaped children (user + system)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _memory_kb(pid: int) -> tuple[int, int, int]:
    """(VmHWM, RssAnon, RssFile) of a process in KiB: the kernel's high-water mark of
    its resident memory, the part of what is resident now that is its own (heap,
    buffers), and the pages of files it maps (shared libraries: how many of those a
    process keeps resident is the kernel's and the host's doing, 90 to 160 MB of the
    same sluice load)."""
    hwm = anon = files = 0
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
                elif line.startswith("RssAnon:"):
                    anon = int(line.split()[1])
                elif line.startswith("RssFile:"):
                    files = int(line.split()[1])
    except (OSError, ValueError):
        pass
    return hwm, anon, files


def measure(
    cmd: list[str], env: dict[str, str] | None = None, ok_codes: tuple[int, ...] = (0,)
) -> dict[str, Any]:
    """Run ``cmd`` as a child; wall seconds, peak RSS (MB), CPU seconds (its own and the
    local database servers'), exit code, stdout, stderr.

    Peak RSS is each process's own VmHWM (exact, as the kernel keeps it), read every
    20 ms while it runs (Popen returns after the exec, so every read is of the new
    program), beside the largest RssAnon read then (its own memory, no mapped files).
    ``ru_maxrss`` is not used: a child forked from this (larger) process
    inherits this process's high-water mark in it.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        return _measure(cmd, env, ok_codes, out, err)


def _measure(
    cmd: list[str], env: dict[str, str] | None, ok_codes: tuple[int, ...], out: Any, err: Any
) -> dict[str, Any]:
    full_env = {**os.environ, **(env or {})}
    servers = server_cpu()
    children = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=full_env, cwd=ROOT)
    hwm: dict[int, int] = {}  # pid -> VmHWM KiB
    anon: dict[int, int] = {}  # pid -> the largest RssAnon sampled, KiB
    files: dict[int, int] = {}  # pid -> the largest RssFile sampled, KiB
    tree_peak = [0]
    done = threading.Event()

    def sample() -> None:
        try:
            root = psutil.Process(proc.pid)
        except psutil.Error:
            return
        while not done.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.Error:
                return
            total = 0
            for p in procs:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    continue
                kb, own, mapped = _memory_kb(p.pid)
                if kb:
                    hwm[p.pid] = max(hwm.get(p.pid, 0), kb)
                    anon[p.pid] = max(anon.get(p.pid, 0), own)
                    files[p.pid] = max(files.get(p.pid, 0), mapped)
            tree_peak[0] = max(tree_peak[0], total)
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    proc.wait()
    seconds = time.perf_counter() - start
    cpu = _children_cpu() - children  # the child's tree: it was reaped by wait()
    servers_after = server_cpu()
    done.set()
    sampler.join()
    out.seek(0)
    err.seek(0)
    largest = max(hwm, key=hwm.__getitem__) if hwm else None  # the largest process
    result = {
        "seconds": seconds,
        "rss_mb": max(hwm.values(), default=0) / 1024,  # the largest process's peak
        "tree_rss_mb": tree_peak[0] / 1024**2,  # sampled sum over the process tree
        # the largest process's own memory at its sampled peak (no mapped files)
        "anon_mb": anon.get(largest, 0) / 1024 if largest is not None else 0.0,
        # and the pages of files it mapped (libraries), at their sampled peak
        "file_mb": files.get(largest, 0) / 1024 if largest is not None else 0.0,
        "cpu_s": cpu,
        "server_cpu_s": {k: v - servers.get(k, 0.0) for k, v in servers_after.items()},
        "returncode": proc.returncode,
        "stdout": out.read().decode(errors="replace"),
        "stderr": err.read().decode(errors="replace"),
    }
    if proc.returncode not in ok_codes:
        raise RuntimeError(
            f"{' '.join(cmd)} exited with {proc.returncode}:\n{result['stderr'][-3000:]}"
            f"\n{result['stdout'][-2000:]}"
        )
    return result


def psql(sql: str, *, schema_url: str = PG_URL) -> str:
    res = subprocess.run(
        ["psql", schema_url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql], capture_output=True, text=True
    )
    if res.returncode:
        raise RuntimeError(f"psql failed: {sql}\n{res.stderr}")
    return res.stdout.strip()


def mysql_args(database: str | None = None) -> list[str]:
    """The mariadb client's connection options for BENCH_MYSQL_URL (and a database)."""
    from sqlalchemy.engine import make_url

    url = make_url(MYSQL_URL)
    args = [
        str(MYSQL_CLIENT),
        f"--host={url.host or '127.0.0.1'}",
        f"--port={url.port or 3306}",
        f"--user={url.username or 'root'}",
    ]
    if url.password:
        args.append(f"--password={url.password}")
    return [*args, *([database] if database else [])]


def mysql(sql: str, database: str | None = None) -> str:
    res = subprocess.run(
        [*mysql_args(database), "--batch", "--skip-column-names", "-e", sql],
        capture_output=True,
        text=True,
    )
    if res.returncode:
        raise RuntimeError(f"mariadb failed: {sql}\n{res.stderr}")
    return res.stdout.strip()


def mysql_database_url(database: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(MYSQL_URL).set(database=database).render_as_string(hide_password=False)


def schema_url(schema: str) -> str:
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options={quote('-csearch_path=' + schema, safe='')}"


class Schemas:
    """Fresh PostgreSQL schemas, one per measurement, dropped at the end."""

    def __init__(self, keep: bool) -> None:
        self.keep = keep
        self.made: list[str] = []
        self.mysql_made: list[str] = []
        self.tag = f"{os.getpid()}"

    def fresh(self, name: str) -> str:
        schema = f"bench_{name}_{self.tag}_{len(self.made)}"
        psql(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")
        self.made.append(schema)
        return schema

    def fresh_mysql(self, name: str) -> str:
        """A fresh MariaDB database (dropped at the end like the schemas)."""
        database = f"bench_{name}_{self.tag}_{len(self.made) + len(self.mysql_made)}"
        mysql(f"DROP DATABASE IF EXISTS {database}; CREATE DATABASE {database}")
        self.mysql_made.append(database)
        return database

    def drop_all(self) -> None:
        if self.keep:
            return
        for schema in self.made:
            psql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        for database in self.mysql_made:
            mysql(f"DROP DATABASE IF EXISTS {database}")


def checkpoint() -> None:
    """Start each PostgreSQL measurement from the same point: dirty buffers flushed."""
    psql("CHECKPOINT")
