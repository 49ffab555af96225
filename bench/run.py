"""The load benchmark: N generated lead rows, each database's own bulk load (the floor)
against sluice, in PostgreSQL, SQLite, MariaDB and DuckDB; a merge against an append;
sluice's start-up; and dlt.

    .venv/bin/python bench/run.py [--rows N] [--repeat R] [--skip-dlt] [--keep]
    .venv/bin/python bench/run.py --only mysql     # the two MariaDB lines only
    .venv/bin/python bench/run.py --only merge     # the merge and its append reference
    .venv/bin/python bench/run.py --only gz        # sluice -> PostgreSQL, plain and .csv.gz

Each measurement runs in its own child process; its wall time and peak RSS (the kernel's
high-water mark, VmHWM, of each process in the child's tree, and a 20 ms psutil sample of
the tree's summed RSS) are recorded. With ``--repeat R`` the lines are measured in turn,
R rounds (so the machine's drift hits each alike), and each line's median run is kept.
Everything loads into fresh PostgreSQL schemas, MariaDB databases and SQLite / DuckDB
files, dropped at the end unless ``--keep``. Every sluice run is checked: the report's
accounting identity (read = loaded + quarantined + filtered), its rows loaded and the
table's rows. Prints the lines, the start-up figures and the targets of these lines
(bench/targets.py), and writes bench/results/latest.json (bench/summary.py reads it).
A run with ``--only`` keeps there the lines it did not measure from the file before (of
as many rows), each with its ``measured_at``; bench/summary.py names them.

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
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import generate_leads  # noqa: E402
import generate_merge  # noqa: E402
import loads  # noqa: E402
import startup  # noqa: E402
import summary  # noqa: E402
import targets  # noqa: E402

# What the other benchmarks take from this module (bench/tools.py's load_bench()).
from harness import (  # noqa: E402, F401
    MYSQL_CLIENT,
    MYSQL_URL,
    PG_URL,
    ROOT,
    SLUICE,
    SLUICE_CMD,
    Schemas,
    _memory_kb,
    checkpoint,
    compile_sluice,
    cpu_model,
    measure,
    mysql,
    mysql_args,
    mysql_database_url,
    psql,
    schema_url,
)
from loads import PROJECT  # noqa: E402, F401

RESULTS = BENCH / "results"

#: (key, name, its floor's key): every load line, in the order measured
LINES: list[tuple[str, str, str | None]] = [
    ("copy", "psql \\copy -> PostgreSQL (floor)", None),
    ("sluice-pg", "sluice -> PostgreSQL", "copy"),
    ("sluice-pg-gz", "sluice -> PostgreSQL, .csv.gz", "sluice-pg"),
    ("sqlite-import", "sqlite3 .import -> SQLite (floor)", None),
    ("sluice-sqlite", "sluice -> SQLite", "sqlite-import"),
    ("dlt", "dlt (Arrow) -> PostgreSQL", "copy"),
    ("mysql-load-data", "LOAD DATA LOCAL -> MariaDB (floor)", None),
    ("sluice-mysql", "sluice -> MariaDB", "mysql-load-data"),
    ("duckdb-read-csv", "DuckDB read_csv -> DuckDB (floor)", None),
    ("sluice-duckdb", "sluice -> DuckDB", "duckdb-read-csv"),
    ("merge-append", "sluice append -> PostgreSQL (merge file)", None),
    ("merge", "sluice merge -> PostgreSQL, table loaded", "merge-append"),
]
FLOOR_OF = {key: floor for key, _, floor in LINES}
#: the database server each line loads into (SQLite and DuckDB run in the process)
SERVER_OF = {
    **dict.fromkeys(
        ["copy", "sluice-pg", "sluice-pg-gz", "dlt", "merge-append", "merge"], "postgresql"
    ),
    **dict.fromkeys(["mysql-load-data", "sluice-mysql"], "mariadb"),
}
#: --only's groups: a group selects its lines
GROUPS = {
    "pg": {"copy", "sluice-pg"},
    "gz": {"sluice-pg", "sluice-pg-gz"},
    "sqlite": {"sqlite-import", "sluice-sqlite"},
    "mysql": {"mysql-load-data", "sluice-mysql"},
    "duckdb": {"duckdb-read-csv", "sluice-duckdb"},
    "merge": {"merge-append", "merge"},
}
ALL = [key for key, _, _ in LINES] + ["startup"]
PG_LINES = {"copy", "sluice-pg", "sluice-pg-gz", "dlt", "merge-append", "merge"}


# --------------------------------------------------------------------------- reporting


def summarize(runs: list[dict[str, Any]], server: str | None = None) -> dict[str, Any]:
    """The median run by time (all runs are kept in ``runs``), with its CPU: the
    child's, and ``server``'s (the database it loads into, None: in the process)."""
    ordered = sorted(runs, key=lambda r: r["seconds"])
    best = dict(ordered[len(ordered) // 2])
    best["rows_per_s"] = best["rows"] / best["seconds"]
    cpu = best.get("cpu_s")
    used = best.pop("server_cpu_s", None) or {}
    best["server_cpu_s"] = used.get(server) if server else 0.0
    if cpu is not None and best["server_cpu_s"] is not None:
        # How much of the machine the line kept busy: at 1.0 it cannot go faster
        # without spending less CPU.
        best["busy"] = (cpu + best["server_cpu_s"]) / (best["seconds"] * (os.cpu_count() or 1))
    best["rss_mb"] = max(r["rss_mb"] for r in runs)
    best["tree_rss_mb"] = max(r["tree_rss_mb"] for r in runs)
    best["anon_mb"] = max(r.get("anon_mb", 0.0) for r in runs)
    best["file_mb"] = max(r.get("file_mb", 0.0) for r in runs)
    if len(runs) > 1:
        best["all_seconds"] = [round(r["seconds"], 3) for r in runs]
        best["stdev_seconds"] = round(statistics.pstdev(r["seconds"] for r in runs), 3)
    for k in ("stdout", "stderr", "returncode"):
        best.pop(k, None)
    return best


def print_table(lines: list[dict[str, Any]]) -> None:
    vs = "vs floor"
    head = (
        f"{'measurement':<40} {'rows':>10} {'seconds':>8} {'rows/s':>10} "
        f"{vs:>8} {'peak RSS MB':>11} {'anon MB':>7} {'tree MB':>8} {'CPU s':>6} "
        f"{'server CPU s':>12} {'busy':>5} {'at 100%':>7}"
    )
    print(head)
    print("-" * len(head))
    for ln in lines:
        if ln.get("skipped"):
            print(f"{ln['name']:<40} {ln['skipped']}")
            continue
        ratio = f"{ln['vs_floor']:.2f}" if ln.get("vs_floor") is not None else "-"
        cpu, server, busy = ln.get("cpu_s"), ln.get("server_cpu_s"), ln.get("busy")
        print(
            f"{ln['name']:<40} {ln['rows']:>10,} {ln['seconds']:>8.2f} "
            f"{ln['rows_per_s']:>10,.0f} {ratio:>8} {ln['rss_mb']:>11.0f} "
            f"{ln.get('anon_mb', 0):>7.0f} {ln['tree_rss_mb']:>8.0f} {_figure(cpu, '6.2f')} "
            f"{_figure(server, '12.2f')} "
            f"{_figure(busy, '5.0%')} {_figure(ln.get('vs_floor_at_full_use'), '7.2f')}"
        )


def _figure(value: float | None, spec: str) -> str:
    width = int(spec.split(".")[0])
    return "-".rjust(width) if value is None else format(value, spec)


def notes(clean: int, merge: int | None) -> str:
    """What the columns of the table mean."""
    merged = (
        f"; the merge lines: the merge file, half updates and half new keys, {merge:,} of "
        "whose rows load"
        if merge is not None
        else ""
    )
    return (
        f"rows: rows in the input file the tool read (sluice: the full file, of which {clean:,} "
        "load; the floors and dlt: the clean subset of the same rows, loaded into typed "
        f"columns, since none of them validates{merged}). seconds: wall time of the child "
        "process (for sluice: Python start-up included). peak RSS: the kernel high-water mark "
        "(VmHWM) of its largest process (anon MB: the largest of its RssAnon sampled every "
        "20 ms, its own memory without the pages of shared libraries it maps; tree MB: "
        "sampled sum over the child's process tree; database servers are not included). "
        "CPU s: user + system CPU seconds of the child process and its children; server "
        "CPU s: of the local database server it loads into over the same time "
        "(PostgreSQL: the postmaster and the backends it reaped; "
        "MariaDB: mariadbd; 0 for SQLite and DuckDB, which run in the process; - where "
        "the server's processes cannot be read). busy: (CPU s + server CPU s) / (seconds x "
        f"{os.cpu_count()} cores): a line near 100% is bound by the CPU it spends, not by "
        "waiting. at 100%: the line's vs floor if it kept every core busy (vs floor / busy), "
        "the most its CPU allows on this machine. vs floor: throughput against the line's "
        "floor: "
        "\\copy (PostgreSQL, dlt), sqlite3 .import (SQLite), LOAD DATA LOCAL (MariaDB), "
        "DuckDB read_csv (DuckDB), sluice's append of the same file into an empty table "
        "(merge), sluice's load of the plain file (.csv.gz)."
    )


# --------------------------------------------------------------------------- main


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="sluice load benchmark")
    ap.add_argument("--rows", type=int, default=generate_leads.DEFAULT_ROWS)
    ap.add_argument("--skip-dlt", action="store_true", help="do not measure dlt")
    ap.add_argument("--repeat", type=int, default=1, help="runs per measurement (median kept)")
    ap.add_argument(
        "--startup-repeat", type=int, default=7, help="runs per start-up command (median kept)"
    )
    ap.add_argument(
        "--only",
        choices=[*ALL, *GROUPS],
        action="append",
        help="measure only these (repeatable; groups: " + ", ".join(GROUPS) + ")",
    )
    ap.add_argument("--keep", action="store_true", help="keep the schemas and files loaded")
    args = ap.parse_args(argv)
    if args.repeat < 1 or args.startup_repeat < 1:
        ap.error("--repeat and --startup-repeat must be at least 1")
    return args


def selected(args: argparse.Namespace) -> set[str] | str:
    """The lines to measure, or the reason the run cannot start."""
    only: set[str] = set()
    for name in args.only or ALL:
        only |= GROUPS.get(name, {name})
    if not args.only and MYSQL_CLIENT is None:
        print("the mariadb client is not installed: skipping the MariaDB lines")
        only -= GROUPS["mysql"]
    if only & PG_LINES and shutil.which("psql") is None:
        return "psql is not installed: the \\copy floor and the checks need it"
    if only & GROUPS["mysql"] and MYSQL_CLIENT is None:
        return "the mariadb client is not installed: the LOAD DATA floor needs it"
    if "sqlite-import" in only and shutil.which("sqlite3") is None:
        return "the sqlite3 shell is not installed: the SQLite floor needs it"
    return only


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if SLUICE is None:
        print("the sluice command is not installed (pip install -e .)", file=sys.stderr)
        return 2
    only = selected(args)
    if isinstance(only, str):
        print(only, file=sys.stderr)
        return 2

    compile_sluice()
    print(f"machine: {cpu_model() or 'processor unknown'}, {os.cpu_count()} cores")
    meta = generate_leads.write(args.rows)
    print(
        f"input: bench/data/{meta['file']}: {meta['rows']:,} rows, {meta['bytes'] / 1e6:.1f} MB "
        f"({meta['invalid_rows']:,} invalid, {meta['test_rows']:,} test records; clean subset "
        f"{meta['clean_rows']:,} rows; {'reused' if meta['reused'] else 'generated'})"
    )
    merge_meta = None
    if only & GROUPS["merge"]:
        merge_meta = generate_merge.write(args.rows)
        print(
            f"merge input: bench/data/{merge_meta['file']}: {merge_meta['rows']:,} rows "
            f"({merge_meta['clean_update_rows']:,} valid updates of loaded rows, "
            f"{merge_meta['clean_new_rows']:,} valid new keys; "
            f"{'reused' if merge_meta['reused'] else 'generated'})"
        )
    wants_pg = bool(only & PG_LINES)
    pg_version = psql("SHOW server_version") if wants_pg else None
    mysql_version = mysql("SELECT VERSION()") if only & GROUPS["mysql"] else None
    dlt_version = None
    if "dlt" in only and not args.skip_dlt:
        dlt_version = dlt_available()
        if dlt_version is None:
            print("dlt not installed: skipping the dlt line (pip install 'dlt[postgres]')")

    schemas = Schemas(args.keep)
    tmp = Path(tempfile.mkdtemp(prefix="sluice-bench-"))
    runners: dict[str, Callable[[], dict[str, Any]]] = {
        "copy": lambda: loads.run_copy(meta, schemas),
        "sluice-pg": lambda: loads.run_sluice_pg(meta, schemas, tmp),
        "sluice-pg-gz": lambda: loads.run_sluice_pg_gz(meta, schemas, tmp),
        "sqlite-import": lambda: loads.run_sqlite_import(meta, tmp),
        "sluice-sqlite": lambda: loads.run_sluice_sqlite(meta, tmp),
        "dlt": lambda: loads.run_dlt(meta, schemas, tmp),
        "mysql-load-data": lambda: loads.run_mysql_load_data(meta, schemas),
        "sluice-mysql": lambda: loads.run_sluice_mysql(meta, schemas, tmp),
        "duckdb-read-csv": lambda: loads.run_duckdb_read_csv(meta, tmp),
        "sluice-duckdb": lambda: loads.run_sluice_duckdb(meta, tmp),
        "merge-append": lambda: loads.run_merge_append(merge_meta or {}, schemas, tmp),
        "merge": lambda: loads.run_merge(meta, merge_meta or {}, schemas, tmp),
    }
    skipped: dict[str, str] = {}
    if "dlt" in only and (args.skip_dlt or dlt_version is None):
        skipped["dlt"] = "skipped (--skip-dlt)" if args.skip_dlt else "dlt not installed"
    plan = [(key, name) for key, name, _ in LINES if key in only and key not in skipped]
    runs: dict[str, list[dict[str, Any]]] = {key: [] for key, _ in plan}
    started = time.perf_counter()
    try:
        for rep in range(args.repeat):
            for key, name in plan:
                label = f" (run {rep + 1} of {args.repeat})" if args.repeat > 1 else ""
                print(f"measuring {name}{label} ...", flush=True)
                r = runners[key]()
                used = (r.get("server_cpu_s") or {}).get(SERVER_OF.get(key, ""))
                server = f" + {used:.2f} in the server" if used is not None else ""
                print(
                    f"  {r['seconds']:.2f} s, peak RSS {r['rss_mb']:.0f} MB "
                    f"(anon {r.get('anon_mb', 0):.0f}, files {r.get('file_mb', 0):.0f}), "
                    f"CPU {r.get('cpu_s', 0):.2f} s{server}",
                    flush=True,
                )
                if "checked" in r:
                    print(f"  checked: {r['checked']}", flush=True)
                runs[key].append(r)
    finally:
        schemas.drop_all()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    startup_lines = None
    if "startup" in only:
        print(f"measuring start-up ({args.startup_repeat} runs each) ...", flush=True)
        startup_lines = startup.measure_startup(args.startup_repeat)

    lines: list[dict[str, Any]] = []
    for key, name, _ in LINES:
        if key in skipped:
            lines.append({"key": key, "name": name, "skipped": skipped[key]})
        elif runs.get(key):
            lines.append({"key": key, "name": name, **summarize(runs[key], SERVER_OF.get(key))})
    by = {ln["key"]: ln for ln in lines if not ln.get("skipped")}
    for ln in by.values():
        floor = by.get(FLOOR_OF[ln["key"]] or ln["key"])
        ln["vs_floor"] = ln["rows_per_s"] / floor["rows_per_s"] if floor else None
        # The ratio the line would have with every core busy all the time: the most its
        # CPU (its own and the server's) allows on this machine, however it overlaps.
        busy = ln.get("busy")
        if floor is not None and floor is not ln and busy:
            ln["vs_floor_at_full_use"] = ln["vs_floor"] / busy
    if lines:
        print()
        print_table(lines)
    if startup_lines:
        print()
        startup.print_startup(startup_lines)

    out = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "rows": args.rows,
        "repeat": args.repeat,
        "wall_seconds": round(time.perf_counter() - started, 1),
        "input": meta,
        "merge_input": merge_meta,
        "floor_choice": (
            "each database's own bulk load of the clean subset (invalid and test rows removed: "
            "they would fail or differ from a typed load) into a table with the column types "
            "sluice creates there: psql \\copy (SET datestyle = 'ISO, MDY'), sqlite3 .import "
            "--csv, LOAD DATA LOCAL INFILE (STR_TO_DATE), DuckDB read_csv (dateformat); the "
            "merge's floor is sluice's append of the same file into an empty table"
        ),
        "machine": {
            "cpus": os.cpu_count(),
            "cpu_model": cpu_model(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
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
        "startup": startup_lines,
    }
    for ln in out["results"]:
        ln["measured_at"] = out["generated_at"]
    if args.only:
        out = with_earlier(out, RESULTS / "latest.json")
    rows = summary.verdicts({"latest": out}, [t for t in targets.TARGETS if t.source == "latest"])
    out["targets"] = [
        {"key": t.key, "target": t.target, "ratio": v.ratio, "ok": v.ok, "note": v.note}
        for t, v in rows
    ]
    print()
    print(summary.table(rows))
    print()
    print(notes(meta["clean_rows"], merge_meta["clean_rows"] if merge_meta else None))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(out, indent=2) + "\n")
    print(f"\nwritten: {(RESULTS / 'latest.json').relative_to(ROOT)}")
    return 0


def with_earlier(out: dict[str, Any], path: Path) -> dict[str, Any]:
    """An ``--only`` run's results, with the lines (and start-up) it did not measure kept
    from the results file it replaces, if that one measured as many rows. Every line
    keeps its ``measured_at``, and bench/summary.py names the lines from earlier runs."""
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        return out
    if old.get("rows") != out["rows"]:
        return out
    when = old.get("generated_at")
    measured = {ln["key"] for ln in out["results"]}
    kept = [
        {**ln, "measured_at": ln.get("measured_at", when)}
        for ln in old.get("results") or []
        if ln.get("key") not in measured
    ]
    order = {key: i for i, (key, _, _) in enumerate(LINES)}
    out["results"] = sorted(out["results"] + kept, key=lambda ln: order.get(ln["key"], len(order)))
    if out["startup"] is None and old.get("startup"):
        out["startup"] = old["startup"]
        out["startup_measured_at"] = old.get("startup_measured_at", when)
    if out["merge_input"] is None:
        out["merge_input"] = old.get("merge_input")
    return out


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


def _versions(dlt_version: str | None) -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {}
    # The libraries the figures depend on: a new machine installs their newest releases,
    # which move the figures (bench/README.md, seventeenth round: RSS and start-up).
    for pkg in (
        "sluice-etl",
        "polars",
        "pyarrow",
        "numpy",
        "psycopg",
        "pgpq",
        "pymysql",
        "sqlalchemy",
        "duckdb",
        "pydantic",
        "typer",
    ):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    out["dlt"] = dlt_version
    out["sqlite3_shell"] = _sqlite3_version()
    return out


def _sqlite3_version() -> str | None:
    if shutil.which("sqlite3") is None:
        return None
    res = subprocess.run(["sqlite3", "--version"], capture_output=True, text=True)
    return res.stdout.split(" ")[0] if res.returncode == 0 else None


if __name__ == "__main__":
    sys.exit(main())
