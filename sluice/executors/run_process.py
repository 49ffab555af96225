"""A run carried out in a process of its own, for ``sluice serve``.

    python -m sluice.executors.run_process --project PATH --pipeline NAME --run-id ID [--trigger T]

The service records the run (so its id can be answered at once), then starts this.
A load is CPU work in Python and Polars; in the server's own process it would hold
the interpreter the requests need, so it runs here and the server only waits. The
run reads ``sluice.yaml`` afresh: a fixed config applies to the next run without a
restart. SIGTERM cancels it the same way as ``RunContext.cancel()``: the load in progress
rolls back and the run ends ``cancelled``. Everything it reports goes to the state
store (progress, log, the final report). It runs at the lowest CPU priority (nice 19):
on a busy machine the server's answers come before the load's speed.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from types import FrameType

from sluice.config import load_project
from sluice.engine import start
from sluice.engine.run import run
from sluice.errors import SluiceError


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sluice.executors.run_process")
    ap.add_argument("--project", required=True)
    ap.add_argument("--pipeline", required=True)
    ap.add_argument("--run-id", required=True)
    ap.add_argument("--trigger", default="api")
    args = ap.parse_args(argv)
    # A load is batch work: the server's requests (and the database) come first. At
    # nice 10 the server's p99 under 50 clients was 182-289 ms; at 19, 195-249 ms.
    os.nice(19)
    try:
        return _run(args)
    except SluiceError as exc:
        # The state store (or the config) failed before the run could record it: the
        # server reads this one line from our stderr into the run's error, and its log.
        hint = f" ({exc.hint})" if exc.hint else ""
        print(f"error: {exc.message}{hint}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    project = load_project(args.project)
    ctx = start(
        project,
        args.pipeline,
        run_id=args.run_id,
        trigger=args.trigger,
        # Another run has the pipeline (a `sluice run`, another server): wait or refuse.
        wait=project.pipeline(args.pipeline).if_running == "queue",
    )

    def cancel(signum: int, frame: FrameType | None) -> None:
        ctx.cancel()

    signal.signal(signal.SIGTERM, cancel)
    run(ctx)
    return 0


if __name__ == "__main__":
    sys.exit(main())
