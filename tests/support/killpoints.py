"""The ``sluice`` command, killed (SIGKILL, by itself) at a named point of its load.

    python -m tests.support.killpoints POINT sluice-args...

POINT is one of:

- ``after_commit``: the warehouse has committed the load, the state store has not heard
  of it yet (the ledger still says ``loading``);
- ``after_ledger``: the warehouse and the ledger have committed the load (its
  quarantined rows are open); the report that counts it is not written yet (a Celery
  part's, or the run's);
- ``in_commit``: the load's rows and its marker are written, the transaction is not
  committed (the process dies inside it, the database rolls it back);

A run that must still be going when the test signals or cancels it waits at the batch
gate instead (:class:`sluice.testing.Gate`, ``SLUICE_TEST_GATE``).

``after_commit`` in a ``sluice worker`` (its prefork children inherit the patch) would
kill every delivery of the part again. With ``SLUICE_TEST_KILL_ONCE=PATH`` only the
first load to commit dies, in whichever worker process: it creates PATH (exclusively)
and writes its load key there first; with ``SLUICE_TEST_KILL_MATCH=TEXT`` only a load
whose key contains TEXT is a candidate.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any


def die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def chosen(load_key: str) -> bool:
    """Whether this load dies (always, unless SLUICE_TEST_KILL_ONCE limits it to one)."""
    if os.environ.get("SLUICE_TEST_KILL_MATCH", "") not in load_key:
        return False
    marker = os.environ.get("SLUICE_TEST_KILL_ONCE")
    if not marker:
        return True
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:  # another load died already: this one lives
        return False
    with os.fdopen(fd, "w") as f:
        f.write(load_key)
    return True


def arm(point: str) -> None:
    if point == "after_commit":
        from sluice.engine.load import Loader

        send = Loader.send

        def send_then_die(self: Loader, load_key: str, *args: Any, **kwargs: Any) -> Any:
            result = send(self, load_key, *args, **kwargs)
            if chosen(load_key):
                die()
            return result

        Loader.send = send_then_die  # type: ignore[method-assign]
    elif point == "after_ledger":
        from sluice.engine.load import Loader

        older = Loader._supersede_older

        def supersede_then_die(self: Loader, stream: str, unit: Any, file_id: int) -> None:
            # the first call after the transaction that committed the load's ledger entries
            older(self, stream, unit, file_id)
            if chosen(f"{self.ctx.name}/{stream}/{unit.name}"):
                die()

        Loader._supersede_older = supersede_then_die  # type: ignore[method-assign]
    elif point == "in_commit":
        from sluice.destinations.sql import SqlDestination

        # The marker's timestamp is taken as the marker row is written, the last
        # statement before the commit.
        SqlDestination._now = lambda self: die()  # type: ignore[method-assign]
    else:
        raise SystemExit(f"unknown kill point {point!r}")


if __name__ == "__main__":
    arm(sys.argv.pop(1))
    from sluice.cli.app import main

    sys.argv[0] = "sluice"
    main()
