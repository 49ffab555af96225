"""Where a sluice load spends its CPU, by stage: py-spy samples of every thread, summed.

    .venv/bin/pip install py-spy
    .venv/bin/python bench/profile.py                  # 1M leads -> a fresh PostgreSQL schema
    .venv/bin/python bench/profile.py --raw prof.txt   # summarize a `py-spy record -f raw` file
    .venv/bin/python bench/profile.py --native         # perf: CPU by library and function

Each sample is put in the first stage (top to bottom of ``STAGES``) whose marker is on
its stack; what is left is "other". The figures are seconds at the sampling rate, per
thread, so stages on different threads add up to more than the wall time. They are
shares of where threads were, not CPU time: py-spy also counts a thread that waits for
the GIL, and one waiting on a hand-off queue (shown apart). For CPU by stage without
threads, see `stages()` (``--stages``): each stage run in turn on the same batches.

``--native`` samples the same load with Linux ``perf`` (``apt-get install linux-perf``;
as root, or with ``kernel.perf_event_paranoid`` at most 2): every thread, native code
included (Polars' and Arrow's kernels, the interpreter, the kernel), as shares of the
process's CPU by library and by function. py-spy sees Python frames only; perf sees what
the CPU runs but, on Python 3.11, not which Python function asked for it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import PG_URL, Schemas, schema_url  # noqa: E402

#: (stage, markers): the first stage with a marker in a sample's stack takes the sample
WAITING = "waiting (hand-offs between threads)"
#: the batches whose bad rows ``--stages`` explains at once (the engine explains up to
#: 512 rows at once: about 10 batches of the bench file's)
EXPLAIN_EVERY = 10

STAGES: list[tuple[str, tuple[str, ...]]] = [
    (WAITING, ("Condition.wait", "Event.wait")),
    ("start-up: imports", ("_find_and_load", "exec_module")),
    ("dates (validation)", ("transforms/dates.py",)),
    # A load checks each batch, then explains the bad rows of many at once (`run` does
    # both; the entries written count as "quarantine entries"); casts and date notes
    # also run on Polars' own threads, under map_batches.
    (
        "validation",
        (
            "Validator.run",
            "Validator.check",
            "Validator.explain",
            "transforms/cast.py",
            "transforms/date_hints.py",
        ),
    ),
    ("steps", ("StepRunner.run_lazy", "StepRunner.drop_blank", "apply_mapping")),
    ("quarantine entries", ("write_quarantine", "Quarantine.quarantine", "pending (")),
    ("CSV parse", ("csv_reader.py",)),
    ("encode + COPY", ("PostgresDestination._write", "CopyStream.", "pg_binary.py")),
    ("start-up: state store, plan, file hash", ("open_store", "Planner.plan", "_prepare")),
    ("commit, ledger, report", ("Loader._commit", "_then_finish", "settle.py")),
]


def summarize(raw: Path, rate: int) -> list[tuple[str, float]]:
    """(stage, CPU-seconds) of a ``py-spy record -f raw --threads`` file, largest first."""
    seconds: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        stage = next((s for s, marks in STAGES if any(m in stack for m in marks)), "other")
        seconds[stage] += int(count) / rate
    return seconds.most_common()


def record(rows: int, rate: int, out: Path) -> None:
    """py-spy over one `sluice run` of bench/leads into a fresh PostgreSQL schema."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    _load(rows, [spy, "record", "-r", str(rate), "-f", "raw", "--threads", "-o", str(out), "--"])


def _load(rows: int, sampler: list[str]) -> None:
    """One `sluice run` of bench/leads into a fresh PostgreSQL schema, under ``sampler``."""
    schemas = Schemas(keep=False)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env = {
                **os.environ,
                "SLUICE_BENCH_ROWS": str(rows),
                "SLUICE_WAREHOUSE_URL": schema_url(schemas.fresh("profile")),
                "SLUICE_STATE_URL": f"sqlite:///{tmp}/state.db",
            }
            cmd = [*sampler, sys.executable, "-m", "sluice", "run", "leads", "--json"]
            leads = HERE / "leads"
            subprocess.run(cmd, cwd=leads, env=env, stdout=subprocess.DEVNULL, check=False)
    finally:
        schemas.drop_all()


def native(
    rows: int, rate: int, out: Path
) -> tuple[int, list[tuple[float, str]], list[tuple[float, str]]]:
    """perf samples of one load: (samples, [(share, library)], [(share, library: function)])."""
    perf = shutil.which("perf")
    if perf is None:
        raise SystemExit("perf is not installed: apt-get install linux-perf")
    out.unlink(missing_ok=True)
    _load(rows, [perf, "record", "-q", "-F", str(rate), "-o", str(out), "--"])
    if not out.exists():
        raise SystemExit(
            "perf recorded nothing: run as root, or set kernel.perf_event_paranoid to 2 or less"
        )

    def report(sort: str) -> list[list[str]]:
        cmd = [perf, "report", "-i", str(out), "--no-children", "-n", "--stdio", "--sort", sort]
        text = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        return [line.split(None, 2) for line in text.splitlines() if line.strip()[:1].isdigit()]

    by_dso = report("dso")
    samples = sum(int(n) for _, n, _ in by_dso)
    libraries = [(float(share.rstrip("%")), dso.strip()) for share, _, dso in by_dso]
    functions = []
    for share, _, rest in report("dso,sym"):
        dso, _, sym = rest.partition(" [")
        functions.append((float(share.rstrip("%")), f"{dso.strip()}: {sym[3:].strip()}"))
    return samples, libraries, functions


def stages(rows: int) -> list[tuple[str, float]]:
    """CPU-seconds of each stage of the 1M-row load run in turn, batch by batch, in one
    thread (no overlap, no waiting), as the engine runs them: read, steps (collected),
    validation's check of each batch, the explanation of its bad rows (every
    ``EXPLAIN_EVERY`` batches, as the engine gathers them), encoding for COPY. Works on
    older trees too (``PYTHONPATH=old/tree``, with ``PYTHONSAFEPATH=1``): what they lack
    is skipped."""
    import functools
    import io
    import time

    os.environ.setdefault("SLUICE_BENCH_ROWS", str(rows))
    from sluice.config import load_project
    from sluice.sources.csv_reader import read_csv
    from sluice.transforms import StepRunner, Validator, apply_mapping, plan_mapping

    try:
        from sluice.destinations.pg_binary import Encoder
    except ImportError:  # before binary COPY: CSV for COPY
        Encoder = None
    project = load_project(HERE / "leads")
    pipe = project.pipelines["leads"]
    source = pipe.sources["source1"]
    path = (HERE / "leads" / source.path).resolve()
    headers, batches = read_csv(
        functools.partial(path.open, "rb"),
        source.csv,
        stream_name="s",
        unit="u",
        block_size=source.batch_bytes,
    )
    plan = plan_mapping(headers, pipe, source, project.synonyms)
    steps = StepRunner(pipe, list(pipe.table.columns))
    extra = {"computed": steps.computed} if hasattr(steps, "computed") else {}
    try:  # as the engine makes it for this source (older trees: what they have)
        from sluice.engine.opener import decimal_mark, unread_marker

        unit = path.name
        extra |= {"mark": decimal_mark(source, unit), "unread": unread_marker(source, unit)}
    except ImportError:
        pass
    validator = Validator(pipe.table, [], **extra)
    checks = hasattr(validator, "check")  # before it: `run` checked and explained
    # The steps as the engine's processor runs them (its PII plan, the reader's word on
    # trimmed columns, header rows): the pieces alone once measured a `trim` that real
    # runs never skipped. Older trees: the pieces, as they had them.
    step = _engine_steps(project, pipe, plan, steps, validator, path.name)
    cpu = dict.fromkeys(["read", "steps", "validation", "explain", "encode"], 0.0)
    refused: list = []
    encoder = None
    it = iter(batches())
    while True:
        t = time.process_time()
        batch = next(it, None)
        cpu["read"] += time.process_time() - t
        if batch is None:
            break
        t = time.process_time()
        if step is not None:
            stepped = step(batch).data
        else:
            data = apply_mapping(steps.drop_blank(batch.data, headers), plan, validator.columns)
            # the columns the reader found trimmed
            seen = frozenset(
                plan.rename[h] for h in getattr(batch, "trimmed", ()) if h in plan.rename
            )
            lazy = steps.run_lazy(data, *([seen] if seen else []))
            stepped = lazy.collect(engine="in-memory")
        cpu["steps"] += time.process_time() - t
        t = time.process_time()
        if checks:
            good, bad = validator.check(stepped, batch.nul_free, batch.backslash_free)
            refused.append(bad)
        else:
            good, _ = validator.run(stepped, batch.nul_free)
        cpu["validation"] += time.process_time() - t
        t = time.process_time()
        if len(refused) >= EXPLAIN_EVERY:
            validator.explain(refused)
            refused = []
        cpu["explain"] += time.process_time() - t
        t = time.process_time()
        good = good.drop("_line")
        if Encoder is not None:
            if encoder is None:
                encoder = Encoder(good.schema)
                encoder.header()
            for _ in encoder.rows(good):
                pass
        else:
            good.write_csv(io.BytesIO(), include_header=False)
        cpu["encode"] += time.process_time() - t
    t = time.process_time()
    if refused:
        validator.explain(refused)
    cpu["explain"] += time.process_time() - t
    return list(cpu.items())


def _engine_steps(project: Any, pipe: Any, plan: Any, steps: Any, validator: Any, unit: str) -> Any:
    """The engine's own step of a batch (``UnitProcessor._step``), its processor made as
    the engine's opener makes one; None on trees without it."""
    try:
        from sluice.engine.process import UnitContext, UnitProcessor
        from sluice.transforms.pii import PiiPlan

        pii = PiiPlan.build(pipe, plan.rename, project.pii_salt)
        ctx = UnitContext("profile", "leads", "source1", unit, None)
        processor = UnitProcessor(ctx, plan, steps, validator, lambda entries: None, pii=pii)
    except (ImportError, TypeError, AttributeError):
        return None
    return getattr(processor, "_step", None)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--rate", type=int, help="samples per second (default: py-spy 100, perf 499)")
    ap.add_argument("--raw", type=Path, help="summarize this py-spy raw file instead")
    ap.add_argument("--stages", action="store_true", help="CPU by stage, one thread")
    ap.add_argument("--native", action="store_true", help="perf: CPU by library and function")
    args = ap.parse_args(argv)
    if args.raw is None:  # the bench's file, made as `bench/run.py` makes it (or reused)
        import generate_leads

        generate_leads.write(args.rows)
    if args.native:
        out = HERE / "results" / "perf.data"
        out.parent.mkdir(exist_ok=True)
        print(f"perf over sluice -> PostgreSQL ({PG_URL}), {args.rows:,} rows ...")
        rate = args.rate or 499
        samples, libraries, functions = native(args.rows, rate, out)
        print(f"{samples:,} samples at {rate} Hz: ~{samples / rate:.1f} CPU-s")
        print(f"{'library':60} {'share':>6}")
        for share, name in libraries[:12]:
            print(f"{name[:60]:60} {share:5.1f}%")
        print(f"\n{'function':100} {'share':>6}")
        for share, name in functions[:25]:
            print(f"{name[:100]:100} {share:5.1f}%")
        return 0
    if args.stages:
        cpu = stages(args.rows)
        for stage, seconds in cpu:
            print(f"{stage:12} {seconds:6.2f} CPU-s")
        print(f"{'total':12} {sum(s for _, s in cpu):6.2f} CPU-s")
        return 0
    raw = args.raw
    if raw is None:
        raw = HERE / "results" / "profile.txt"
        raw.parent.mkdir(exist_ok=True)
        print(f"profiling sluice -> PostgreSQL ({PG_URL}), {args.rows:,} rows ...")
        record(args.rows, args.rate or 100, raw)
    rows = summarize(raw, args.rate or 100)
    work = [(stage, s) for stage, s in rows if stage != WAITING]
    total = sum(s for _, s in work)
    print(f"{'stage':42} {'CPU s':>7} {'share':>6}")
    for stage, s in work:
        print(f"{stage:42} {s:7.2f} {s / total:6.1%}")
    print(f"{'total':42} {total:7.2f}")
    waited = dict(rows).get(WAITING, 0.0)
    print(f"(not counted: {waited:.2f} s of samples waiting on a hand-off)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
