"""The ``sluice`` command, killed (SIGKILL, by itself) at a named point of its load.

    python -m tests.engine.killpoints POINT sluice-args...

POINT is one of:

- ``after_commit``: the warehouse has committed the load, the state store has not heard
  of it yet (the ledger still says ``loading``);
- ``in_commit``: the load's rows and its marker are written, the transaction is not
  committed (the process dies inside it, the database rolls it back);
- ``slow``: not killed, but every batch takes ``SLUICE_TEST_BATCH_DELAY`` seconds
  (default 0.1) more, so a test can signal or cancel the run while its load goes.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Any


def die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def arm(point: str) -> None:
    if point == "after_commit":
        from sluice.engine.runner import Runner

        send = Runner.send

        def send_then_die(self: Runner, *args: Any, **kwargs: Any) -> Any:
            send(self, *args, **kwargs)
            die()

        Runner.send = send_then_die  # type: ignore[method-assign]
    elif point == "in_commit":
        from sluice.destinations.sql import SqlDestination

        # The marker's timestamp is taken as the marker row is written, the last
        # statement before the commit.
        SqlDestination._now = lambda self: die()  # type: ignore[method-assign]
    elif point == "slow":
        from sluice.engine.process import UnitProcessor

        process = UnitProcessor.process
        delay = float(os.environ.get("SLUICE_TEST_BATCH_DELAY") or 0.1)

        def slowly(self: UnitProcessor, batch: Any) -> Any:
            time.sleep(delay)
            return process(self, batch)

        UnitProcessor.process = slowly  # type: ignore[method-assign]
    else:
        raise SystemExit(f"unknown kill point {point!r}")


if __name__ == "__main__":
    arm(sys.argv.pop(1))
    from sluice.cli.app import main

    sys.argv[0] = "sluice"
    main()
