"""The load benchmark: N generated lead rows, psql \\copy vs sluice (PostgreSQL, SQLite) vs dlt,
and MariaDB's own LOAD DATA LOCAL INFILE vs sluice -> MariaDB.

    .venv/bin/python bench/run.py [--rows N] [--skip-dlt] [--repeat R] [--keep]
    .venv/bin/python bench/run.py --only mysql     # the two MariaDB lines only

Each measurement runs in its own child process; its wall time and peak RSS (the kernel's
high-water mark, VmHWM, of each process in the child's tree, and a 20 ms psutil sample of
the tree's summed RSS) are recorded. Everything loads into fresh PostgreSQL schemas and
SQLite files, dropped at the end unless ``--keep``. Prints a table and writes
bench/results/latest.json.

Environment: BENCH_PG_URL (default postgresql://postgres@127.0.0.1:5432/test),
BENCH_MYSQL_URL (default mysql://root@127.0.0.1:3306/test: server and user; each MariaDB
measurement gets a fresh database).
See bench/README.md for what each line measures.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psutil

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

import generate_leads  # noqa: E402

VENV_BIN = Path(sys.executable).parent
SLUICE = str(VENV_BIN / "sluice") if (VENV_BIN / "sluice").exists() else shutil.which("sluice")
SLUICE_CMD = SLUICE or "sluice"
PG_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
MYSQL_URL = os.environ.get("BENCH_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")
MYSQL_CLIENT = shutil.which("mariadb") or shutil.which("mysql")
PROJECT = BENCH / "leads"
RESULTS = BENCH / "results"

#: Targets from the issue.
TARGET_PG_RATIO = 0.7
TARGET_PG_RSS_MB = 400
TARGET_SQLITE_ROWS_S = 250_000
TARGET_MYSQL_RATIO = 0.5

#: The typed table of the \copy floor: the column types sluice creates for the pipeline.
FLOOR_DDL = """
CREATE TABLE {schema}.leads (
    license_number text, facility_name text, facility_type text,
    contact_first_name text, contact_last_name text, phone text, email text,
    address text, city text, state text, zip text, capacity bigint,
    license_status text, licensed_since date, last_inspection date,
    monthly_rate numeric(38, 6)
)"""


#: The typed table of the LOAD DATA floor: the column types sluice creates on MariaDB.
MYSQL_TEXT = "LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin"
MYSQL_FLOOR_DDL = f"""
CREATE TABLE leads (
    license_number {MYSQL_TEXT}, facility_name {MYSQL_TEXT}, facility_type {MYSQL_TEXT},
    contact_first_name {MYSQL_TEXT}, contact_last_name {MYSQL_TEXT}, phone {MYSQL_TEXT},
    email {MYSQL_TEXT}, address {MYSQL_TEXT}, city {MYSQL_TEXT}, state {MYSQL_TEXT},
    zip {MYSQL_TEXT}, capacity BIGINT, license_status {MYSQL_TEXT},
    licensed_since DATE, last_inspection DATE, monthly_rate DECIMAL(38, 6)
) ENGINE=InnoDB CHARACTER SET utf8mb4"""
#: The file's dates are MM/DD/YYYY and empty numbers mean NULL: SET converts them.
MYSQL_FLOOR_LOAD = """
LOAD DATA LOCAL INFILE '{file}' INTO TABLE leads CHARACTER SET utf8mb4
FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '"' ESCAPED BY ''
LINES TERMINATED BY '\\r\\n' IGNORE 1 LINES
(license_number, facility_name, facility_type, contact_first_name, contact_last_name,
 phone, email, address, city, state, zip, @capacity, license_status, @since, @inspected,
 @rate)
SET capacity = NULLIF(@capacity, ''),
    licensed_since = STR_TO_DATE(NULLIF(@since, ''), '%m/%d/%Y'),
    last_inspection = STR_TO_DATE(NULLIF(@inspected, ''), '%m/%d/%Y'),
    monthly_rate = NULLIF(@rate, '')"""


# --------------------------------------------------------------------------- measuring


def _hwm_kb(pid: int) -> int:
    """VmHWM: the kernel's high-water mark of the process's resident memory (KiB)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def measure(
    cmd: list[str], env: dict[str, str] | None = None, ok_codes: tuple[int, ...] = (0,)
) -> dict[str, Any]:
    """Run ``cmd`` as a child; wall seconds, peak RSS (MB), exit code, stdout, stderr.

    Peak RSS is each process's own VmHWM (exact, as the kernel keeps it), read every
    20 ms while it runs (Popen returns after the exec, so every read is of the new
    program). ``ru_maxrss`` is not used: a child forked from this (larger) process
    inherits this process's high-water mark in it.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        return _measure(cmd, env, ok_codes, out, err)


def _measure(
    cmd: list[str], env: dict[str, str] | None, ok_codes: tuple[int, ...], out: Any, err: Any
) -> dict[str, Any]:
    full_env = {**os.environ, **(env or {})}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=full_env, cwd=ROOT)
    hwm: dict[int, int] = {}  # pid -> VmHWM KiB
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
                kb = _hwm_kb(p.pid)
                if kb:
                    hwm[p.pid] = max(hwm.get(p.pid, 0), kb)
            tree_peak[0] = max(tree_peak[0], total)
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    proc.wait()
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    out.seek(0)
    err.seek(0)
    result = {
        "seconds": seconds,
        "rss_mb": max(hwm.values(), default=0) / 1024,  # the largest process's peak
        "tree_rss_mb": tree_peak[0] / 1024**2,  # sampled sum over the process tree
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


# --------------------------------------------------------------------------- the runs


def run_copy(meta: dict[str, Any], schemas: Schemas) -> dict[str, Any]:
    clean = generate_leads.DATA / meta["clean_file"]
    schema = schemas.fresh("copy")
    psql(FLOOR_DDL.format(schema=schema))
    checkpoint()
    r = measure(
        [
            "psql",
            PG_URL,
            "-v",
            "ON_ERROR_STOP=1",
            "-qAt",
            "-c",
            "SET datestyle = 'ISO, MDY'",
            "-c",
            f"\\copy {schema}.leads FROM '{clean}' WITH (FORMAT csv, HEADER true)",
        ],
        env={"PGCLIENTENCODING": "UTF8"},
    )
    loaded = int(psql(f"SELECT count(*) FROM {schema}.leads"))
    if loaded != meta["clean_rows"]:
        raise RuntimeError(f"\\copy loaded {loaded} rows, expected {meta['clean_rows']}")
    return {**r, "rows": meta["clean_rows"], "loaded": loaded, "input": clean.name}


def run_sluice(
    meta: dict[str, Any], warehouse: str, tmp: Path, count: Callable[[], int]
) -> dict[str, Any]:
    state = tmp / f"state-{time.monotonic_ns()}.db"
    env = {
        "SLUICE_BENCH_ROWS": str(meta["rows"]),
        "SLUICE_WAREHOUSE_URL": warehouse,
        "SLUICE_STATE_URL": f"sqlite:///{state}",
    }
    # exit code 3: loaded, with rows quarantined (the ~0.5% invalid rows, by design)
    r = measure(
        [SLUICE_CMD, "run", "leads", "--project", str(PROJECT), "--json"], env=env, ok_codes=(0, 3)
    )
    report = json.loads(r["stdout"])
    totals = report["totals"]
    loaded = count()
    expected = meta["clean_rows"]
    if totals["loaded"] != expected or loaded != expected:
        raise RuntimeError(
            f"sluice loaded {totals['loaded']} (table has {loaded}), "
            f"expected {expected}: {json.dumps(totals)}"
        )
    stream = report["streams"]["source1"]["seconds"]
    return {
        **r,
        "rows": totals["read"],
        "loaded": loaded,
        "input": meta["file"],
        "status": report["status"],
        "totals": totals,
        "sluice_seconds": report["seconds"],
        "stage_seconds": stream,
        "stdout": "",
    }


def run_sluice_pg(meta: dict[str, Any], schemas: Schemas, tmp: Path) -> dict[str, Any]:
    schema = schemas.fresh("sluice")
    checkpoint()
    return run_sluice(
        meta, schema_url(schema), tmp, lambda: int(psql(f"SELECT count(*) FROM {schema}.leads"))
    )


def run_sluice_sqlite(meta: dict[str, Any], tmp: Path) -> dict[str, Any]:
    db = tmp / f"warehouse-{time.monotonic_ns()}.db"

    def count() -> int:
        import sqlite3

        with sqlite3.connect(db) as conn:
            return int(conn.execute("SELECT count(*) FROM leads").fetchone()[0])

    r = run_sluice(meta, f"sqlite:///{db}", tmp, count)
    db.unlink(missing_ok=True)
    return r


def run_mysql_load_data(meta: dict[str, Any], schemas: Schemas) -> dict[str, Any]:
    clean = generate_leads.DATA / meta["clean_file"]
    database = schemas.fresh_mysql("loaddata")
    mysql(MYSQL_FLOOR_DDL, database)
    r = measure(
        [
            *mysql_args(database),
            "--local-infile=1",
            "--batch",
            "-e",
            MYSQL_FLOOR_LOAD.format(file=str(clean).replace("'", "''")) + "; SHOW WARNINGS",
        ]
    )
    if r["stdout"].strip():
        raise RuntimeError(f"LOAD DATA warned (values changed):\n{r['stdout'][:2000]}")
    loaded = int(mysql("SELECT COUNT(*) FROM leads", database))
    if loaded != meta["clean_rows"]:
        raise RuntimeError(f"LOAD DATA loaded {loaded} rows, expected {meta['clean_rows']}")
    return {**r, "rows": meta["clean_rows"], "loaded": loaded, "input": clean.name}


def run_sluice_mysql(meta: dict[str, Any], schemas: Schemas, tmp: Path) -> dict[str, Any]:
    database = schemas.fresh_mysql("sluice")
    return run_sluice(
        meta,
        mysql_database_url(database),
        tmp,
        lambda: int(mysql("SELECT COUNT(*) FROM leads", database)),
    )


def run_dlt(meta: dict[str, Any], schemas: Schemas, tmp: Path) -> dict[str, Any]:
    clean = generate_leads.DATA / meta["clean_file"]
    schema = f"bench_dlt_{schemas.tag}_{len(schemas.made)}"
    schemas.made.append(schema)  # dlt creates it itself
    workdir = tmp / f"dlt-{time.monotonic_ns()}"
    checkpoint()
    r = measure(
        [
            sys.executable,
            str(BENCH / "dlt_load.py"),
            "--file",
            str(clean),
            "--url",
            PG_URL,
            "--dataset",
            schema,
            "--workdir",
            str(workdir),
        ],
        env={"RUNTIME__DLTHUB_TELEMETRY": "false"},
    )
    info = json.loads(r["stdout"].strip().splitlines()[-1])
    loaded = int(psql(f"SELECT count(*) FROM {schema}.leads"))
    if loaded != meta["clean_rows"]:
        raise RuntimeError(f"dlt loaded {loaded} rows, expected {meta['clean_rows']}")
    shutil.rmtree(workdir, ignore_errors=True)
    return {
        **r,
        "rows": meta["clean_rows"],
        "loaded": loaded,
        "input": clean.name,
        "dlt_version": info["dlt_version"],
        "stdout": "",
    }


def dlt_available() -> str | None:
    """dlt's version if ``import dlt`` works in a child (it is heavy to import here)."""
    if importlib.util.find_spec("dlt") is None:
        return None
    res = subprocess.run(
        [sys.executable, "-c", "import dlt; print(dlt.__version__)"],
        capture_output=True,
        text=True,
        env={**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false"},
    )
    return res.stdout.strip() if res.returncode == 0 else None


ALL_LINES = ["copy", "sluice-pg", "sluice-sqlite", "dlt", "mysql-load-data", "sluice-mysql"]


# --------------------------------------------------------------------------- reporting


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median run by time (all runs are kept in ``runs``)."""
    ordered = sorted(runs, key=lambda r: r["seconds"])
    best = dict(ordered[len(ordered) // 2])
    best["rows_per_s"] = best["rows"] / best["seconds"]
    best["rss_mb"] = max(r["rss_mb"] for r in runs)
    best["tree_rss_mb"] = max(r["tree_rss_mb"] for r in runs)
    if len(runs) > 1:
        best["all_seconds"] = [round(r["seconds"], 3) for r in runs]
        best["stdev_seconds"] = round(statistics.pstdev(r["seconds"] for r in runs), 3)
    for k in ("stdout", "stderr", "returncode"):
        best.pop(k, None)
    return best


def print_table(lines: list[dict[str, Any]]) -> None:
    vs = "vs floor"
    head = (
        f"{'measurement':<34} {'rows':>10} {'seconds':>8} {'rows/s':>10} "
        f"{vs:>8} {'peak RSS MB':>11} {'tree MB':>8}"
    )
    print(head)
    print("-" * len(head))
    for ln in lines:
        if ln.get("skipped"):
            print(f"{ln['name']:<34} {ln['skipped']}")
            continue
        ratio = f"{ln['vs_floor']:.2f}" if ln.get("vs_floor") is not None else "-"
        print(
            f"{ln['name']:<34} {ln['rows']:>10,} {ln['seconds']:>8.2f} "
            f"{ln['rows_per_s']:>10,.0f} {ratio:>8} {ln['rss_mb']:>11.0f} "
            f"{ln['tree_rss_mb']:>8.0f}"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="sluice load benchmark")
    ap.add_argument("--rows", type=int, default=generate_leads.DEFAULT_ROWS)
    ap.add_argument("--skip-dlt", action="store_true", help="do not measure dlt")
    ap.add_argument("--repeat", type=int, default=1, help="runs per measurement (median kept)")
    ap.add_argument(
        "--only",
        choices=[*ALL_LINES, "mysql"],
        action="append",
        help="measure only these (repeatable; mysql = mysql-load-data + sluice-mysql)",
    )
    ap.add_argument("--keep", action="store_true", help="keep the schemas and files loaded")
    args = ap.parse_args(argv)
    if SLUICE is None:
        print("the sluice command is not installed (pip install -e .)", file=sys.stderr)
        return 2
    only = set(args.only or ALL_LINES)
    if not args.only and MYSQL_CLIENT is None:
        print("the mariadb client is not installed: skipping the MariaDB lines")
        only -= {"mysql-load-data", "sluice-mysql"}
    if "mysql" in only:
        only |= {"mysql-load-data", "sluice-mysql"}
    wants_pg = bool(only & {"copy", "sluice-pg", "dlt"})
    wants_mysql = bool(only & {"mysql-load-data", "sluice-mysql"})
    if wants_pg and shutil.which("psql") is None:
        print("psql is not installed: the \\copy floor needs it", file=sys.stderr)
        return 2
    if wants_mysql and MYSQL_CLIENT is None:
        print("the mariadb client is not installed: the LOAD DATA floor needs it", file=sys.stderr)
        return 2

    meta = generate_leads.write(args.rows)
    print(
        f"input: bench/data/{meta['file']}: {meta['rows']:,} rows, {meta['bytes'] / 1e6:.1f} MB "
        f"({meta['invalid_rows']:,} invalid, {meta['test_rows']:,} test records; clean subset "
        f"{meta['clean_rows']:,} rows; {'reused' if meta['reused'] else 'generated'})"
    )
    pg_version = psql("SHOW server_version") if wants_pg else None
    mysql_version = mysql("SELECT VERSION()") if wants_mysql else None
    dlt_version = None
    if "dlt" in only and not args.skip_dlt:
        dlt_version = dlt_available()
        if dlt_version is None:
            print("dlt not installed: skipping the dlt line (pip install 'dlt[postgres]')")

    schemas = Schemas(args.keep)
    tmp = Path(tempfile.mkdtemp(prefix="sluice-bench-"))
    plan: list[tuple[str, str, Any]] = [
        ("copy", "psql \\copy -> PostgreSQL (floor)", lambda: run_copy(meta, schemas)),
        ("sluice-pg", "sluice -> PostgreSQL", lambda: run_sluice_pg(meta, schemas, tmp)),
        ("sluice-sqlite", "sluice -> SQLite", lambda: run_sluice_sqlite(meta, tmp)),
        ("dlt", "dlt (Arrow) -> PostgreSQL", lambda: run_dlt(meta, schemas, tmp)),
        (
            "mysql-load-data",
            "LOAD DATA LOCAL -> MariaDB (floor)",
            lambda: run_mysql_load_data(meta, schemas),
        ),
        ("sluice-mysql", "sluice -> MariaDB", lambda: run_sluice_mysql(meta, schemas, tmp)),
    ]
    lines: list[dict[str, Any]] = []
    try:
        for key, name, fn in plan:
            if key not in only:
                continue
            if key == "dlt" and (args.skip_dlt or dlt_version is None):
                lines.append(
                    {
                        "key": key,
                        "name": name,
                        "skipped": (
                            "skipped (--skip-dlt)" if args.skip_dlt else "dlt not installed"
                        ),
                    }
                )
                continue
            print(f"measuring {name} ...", flush=True)
            runs = [fn() for _ in range(args.repeat)]
            lines.append({"key": key, "name": name, **summarize(runs)})
    finally:
        schemas.drop_all()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    floor = next((ln for ln in lines if ln["key"] == "copy" and not ln.get("skipped")), None)
    my_floor = next((ln for ln in lines if ln["key"] == "mysql-load-data"), None)
    for ln in lines:
        if not ln.get("skipped"):
            # PostgreSQL and SQLite lines against \copy, MariaDB lines against LOAD DATA.
            base = my_floor if ln["key"] in ("mysql-load-data", "sluice-mysql") else floor
            ln["vs_floor"] = ln["rows_per_s"] / base["rows_per_s"] if base else None
    print()
    print_table(lines)

    checks = []
    by = {ln["key"]: ln for ln in lines if not ln.get("skipped")}
    if "sluice-pg" in by and floor:
        pg = by["sluice-pg"]
        checks.append(
            {
                "target": f"sluice -> PostgreSQL >= {TARGET_PG_RATIO} x \\copy throughput",
                "value": round(pg["vs_floor"], 3),
                "ok": pg["vs_floor"] >= TARGET_PG_RATIO,
            }
        )
    if "sluice-pg" in by:
        pg = by["sluice-pg"]
        checks.append(
            {
                "target": f"sluice -> PostgreSQL peak RSS < {TARGET_PG_RSS_MB} MB",
                "value": round(pg["rss_mb"], 1),
                "ok": pg["rss_mb"] < TARGET_PG_RSS_MB,
            }
        )
    if "sluice-mysql" in by and my_floor:
        my = by["sluice-mysql"]
        checks.append(
            {
                "target": f"sluice -> MariaDB >= {TARGET_MYSQL_RATIO} x LOAD DATA throughput",
                "value": round(my["vs_floor"], 3),
                "ok": my["vs_floor"] >= TARGET_MYSQL_RATIO,
            }
        )
    if "sluice-sqlite" in by:
        sq = by["sluice-sqlite"]
        checks.append(
            {
                "target": f"sluice -> SQLite >= {TARGET_SQLITE_ROWS_S:,} rows/s",
                "value": round(sq["rows_per_s"]),
                "ok": sq["rows_per_s"] >= TARGET_SQLITE_ROWS_S,
            }
        )
    print()
    for c in checks:
        print(f"[{'PASS' if c['ok'] else 'FAIL'}] {c['target']}: {c['value']:,}")
    print()
    print(
        "rows: rows in the input file the tool read (sluice: the full file, of which "
        f"{meta['clean_rows']:,} load; \\copy, LOAD DATA and dlt: the clean subset of the "
        "same rows, "
        "loaded into typed columns, since neither validates). seconds: wall time of the "
        "child process. peak RSS: the kernel high-water mark (VmHWM) of its largest process "
        "(tree MB: sampled sum over the child's process tree; the PostgreSQL server is "
        "not included). vs floor: throughput against \\copy (PostgreSQL, SQLite lines) or "
        "LOAD DATA LOCAL (MariaDB lines)."
    )

    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "rows": args.rows,
        "input": meta,
        "floor_choice": (
            "psql \\copy of the clean subset (invalid and test rows removed: "
            "they would fail or differ from a typed COPY) into a typed table "
            "(text, bigint, numeric(38,6), date) with SET datestyle = 'ISO, MDY'"
        ),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "postgresql": pg_version,
            "mariadb": mysql_version,
            "memory_gb": round(psutil.virtual_memory().total / 1024**3, 1),
        },
        "versions": _versions(dlt_version),
        "results": [
            {k: (round(v, 3) if isinstance(v, float) else v) for k, v in ln.items()} for ln in lines
        ],
        "targets": checks,
    }
    (RESULTS / "latest.json").write_text(json.dumps(out, indent=2) + "\n")
    print(f"\nwritten: {(RESULTS / 'latest.json').relative_to(ROOT)}")
    return 0


def _versions(dlt_version: str | None) -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {}
    for pkg in ("sluice", "polars", "pyarrow", "psycopg", "pymysql", "sqlalchemy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    out["dlt"] = dlt_version
    return out


if __name__ == "__main__":
    sys.exit(main())
