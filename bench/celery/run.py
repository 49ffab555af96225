"""Scale out on Celery: a drop of 120 lead files into PostgreSQL, one worker against two.

    .venv/bin/python bench/celery/run.py [--files 120] [--rows-per-file 50000]
        [--broker redis://127.0.0.1:6379/15] [--repeat R] [--keep]

In one run, on the same files (120 x 50,000 rows by default, each file distinct) and
the same PostgreSQL:
- local: ``sluice run leads --executor local --json`` (the whole run in one process);
- celery, 1 worker: one ``sluice worker --concurrency 1``, then ``sluice run leads
  --executor celery --json`` (enqueues one task per file and waits for them);
- celery, 2 workers: the same with two worker processes of concurrency 1.
Each measurement gets fresh PostgreSQL schemas for the warehouse and the state store,
a Celery queue of its own and freshly started workers (started, and ready, before the
clock starts). ``seconds`` is the wall time of the ``sluice run`` command. Every line
must load the same rows, each exactly once. Prints a table, writes
bench/results/celery.json. Environment: BENCH_PG_URL (see bench/run.py).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import polars as pl
import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tools import load_bench  # noqa: E402  (bench/tools.py)

_bench = load_bench()
ROOT, RESULTS, SLUICE_CMD = _bench.ROOT, _bench.RESULTS, _bench.SLUICE_CMD
Schemas, checkpoint, measure = _bench.Schemas, _bench.checkpoint, _bench.measure
psql, schema_url = _bench.psql, _bench.schema_url
generate_leads = _bench.generate_leads

PROJECT = HERE / "project"
DEFAULT_BROKER = "redis://127.0.0.1:6379/15"
#: bump when the files written by ``write_files`` change, so a cached drop is redone
FILES_VERSION = 1
#: the generator's license numbers are 7919 * i + c (mod 10^8): file f continues at f * rows
LICENSE_STEP = 7919
LICENSE_SPACE = 100_000_000


# --------------------------------------------------------------------------- the input


def files_dir(files: int, rows: int) -> Path:
    return Path(generate_leads.DATA) / f"celery_{files}x{rows}"


def write_files(files: int, rows: int, seed: int = generate_leads.DEFAULT_SEED) -> dict[str, Any]:
    """The drop: ``files`` CSVs of ``rows`` lead rows each, cached in bench/data.

    Every file is the generator's ``rows``-row file with its license numbers moved on
    by ``f * rows`` positions of the generator's sequence (file f, from 0): each file
    has its own content (the file ledger skips a file whose content it has seen) and
    every license number of the drop is unique, so the table can be checked for rows
    loaded twice. Invalid and test rows stay where they are: each file quarantines and
    filters the same rows, and loads ``clean_rows`` rows.
    """
    if files * rows > LICENSE_SPACE:
        raise SystemExit(f"at most {LICENSE_SPACE:,} rows in all: the license numbers run out")
    folder = files_dir(files, rows)
    meta_path = folder / "meta.json"
    want = {
        "version": FILES_VERSION,
        "generator_version": generate_leads.VERSION,
        "seed": seed,
        "files": files,
        "rows_per_file": rows,
    }
    if meta_path.exists():
        meta: dict[str, Any] = json.loads(meta_path.read_text())
        cached = meta.get("sizes", {})
        if (
            all(meta.get(k) == v for k, v in want.items())
            and len(cached) == files
            and all(
                (folder / n).is_file() and (folder / n).stat().st_size == s
                for n, s in cached.items()
            )
            and len(list(folder.glob("*.csv"))) == files
        ):
            return {**meta, "reused": True}
    start = time.perf_counter()
    df, keep = generate_leads.build(rows, seed)
    test_rows = int(df.get_column("Facility Name").str.starts_with("Test ").sum())
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.csv"):
        old.unlink()
    lic = pl.col("License Number")
    prefixed = lic.str.starts_with("LIC-")
    digits = lic.str.strip_prefix("LIC-").cast(pl.Int64)
    sizes: dict[str, int] = {}
    width = len(str(files))
    for f in range(files):
        offset = (LICENSE_STEP * f * rows) % LICENSE_SPACE
        moved = ((digits + offset) % LICENSE_SPACE).cast(pl.String).str.zfill(8)
        frame = df.with_columns(
            pl.when(prefixed).then(pl.lit("LIC-") + moved).otherwise(moved).alias("License Number")
        )
        name = f"leads_{f + 1:0{width}d}.csv"
        tmp = folder / (name + ".tmp")
        # as generate_leads.write: UTF-8 with BOM, CRLF, fields quoted only when needed
        frame.write_csv(tmp, include_bom=True, line_terminator="\r\n", quote_style="necessary")
        os.replace(tmp, folder / name)
        sizes[name] = (folder / name).stat().st_size
    clean_rows = int(np.asarray(keep).sum())
    meta = {
        **want,
        "folder": str(folder.relative_to(ROOT)),
        "rows": files * rows,
        "bytes": sum(sizes.values()),
        "clean_rows_per_file": clean_rows,
        "clean_rows": files * clean_rows,
        "test_rows_per_file": test_rows,
        "invalid_rows_per_file": rows - clean_rows - test_rows,
        "seconds": round(time.perf_counter() - start, 2),
        "sizes": sizes,
    }
    meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    return {**meta, "reused": False}


# --------------------------------------------------------------------------- the workers


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def _cpu(p: psutil.Process) -> float | None:
    try:
        t = p.cpu_times()
        return float(t.user + t.system)
    except psutil.Error:
        return None


@dataclass
class Workers:
    """``count`` ``sluice worker`` processes (each ``--concurrency 1``) on one queue.

    Each is started in a session of its own, so that stopping it reaches its pool
    children too. While they run, a thread samples every process of their trees every
    500 ms: the kernel's high-water mark of resident memory (VmHWM) and CPU seconds.
    """

    count: int
    env: dict[str, str]
    queue: str
    logdir: Path
    pool: str | None = None
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)
    hwm_kb: dict[int, int] = field(default_factory=dict)
    cpu: dict[int, float] = field(default_factory=dict)
    cpu_start: dict[int, float] = field(default_factory=dict)
    _files: list[IO[bytes]] = field(default_factory=list)
    _done: threading.Event = field(default_factory=threading.Event)
    _sampler: threading.Thread | None = None

    def start(self) -> None:
        for i in range(self.count):
            cmd = [SLUICE_CMD, "worker", "-p", str(PROJECT), "--concurrency", "1"]
            cmd += ["--queues", self.queue, "--loglevel", "INFO"]
            if self.pool:
                cmd += ["--pool", self.pool]
            log = self.logdir / f"{self.queue}-worker-{i + 1}.log"
            out = open(log, "wb")  # noqa: SIM115 (closed in stop)
            self._files.append(out)
            self.logs.append(log)
            self.procs.append(
                subprocess.Popen(
                    cmd,
                    env=self.env,
                    cwd=ROOT,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _sample(self) -> None:
        while not self._done.is_set():
            self._sample_once()
            self._done.wait(0.5)

    def _sample_once(self) -> None:
        for proc in self.procs:
            for p in _tree(proc.pid):
                kb, _, _ = _bench._memory_kb(p.pid)
                if kb:
                    self.hwm_kb[p.pid] = max(self.hwm_kb.get(p.pid, 0), kb)
                cpu = _cpu(p)
                if cpu is not None:
                    self.cpu[p.pid] = cpu

    def wait_ready(self, timeout: float, settle: float) -> float:
        """Wait until every worker has logged "ready" (Celery does, at level INFO).

        A worker that exits fails the measurement; one that never says "ready" within
        ``timeout`` is given the benefit of the doubt (its log level may hide it).
        Returns the seconds waited.
        """
        start = time.perf_counter()
        pending = set(range(self.count))
        while pending and time.perf_counter() - start < timeout:
            for i in sorted(pending):
                if self.procs[i].poll() is not None:
                    raise RuntimeError(
                        f"worker {i + 1} exited with {self.procs[i].returncode}:\n" + self.tail(i)
                    )
                if re.search(r"\bready\.?\s*$", self.logs[i].read_text(errors="replace"), re.M):
                    pending.discard(i)
            time.sleep(0.1)
        if pending:
            print(
                f"  (no 'ready' in the log of worker(s) {sorted(i + 1 for i in pending)} "
                f"after {timeout:.0f} s: going on)",
                flush=True,
            )
        time.sleep(settle)
        return time.perf_counter() - start

    def mark(self) -> None:
        """The CPU seconds so far, subtracted at the end (start-up is not counted)."""
        self._sample_once()
        self.cpu_start = dict(self.cpu)

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.procs)

    def tail(self, i: int, chars: int = 3000) -> str:
        return self.logs[i].read_text(errors="replace")[-chars:]

    def parts_done(self) -> list[list[float]]:
        """Per worker, the seconds of each part it logged as done (Celery's
        "Task sluice.part[...] succeeded in 1.23s")."""
        done = re.compile(r"Task sluice\.part\[[^]]*\] succeeded in ([0-9.]+)s")
        return [
            [float(x) for x in done.findall(log.read_text(errors="replace"))] for log in self.logs
        ]

    def stats(self) -> dict[str, Any]:
        self._sample_once()
        parts = self.parts_done()
        every = [x for p in parts for x in p]
        cpu = sum(v - self.cpu_start.get(pid, 0.0) for pid, v in self.cpu.items())
        return {
            "worker_cpu_seconds": cpu,
            "worker_peak_rss_mb": max(self.hwm_kb.values(), default=0) / 1024,
            "worker_tasks": [len(p) for p in parts],
            "worker_busy_seconds": [round(sum(p), 2) for p in parts],
            "part_seconds_median": statistics.median(every) if every else None,
        }

    def stop(self, grace: float = 30.0) -> None:
        """SIGTERM (Celery's warm shutdown), then SIGKILL to what is left after ``grace``."""
        started = [p for proc in self.procs for p in _tree(proc.pid)]
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.1, deadline - time.monotonic()))
        for p in started:  # psutil checks the start time: never a reused pid
            try:
                if p.is_running():
                    p.kill()
            except psutil.Error:
                pass
        for proc in self.procs:
            proc.wait()
        self._done.set()
        if self._sampler is not None:
            self._sampler.join()
        for f in self._files:
            f.close()


# --------------------------------------------------------------------------- the runs


@dataclass
class Context:
    args: argparse.Namespace
    meta: dict[str, Any]
    schemas: Any  # bench.Schemas
    tmp: Path
    tag: str
    n: int = 0

    def queue(self) -> str:
        self.n += 1
        return f"bench-{self.tag}-{self.n}"


def base_env(ctx: Context, label: str) -> tuple[dict[str, str], str]:
    """The environment of one measurement: fresh schemas for warehouse and state."""
    warehouse = ctx.schemas.fresh(f"celery_{label}")
    state = ctx.schemas.fresh(f"celery_{label}_state")
    env = {
        **os.environ,
        "SLUICE_BENCH_DIR": str(files_dir(ctx.args.files, ctx.args.rows_per_file)),
        "SLUICE_WAREHOUSE_URL": schema_url(warehouse),
        "SLUICE_STATE_URL": schema_url(state),
        "SLUICE_BROKER_URL": ctx.args.broker,
    }
    # The state store is migrated before the clock starts, on every line alike (the
    # local run would otherwise pay for it inside its time, and the workers before it).
    subprocess.run(
        [SLUICE_CMD, "runs", "-p", str(PROJECT), "--json"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    return env, warehouse


def trigger(ctx: Context, executor: str, env: dict[str, str], warehouse: str) -> dict[str, Any]:
    """``sluice run leads --executor ... --json``, timed; checks every row loaded once."""
    cmd = [SLUICE_CMD, "run", "leads", "-p", str(PROJECT), "--executor", executor, "--json"]
    cmd = ["timeout", "-s", "TERM", str(ctx.args.timeout), *cmd]
    # exit code 3: loaded, with rows quarantined (the ~0.5% invalid rows, by design)
    r = measure(cmd, env=env, ok_codes=tuple(range(256)))
    try:
        report = json.loads(r["stdout"])
    except json.JSONDecodeError:
        report = None
    if r["returncode"] not in (0, 3) or report is None:
        errors = json.dumps((report or {}).get("errors"), indent=1)
        raise RuntimeError(
            f"{executor} run exited with {r['returncode']} "
            f"(status {(report or {}).get('status')}):\nerrors: {errors}"
            f"\nstderr: {r['stderr'][-2000:]}"
            + ("" if report else f"\nstdout: {r['stdout'][-2000:]}")
        )
    totals = report["totals"]
    loaded, distinct = (
        int(v)
        for v in psql(
            f"SELECT count(*), count(DISTINCT license_number) FROM {warehouse}.leads"
        ).split("|")
    )
    stream = report.get("streams", {}).get("source1", {})
    files_seen = len(stream.get("files", [])) if isinstance(stream, dict) else None
    expected = ctx.meta["clean_rows"]
    problems = []
    if totals["read"] != ctx.meta["rows"]:
        problems.append(f"read {totals['read']:,} rows of {ctx.meta['rows']:,}")
    if totals["loaded"] != expected:
        problems.append(f"the report says {totals['loaded']:,} loaded, expected {expected:,}")
    if loaded != expected:
        problems.append(f"the table holds {loaded:,} rows, expected {expected:,}")
    if distinct != loaded:
        problems.append(f"{loaded - distinct:,} rows loaded twice (license_number)")
    if files_seen is not None and files_seen != ctx.args.files:
        problems.append(f"the report lists {files_seen} files of {ctx.args.files}")
    if problems:
        raise RuntimeError(
            f"{executor}: " + "; ".join(problems) + f"\ntotals: {json.dumps(totals)}"
            f"\nstatus: {report.get('status')}\nstderr: {r['stderr'][-2000:]}"
        )
    return {
        "seconds": r["seconds"],
        "rss_mb": r["rss_mb"],
        "cpu_s": r.get("cpu_s"),  # of the `sluice run` process: the whole run when local
        "returncode": r["returncode"],
        "run_id": report.get("run_id"),
        "status": report.get("status"),
        "sluice_seconds": report.get("seconds"),
        "rows": totals["read"],
        "loaded": loaded,
        "distinct_license_numbers": distinct,
        "totals": totals,
        "files_in_report": files_seen,
    }


def run_local(ctx: Context) -> dict[str, Any]:
    env, warehouse = base_env(ctx, "local")
    checkpoint()
    return trigger(ctx, "local", env, warehouse)


def run_celery(ctx: Context, workers: int) -> dict[str, Any]:
    env, warehouse = base_env(ctx, f"w{workers}")
    queue = ctx.queue()
    env["SLUICE_CELERY_QUEUE"] = queue
    group = Workers(workers, env, queue, ctx.tmp, ctx.args.pool)
    group.start()
    try:
        ready = group.wait_ready(ctx.args.ready_timeout, ctx.args.settle)
        checkpoint()
        group.mark()
        r = trigger(ctx, "celery", env, warehouse)
        if not group.alive():
            raise RuntimeError("a worker died during the run:\n" + group.tail(0))
        r.update(group.stats(), workers=workers, queue=queue, ready_seconds=round(ready, 2))
        return r
    except Exception:
        for i in range(workers):
            print(f"--- worker {i + 1} log (tail) ---\n{group.tail(i)}", file=sys.stderr)
        raise
    finally:
        group.stop()
        delete_queue(ctx.args.broker, queue)


def delete_queue(broker: str, queue: str) -> None:
    """Best effort: the measurement's queue, its exchange and bindings off the broker.

    In a child, so that kombu is imported from the venv and not next to bench/celery.
    """
    code = """
import sys
from kombu import Connection
url, q = sys.argv[1], sys.argv[2]
with Connection(url, connect_timeout=5) as c:
    ch = c.default_channel
    if c.transport.driver_type == "redis":  # the queue's list and kombu's binding sets
        own = {q, "_kombu.binding." + q, "_kombu.binding_permanent." + q}
        keys = [
            k for k in ch.client.scan_iter(match="*" + q + "*")
            if k.decode() in own or k.decode().startswith(q + "\\x06\\x16")
        ]
        if keys:
            ch.client.delete(*keys)
    else:
        ch.queue_delete(q)
        ch.exchange_delete(q)
"""
    subprocess.run(
        [sys.executable, "-c", code, broker, queue],
        cwd=ROOT,
        capture_output=True,
        timeout=30,
        check=False,
    )


def broker_ok(broker: str) -> str | None:
    """None when the broker answers, else why not."""
    code = (
        "import sys\nfrom kombu import Connection\n"
        "with Connection(sys.argv[1], connect_timeout=5) as c:\n"
        "    c.ensure_connection(max_retries=1)\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code, broker], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return None if res.returncode == 0 else (res.stderr.strip().splitlines() or ["?"])[-1]


def worker_exists() -> bool:
    """Whether this sluice has ``sluice worker`` (the Celery executor)."""
    res = subprocess.run([SLUICE_CMD, "worker", "--help"], capture_output=True, check=False)
    return res.returncode == 0


# --------------------------------------------------------------------------- reporting


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median run by wall time (every run's seconds kept)."""
    ordered = sorted(runs, key=lambda r: r["seconds"])
    best = dict(ordered[len(ordered) // 2])
    best["rows_per_s"] = best["rows"] / best["seconds"]
    if len(runs) > 1:
        best["all_seconds"] = [round(r["seconds"], 3) for r in runs]
        best["stdev_seconds"] = round(statistics.pstdev(r["seconds"] for r in runs), 3)
    return best


def print_table(lines: list[dict[str, Any]]) -> None:
    head = (
        f"{'measurement':<22} {'seconds':>8} {'run s':>7} {'rows loaded':>12} {'rows/s':>9} "
        f"{'vs local':>8} {'cmd CPU s':>9} {'worker CPU s':>12} {'parts':>9} {'busy s':>11} "
        f"{'peak MB':>8}"
    )
    print(head)
    print("-" * len(head))
    for ln in lines:
        cpu = f"{ln['worker_cpu_seconds']:.1f}" if "worker_cpu_seconds" in ln else "-"
        cmd = f"{ln['cpu_s']:.1f}" if ln.get("cpu_s") is not None else "-"
        tasks = "+".join(str(t) for t in ln.get("worker_tasks", [])) or "-"
        peak = ln.get("worker_peak_rss_mb", ln["rss_mb"])
        busy = "+".join(f"{b:.0f}" for b in ln.get("worker_busy_seconds", [])) or "-"
        run_s = f"{ln['sluice_seconds']:.2f}" if ln.get("sluice_seconds") is not None else "-"
        print(
            f"{ln['name']:<22} {ln['seconds']:>8.2f} {run_s:>7} {ln['loaded']:>12,} "
            f"{ln['rows_per_s']:>9,.0f} {ln['vs_local']:>7.2f}x {cmd:>9} {cpu:>12} {tasks:>9} "
            f"{busy:>11} {peak:>8.0f}"
        )


def redact(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@/]*@", r"//\1:***@", url)


def versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {}
    for pkg in ("sluice", "celery", "kombu", "redis", "polars", "pyarrow", "psycopg"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=120)
    ap.add_argument("--rows-per-file", type=int, default=50_000)
    ap.add_argument(
        "--broker",
        default=DEFAULT_BROKER,
        help=f"Celery broker (default {DEFAULT_BROKER}; or amqp://guest:guest@127.0.0.1:5672//)",
    )
    ap.add_argument("--repeat", type=int, default=1, help="runs per line (the median is kept)")
    ap.add_argument("--keep", action="store_true", help="keep the schemas and worker logs")
    ap.add_argument("--pool", choices=["prefork", "solo", "threads"], help="the workers' pool")
    ap.add_argument(
        "--timeout", type=int, default=3600, help="seconds a run may take before it is stopped"
    )
    ap.add_argument(
        "--ready-timeout", type=float, default=30.0, help="seconds to wait for workers' 'ready'"
    )
    ap.add_argument(
        "--settle", type=float, default=1.0, help="seconds to wait after the workers are ready"
    )
    args = ap.parse_args(argv)
    if args.files < 1 or args.rows_per_file < 1 or args.repeat < 1:
        ap.error("--files, --rows-per-file and --repeat must be at least 1")
    if _bench.SLUICE is None:
        print("the sluice command is not installed (pip install -e .)", file=sys.stderr)
        return 2
    if not worker_exists():
        print(
            "`sluice worker` does not exist in this sluice (the Celery executor)", file=sys.stderr
        )
        return 2
    why = broker_ok(args.broker)
    if why is not None:
        print(f"the broker {redact(args.broker)} does not answer: {why}", file=sys.stderr)
        return 2

    meta = write_files(args.files, args.rows_per_file)
    print(
        f"input: {meta['folder']}/: {meta['files']} files x {meta['rows_per_file']:,} rows = "
        f"{meta['rows']:,} rows, {meta['bytes'] / 1e6:,.0f} MB ({meta['clean_rows']:,} load; "
        f"{meta['invalid_rows_per_file'] * meta['files']:,} invalid, "
        f"{meta['test_rows_per_file'] * meta['files']:,} test records; "
        f"{'reused' if meta['reused'] else 'generated in ' + str(meta['seconds']) + ' s'})"
    )
    print(f"broker: {redact(args.broker)}", flush=True)

    schemas = Schemas(args.keep)
    tmp = Path(tempfile.mkdtemp(prefix="sluice-bench-celery-"))
    ctx = Context(args, meta, schemas, tmp, secrets.token_hex(4))
    plan: list[tuple[str, str, Callable[[], dict[str, Any]]]] = [
        ("local", "local (in-process)", lambda: run_local(ctx)),
        ("celery-1", "celery, 1 worker", lambda: run_celery(ctx, 1)),
        ("celery-2", "celery, 2 workers", lambda: run_celery(ctx, 2)),
    ]
    runs: dict[str, list[dict[str, Any]]] = {key: [] for key, _, _ in plan}
    try:
        # Round-robin over the lines, so that the machine's drift hits each alike.
        for rep in range(args.repeat):
            for key, name, fn in plan:
                label = f" (run {rep + 1} of {args.repeat})" if args.repeat > 1 else ""
                print(f"measuring {name}{label} ...", flush=True)
                r = fn()
                print(f"  {r['seconds']:.2f} s, {r['loaded']:,} rows loaded", flush=True)
                runs[key].append(r)
    finally:
        schemas.drop_all()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"worker logs kept in {tmp}")

    lines = [{"key": key, "name": name, **summarize(runs[key])} for key, name, _ in plan]
    local = lines[0]
    for ln in lines:
        ln["vs_local"] = ln["rows_per_s"] / local["rows_per_s"]
    by = {ln["key"]: ln for ln in lines}
    speedup = by["celery-2"]["rows_per_s"] / by["celery-1"]["rows_per_s"]
    loaded = {ln["key"]: ln["loaded"] for ln in lines}
    same = len(set(loaded.values())) == 1 and all(
        r["loaded"] == r["distinct_license_numbers"] == meta["clean_rows"]
        for rs in runs.values()
        for r in rs
    )

    print()
    print_table(lines)
    print()
    print(f"speed-up, 2 workers vs 1: {speedup:.2f}x")
    print(
        f"rows loaded: {meta['clean_rows']:,} in every run, each exactly once "
        f"(count(*) = count(DISTINCT license_number)): {'yes' if same else 'NO'}"
    )
    print()
    print(
        "seconds: wall time of `sluice run leads --executor ... --json` (Python start-up, "
        "enqueueing and waiting included; the workers were started and ready before). "
        "run s: the run report's own seconds. rows/s: rows read (all "
        f"{meta['rows']:,}, of which {meta['clean_rows']:,} load) / seconds. vs local: "
        "throughput against the local executor. cmd CPU s: CPU seconds of the `sluice run` "
        "process (local: the whole run; celery: queuing and waiting). worker CPU s: CPU "
        "seconds of the worker processes during the run. parts: the files each worker "
        "loaded; busy s: the seconds its parts took. peak MB: the largest VmHWM of the "
        "`sluice run` process (local) or of a worker process (celery)."
    )

    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "input": {k: v for k, v in meta.items() if k != "sizes"},
        "broker": redact(args.broker),
        "pool": args.pool,
        "repeat": args.repeat,
        "machine": {
            "cpus": os.cpu_count(),
            "cpu_model": _bench.cpu_model(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "postgresql": psql("SHOW server_version"),
            "memory_gb": round(psutil.virtual_memory().total / 1024**3, 1),
        },
        "versions": versions(),
        "results": [
            {k: (round(v, 3) if isinstance(v, float) else v) for k, v in ln.items()} for ln in lines
        ],
        "speedup_2_vs_1": round(speedup, 3),
        "same_rows_each_once": same,
        "runs": {
            key: [
                {k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()} for r in rs
            ]
            for key, rs in runs.items()
        },
    }
    (RESULTS / "celery.json").write_text(json.dumps(out, indent=2) + "\n")
    print(f"\nwritten: {(RESULTS / 'celery.json').relative_to(ROOT)}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
