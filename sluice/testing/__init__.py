"""A small kit for testing sluice projects and sluice itself.

- :func:`copy_example`: an example project copied into a folder of your own, without
  its ``.sluice`` state and ``*.db`` files, so each test starts from scratch;
- :class:`Gate`: makes a run wait between batches until the test opens it, so "a run
  that is still going" (to cancel, to read while it writes) needs one small batch
  instead of a million rows;
- :func:`free_port`: a TCP port of 127.0.0.1 nobody listens on, for ``sluice serve``
  or ``sluice sim`` in a subprocess.
"""

from sluice.testing.examples import copy_example
from sluice.testing.gate import Gate
from sluice.testing.ports import free_port

__all__ = ["Gate", "copy_example", "free_port"]
