"""The benchmark's targets (issue 15), in one place: what each compares, how, and the bar.

Each target reads the figures of one results file (bench/results/latest.json from
bench/run.py, normalize.json from bench/normalize/run.py, celery.json from
bench/celery/run.py) and gives a :class:`Verdict`: the floor's figure and sluice's,
measured in the same run, their ratio, and PASS or FAIL. bench/summary.py prints them
all as one table; bench/run.py prints the ones of its own lines.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: results file -> the command that writes it
WRITERS = {
    "latest": "bench/run.py",
    "normalize": "bench/normalize/run.py",
    "celery": "bench/celery/run.py",
}

Results = dict[str, Any]


@dataclass(frozen=True)
class Verdict:
    floor_figure: str = "-"
    sluice_figure: str = "-"
    ratio: str = "-"
    ok: bool | None = None  # None: not measured
    note: str = ""


@dataclass(frozen=True)
class Target:
    key: str
    workload: str
    floor: str  # what sluice is held against, measured in the same run
    target: str  # the bar, as the table shows it
    source: str  # the results file: a key of WRITERS
    judge: Callable[[Results], Verdict]


def not_measured(source: str, how: str = "") -> Verdict:
    return Verdict(note=f"not measured: run {WRITERS[source]}{how}")


def line(results: Results, key: str) -> dict[str, Any] | None:
    """The measured line ``key`` of latest.json or celery.json (None: absent or skipped)."""
    for ln in results.get("results", []):
        if ln.get("key") == key and not ln.get("skipped"):
            return dict(ln)
    return None


def _rate(ln: dict[str, Any], unit: str = "rows/s") -> str:
    return f"{ln['rows_per_s']:,.0f} {unit} ({ln['seconds']:.2f} s)"


def ratio_of(
    floor_key: str,
    sluice_key: str,
    at_least: float,
    *,
    only: str,
    min_rows_s: float | None = None,
) -> Callable[[Results], Verdict]:
    """sluice's rows/s over the floor's, both lines of latest.json."""

    def judge(results: Results) -> Verdict:
        floor, sluice = line(results, floor_key), line(results, sluice_key)
        if floor is None or sluice is None:
            return not_measured("latest", f" --only {only}")
        ratio = sluice["rows_per_s"] / floor["rows_per_s"]
        ok = ratio >= at_least
        note = ""
        if min_rows_s is not None:
            fast = sluice["rows_per_s"] >= min_rows_s
            note = f"{sluice['rows_per_s']:,.0f} rows/s {'>=' if fast else '<'} {min_rows_s:,.0f}"
            ok = ok and fast
        return Verdict(_rate(floor), _rate(sluice), f"{ratio:.2f}", ok, note)

    return judge


def startup(key: str, above_at_most: float) -> Callable[[Results], Verdict]:
    """A command's median start-up, against ``python -c pass`` (latest.json's startup)."""

    def judge(results: Results) -> Verdict:
        lines = results.get("startup") or {}
        base, cmd = lines.get("python"), lines.get(key)
        if not base or not cmd:
            return not_measured("latest", " --only startup")
        floor = f"{base['seconds']:.3f} s"
        if "error" in cmd:
            return Verdict(floor, "-", "-", False, cmd["error"])
        above = cmd["overhead_s"]
        return Verdict(floor, f"{cmd['seconds']:.3f} s", f"{above:+.3f} s", above < above_at_most)

    return judge


def peak_rss(key: str, below_mb: float) -> Callable[[Results], Verdict]:
    def judge(results: Results) -> Verdict:
        ln = line(results, key)
        if ln is None:
            return not_measured("latest", f" --only {key}")
        # The target is the VmHWM; its own memory (RssAnon) and the pages of the files
        # it maps (RssFile: shared libraries) are shown beside it, since the second
        # differs by host and by the page cache's state (bench/README.md).
        parts = [
            f"{k} {ln[m]:.0f}" for k, m in (("anon", "anon_mb"), ("files", "file_mb")) if ln.get(m)
        ]
        own = f" ({', '.join(parts)})" if parts else ""
        return Verdict("-", f"{ln['rss_mb']:.1f} MB{own}", "-", ln["rss_mb"] < below_mb)

    return judge


def vs_dlt(at_least: float) -> Callable[[Results], Verdict]:
    """sluice's records/s over dlt's (normalize.json)."""

    def judge(results: Results) -> Verdict:
        runs = results.get("results", {})
        sluice, dlt = runs.get("sluice"), runs.get("dlt")
        if not sluice or not dlt:
            return not_measured("normalize", "" if sluice else " (with dlt installed)")

        def fig(r: dict[str, Any]) -> str:
            return f"{r['records_per_s']:,.0f} records/s ({r['seconds']:.2f} s)"

        ratio = sluice["records_per_s"] / dlt["records_per_s"]
        return Verdict(fig(dlt), fig(sluice), f"{ratio:.1f}x", ratio >= at_least)

    return judge


def vs_local(key: str, at_least: float) -> Callable[[Results], Verdict]:
    """A Celery line's rows/s over the local executor's (celery.json)."""

    def judge(results: Results) -> Verdict:
        local, celery = line(results, "local"), line(results, key)
        if local is None or celery is None:
            return not_measured("celery")
        ratio = celery["rows_per_s"] / local["rows_per_s"]
        return Verdict(_rate(local), _rate(celery), f"{ratio:.2f}", ratio >= at_least)

    return judge


PG_RSS_MB = 300
STARTUP_ABOVE_S = 0.3

TARGETS: list[Target] = [
    Target(
        "pg",
        "1M leads CSV -> PostgreSQL (append)",
        "psql \\copy",
        ">= 0.80 x floor",
        "latest",
        ratio_of("copy", "sluice-pg", 0.8, only="pg"),
    ),
    Target(
        "sqlite",
        "1M leads CSV -> SQLite",
        "sqlite3 .import --csv",
        ">= 0.70 x floor and >= 250,000 rows/s",
        "latest",
        ratio_of("sqlite-import", "sluice-sqlite", 0.7, only="sqlite", min_rows_s=250_000),
    ),
    Target(
        "mysql",
        "1M leads CSV -> MariaDB",
        "LOAD DATA LOCAL INFILE",
        ">= 0.75 x floor",
        "latest",
        ratio_of("mysql-load-data", "sluice-mysql", 0.75, only="mysql"),
    ),
    Target(
        "duckdb",
        "1M leads CSV -> DuckDB",
        "DuckDB read_csv",
        ">= 0.80 x floor",
        "latest",
        ratio_of("duckdb-read-csv", "sluice-duckdb", 0.8, only="duckdb"),
    ),
    Target(
        "merge",
        "1M leads merged into 1M rows (PostgreSQL)",
        "sluice append, same file",
        ">= 0.60 x floor",
        "latest",
        ratio_of("merge-append", "merge", 0.6, only="merge"),
    ),
    Target(
        "startup-version",
        "start-up: sluice --version",
        "python -c pass",
        f"< +{STARTUP_ABOVE_S:.2f} s",
        "latest",
        startup("version", STARTUP_ABOVE_S),
    ),
    Target(
        "startup-validate",
        "start-up: sluice validate -p examples/leads",
        "python -c pass",
        f"< +{STARTUP_ABOVE_S:.2f} s",
        "latest",
        startup("validate", STARTUP_ABOVE_S),
    ),
    Target(
        "startup-import",
        'start-up: python -c "import sluice"',
        "python -c pass",
        f"< +{STARTUP_ABOVE_S:.2f} s",
        "latest",
        startup("import", STARTUP_ABOVE_S),
    ),
    Target(
        "pg-rss",
        "peak RSS, 1M leads -> PostgreSQL",
        "-",
        f"< {PG_RSS_MB} MB",
        "latest",
        peak_rss("sluice-pg", PG_RSS_MB),
    ),
    Target(
        "normalize",
        "normalize: 200k randomuser records",
        "dlt",
        ">= 12x floor",
        "normalize",
        vs_dlt(12.0),
    ),
    Target(
        "celery",
        "Celery, 1 worker",
        "local executor",
        ">= 0.95 x floor",
        "celery",
        vs_local("celery-1", 0.95),
    ),
]
