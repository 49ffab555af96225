"""A small kit for testing sluice projects and sluice itself.

- :func:`copy_example`: an example project copied into a folder of your own, without
  its ``.sluice`` state and ``*.db`` files, so each test starts from scratch;
- :class:`Gate`: makes a run wait between batches until the test opens it, so "a run
  that is still going" (to cancel, to read while it writes) needs one small batch
  instead of a million rows;
- :class:`Clock` and :class:`WallClock`: time a test moves by hand, for caches,
  throttles, folder watchers and schedules that take ``clock=``;
- :func:`simulator`: a shipped API simulator on a free port of 127.0.0.1;
- :class:`Capture`: a loopback HTTP server that keeps every request (a webhook);
- :mod:`~sluice.testing.processes`: ``run`` and ``Popen`` as in :mod:`subprocess`,
  with ``python -m``/``-c`` commands forked from a preloaded server (milliseconds, not
  the second of imports a fresh interpreter spends);
- :func:`free_port`: a TCP port of 127.0.0.1 nobody listens on, for ``sluice serve``
  or ``sluice sim`` in a subprocess.
"""

from sluice.testing import processes
from sluice.testing.capture import Capture
from sluice.testing.clock import Clock, WallClock
from sluice.testing.examples import copy_example
from sluice.testing.gate import Gate
from sluice.testing.ports import free_port
from sluice.testing.sims import simulator

__all__ = [
    "Capture",
    "Clock",
    "Gate",
    "WallClock",
    "copy_example",
    "free_port",
    "processes",
    "simulator",
]
