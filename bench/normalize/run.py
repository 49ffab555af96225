"""The normalization benchmark: randomuser JSON Lines -> PostgreSQL, sluice vs dlt vs pandas.

    .venv/bin/python bench/normalize/run.py [--records N] [--repeat R] [--skip-dlt] [--keep]

In one run, on the same file (200,000 records by default) and the same PostgreSQL:
- sluice: validated, normalized into six related tables (users, logins, media,
  timezones, countries, altids) with email hashed and credentials dropped;
- dlt (if installed): its default nested normalization into ``users``;
- pandas: ``json_normalize`` + ``to_sql`` into one flat table.
Each runs in its own child process (wall time, peak RSS). Prints a table, writes
bench/results/normalize.json. Environment: BENCH_PG_URL.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import statistics
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import generate_users  # noqa: E402
from tools import load_bench  # noqa: E402  (bench/tools.py)

_bench = load_bench()
PG_URL, RESULTS, SLUICE_CMD = _bench.PG_URL, _bench.RESULTS, _bench.SLUICE_CMD
Schemas, checkpoint, measure = _bench.Schemas, _bench.checkpoint, _bench.measure
psql, schema_url = _bench.psql, _bench.schema_url

TARGET_VS_DLT = 12.0  # issue 15 (8x before)
TARGET_RSS_MB = 500
TABLES = ("users", "logins", "media", "timezones", "countries", "altids")
PY = sys.executable


def count(schema: str, table: str) -> int:
    return int(psql(f"SELECT count(*) FROM {schema}.{table}"))


def run_sluice(file: Path, schemas: Schemas) -> dict[str, Any]:
    schema = schemas.fresh("norm")
    with tempfile.TemporaryDirectory() as state:
        checkpoint()
        r = measure(
            [SLUICE_CMD, "run", "users", "--project", str(HERE / "project"), "--json"],
            env={
                "BENCH_USERS_FILE": str(file),
                "SLUICE_WAREHOUSE_URL": schema_url(schema),
                "SLUICE_STATE_URL": f"sqlite:///{state}/state.db",
                "SLUICE_PII_SALT": "bench-salt",
            },
        )
    report = json.loads(r["stdout"])
    r["records"] = count(schema, "users")
    r["tables"] = {t: count(schema, t) for t in TABLES}
    r["accounting"] = report["totals"]
    # Nothing hidden reaches the warehouse: no password column, no plain email.
    leaked = psql(f"SELECT count(*) FROM {schema}.users WHERE email LIKE '%@%'")
    r["plain_emails"] = int(leaked)
    return r


def run_dlt(file: Path, schemas: Schemas) -> dict[str, Any]:
    schema = schemas.fresh("dlt")
    checkpoint()
    r = measure(
        [PY, str(HERE / "dlt_users.py"), "--file", str(file), "--url", PG_URL, "--dataset", schema]
    )
    r["records"] = count(schema, "users")
    return r


def run_pandas(file: Path, schemas: Schemas) -> dict[str, Any]:
    schema = schemas.fresh("pandas")
    checkpoint()
    r = measure(
        [PY, str(HERE / "pandas_users.py"), "--file", str(file), "--url", schema_url(schema)]
    )
    r["records"] = count(schema, "users_flat")
    return r


def median_run(fn: Any, repeat: int, *args: Any) -> dict[str, Any]:
    runs = [fn(*args) for _ in range(repeat)]
    runs.sort(key=lambda r: r["seconds"])
    best = runs[len(runs) // 2]
    best["all_seconds"] = [round(r["seconds"], 2) for r in runs]
    best["rss_mb"] = max(r["rss_mb"] for r in runs)
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--skip-dlt", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the benchmark schemas")
    args = ap.parse_args(argv)
    file = generate_users.generate(args.records)
    schemas = Schemas(args.keep)
    results: dict[str, Any] = {}
    try:
        results["sluice"] = median_run(run_sluice, args.repeat, file, schemas)
        if not args.skip_dlt and importlib.util.find_spec("dlt"):
            results["dlt"] = median_run(run_dlt, args.repeat, file, schemas)
        if importlib.util.find_spec("pandas"):
            results["pandas"] = median_run(run_pandas, args.repeat, file, schemas)
    finally:
        schemas.drop_all()

    print(
        f"\n{args.records:,} randomuser records ({file.stat().st_size / 1e6:.0f} MB of JSON Lines)"
    )
    print(f"{'':28} {'seconds':>8} {'records/s':>10} {'vs dlt':>7} {'peak RSS':>9}")
    dlt_rate = results["dlt"]["records"] / results["dlt"]["seconds"] if "dlt" in results else None
    labels = {
        "sluice": "sluice (6 tables, PII)",
        "dlt": "dlt (default normalize)",
        "pandas": "pandas json_normalize+to_sql",
    }
    for name, r in results.items():
        rate = r["records"] / r["seconds"]
        r["records_per_s"] = rate
        vs = f"{rate / dlt_rate:6.1f}x" if dlt_rate else "      -"
        print(f"{labels[name]:28} {r['seconds']:8.2f} {rate:10,.0f} {vs:>7} {r['rss_mb']:7.0f} MB")
    s = results["sluice"]
    print(f"sluice tables: {s['tables']}; accounting: {s['accounting']}")
    verdicts = [
        f"peak RSS {s['rss_mb']:.0f} MB (target < {TARGET_RSS_MB}): "
        + ("met" if s["rss_mb"] < TARGET_RSS_MB else "MISSED")
    ]
    if dlt_rate:
        ratio = s["records_per_s"] / dlt_rate
        verdicts.append(
            f"{ratio:.1f}x dlt (target {TARGET_VS_DLT:.0f}x): "
            + ("met" if ratio >= TARGET_VS_DLT else "MISSED")
        )
    for v in verdicts:
        print(v)
    RESULTS.mkdir(exist_ok=True)
    for r in results.values():
        r.pop("stdout", None)
        r.pop("stderr", None)
    (RESULTS / "normalize.json").write_text(
        json.dumps(
            {
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": platform.platform(),
                "cpu_model": _bench.cpu_model(),
                "records": args.records,
                "results": results,
                "median_of": args.repeat,
                "seconds_spread": {k: r["all_seconds"] for k, r in results.items()},
                "rate_median": statistics.median([results["sluice"]["records_per_s"]]),
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
