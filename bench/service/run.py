"""The service under load: 50 clients reading while a 1,000,000-row load runs.

    .venv/bin/python bench/service/run.py [--rows N] [--clients 50]

Starts `sluice serve` on bench/leads (a fresh PostgreSQL schema as the warehouse,
holding 10,000 rows loaded first; a throwaway SQLite state store), triggers the load
of the generated N-row leads file, and while it runs, ``--clients`` concurrent
clients each alternate ``GET /api/runs?limit=20`` and
``GET /api/datasets/leads?limit=50``. Reports p50/p99
latency and errors of those reads, and the load's own time. The clients are wrk
(Debian's package; `apt-get install wrk`) with bench/service/reads.lua, or, without
wrk, asyncio httpx clients (slower: the Python client then takes much of the CPU). They
run on the same machine as the server and the database (2 cores here), so they
compete for CPU: a pessimistic setting. Writes bench/results/service.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tools import load_bench  # noqa: E402  (bench/tools.py)

TARGET_P99_MS = 250.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def client(http: httpx.AsyncClient, done: asyncio.Event, out: dict[str, list[Any]]) -> None:
    paths = ("/api/runs?limit=20", "/api/datasets/leads?limit=50")
    i = 0
    while not done.is_set():
        path = paths[i % 2]
        i += 1
        start = time.perf_counter()
        try:
            r = await http.get(path)
            ok = r.status_code == 200
        except httpx.HTTPError as exc:
            ok, r = False, None
            out["errors"].append(f"{path}: {type(exc).__name__}")
        ms = (time.perf_counter() - start) * 1000
        out["latency"].append(ms)
        if not ok and r is not None:
            out["errors"].append(f"{path}: {r.status_code} {r.text[:100]}")


async def hammer(
    url: str, token: str, run_id: str | None, clients: int, idle: float = 0.0
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    out: dict[str, list[Any]] = {"latency": [], "errors": []}
    done = asyncio.Event()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30, limits=limits) as http:
        tasks = [asyncio.create_task(client(http, done, out)) for _ in range(clients)]
        start = time.perf_counter()
        status = "running" if run_id else "idle"
        if run_id is None:
            await asyncio.sleep(idle)
        while status in ("running", "queued"):
            await asyncio.sleep(0.5)
            r = await http.get(f"/api/runs/{run_id}")
            status = r.json()["status"]
        seconds = time.perf_counter() - start
        done.set()
        await asyncio.gather(*tasks)
    lat = sorted(out["latency"])
    q = statistics.quantiles(lat, n=100) if len(lat) > 1 else lat * 99
    return {
        "run_status": status,
        "load_seconds_observed": seconds,
        "requests": len(lat),
        "errors": len(out["errors"]),
        "error_samples": out["errors"][:5],
        "p50_ms": statistics.median(lat),
        "p99_ms": q[98],
        "max_ms": lat[-1],
        "requests_per_s": len(lat) / seconds,
    }


def wrk_reads(
    url: str, token: str, run_id: str | None, clients: int, idle: float
) -> dict[str, Any]:
    """The same reads by wrk (C, epoll), stopped when the run ends (SIGINT: it reports)."""
    wrk = subprocess.Popen(
        [
            "wrk",
            "-t1",
            f"-c{clients}",
            "-d3600s",
            "--timeout",
            "10s",
            "-s",
            str(HERE / "reads.lua"),
            url,
        ],
        env={**os.environ, "TOKEN": token},
        stdout=subprocess.PIPE,
        text=True,
    )
    headers = {"Authorization": f"Bearer {token}"}
    start = time.perf_counter()
    status = "running" if run_id else "idle"
    if run_id is None:
        time.sleep(idle)
    while status in ("running", "queued"):
        time.sleep(0.5)
        status = httpx.get(f"{url}/api/runs/{run_id}", headers=headers, timeout=30).json()["status"]
    seconds = time.perf_counter() - start
    wrk.send_signal(signal.SIGINT)
    out, _ = wrk.communicate(timeout=60)
    stats = json.loads(out.strip().splitlines()[-1])
    return {
        "client": "wrk",
        "run_status": status,
        "load_seconds_observed": seconds,
        "requests": stats["requests"],
        "errors": stats["errors"],
        "error_samples": [f"non-2xx {stats['non_2xx']}, timeouts {stats['timeouts']}"],
        "p50_ms": stats["p50_ms"],
        "p99_ms": stats["p99_ms"],
        "max_ms": stats["max_ms"],
        "requests_per_s": stats["requests"] / stats["seconds"],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument(
        "--idle", type=float, default=0.0, help="no load: read for this many seconds (a baseline)"
    )
    args = ap.parse_args(argv)
    bench = load_bench()
    bench.generate_leads.write(args.rows)
    schemas = bench.Schemas(args.keep)
    token = secrets.token_urlsafe(32)

    def reads(url: str, token: str, run_id: str | None, n: int, idle: float) -> dict[str, Any]:
        if shutil.which("wrk"):
            return wrk_reads(url, token, run_id, n, idle)
        return {"client": "httpx", **asyncio.run(hammer(url, token, run_id, n, idle))}

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as state:
        env = {
            **os.environ,
            "SLUICE_BENCH_ROWS": str(args.rows),
            "SLUICE_WAREHOUSE_URL": bench.schema_url(schemas.fresh("service")),
            "SLUICE_STATE_URL": f"sqlite:///{state}/state.db",
            "SLUICE_OPERATOR_TOKENS": token,
        }
        # The table already holds data, as a served one does: 10,000 rows loaded first.
        bench.generate_leads.write(10_000)
        subprocess.run(
            [bench.SLUICE_CMD, "run", "leads", "-p", str(bench.PROJECT)],
            env={**env, "SLUICE_BENCH_ROWS": "10000"},
            stdout=subprocess.DEVNULL,
            check=False,
        )
        log = open(Path(state) / "serve.log", "w")  # noqa: SIM115 (closed below)
        serve = subprocess.Popen(
            [bench.SLUICE_CMD, "serve", "-p", str(bench.PROJECT), "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            headers = {"Authorization": f"Bearer {token}"}
            for _ in range(100):
                try:
                    if httpx.get(url + "/api/health", headers=headers).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            if args.idle:  # a baseline: the same reads, after the load, with nothing going
                r = httpx.post(url + "/api/pipelines/leads/runs", headers=headers)
                first = r.json()["run_id"]
                while httpx.get(f"{url}/api/runs/{first}", headers=headers).json()["status"] in (
                    "running",
                    "queued",
                ):
                    time.sleep(0.5)
                result = reads(url, token, None, args.clients, args.idle)
                result.update(load_seconds=0.0, rows_loaded=0)
            else:
                r = httpx.post(url + "/api/pipelines/leads/runs", headers=headers)
                r.raise_for_status()
                run_id = r.json()["run_id"]
                result = reads(url, token, run_id, args.clients, 0.0)
                report = httpx.get(f"{url}/api/runs/{run_id}", headers=headers).json()
                result["load_seconds"] = report["seconds"]
                result["rows_loaded"] = report["totals"]["loaded"]
        finally:
            serve.terminate()
            serve.wait(30)
            log.close()
            schemas.drop_all()
    result.update(rows=args.rows, clients=args.clients)
    print(
        f"\n{args.clients} clients reading /api/runs and a dataset page while "
        f"{args.rows:,} rows load ({result['rows_loaded']:,} loaded in "
        f"{result['load_seconds']:.1f} s, run {result['run_status']}):"
    )
    print(
        f"  {result['requests']:,} requests ({result['requests_per_s']:.0f}/s), "
        f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, "
        f"max {result['max_ms']:.0f} ms, errors {result['errors']}"
    )
    met = result["p99_ms"] < TARGET_P99_MS and result["errors"] == 0
    print(f"  target p99 < {TARGET_P99_MS:.0f} ms and zero errors: {'met' if met else 'MISSED'}")
    results = HERE.parent / "results"
    results.mkdir(exist_ok=True)
    (results / "service.json").write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
