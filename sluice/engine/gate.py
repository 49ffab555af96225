"""A barrier between batches, for tests only: inert unless ``SLUICE_TEST_GATE`` is set.

A test that needs "a run that is still going" (to cancel it, read while it writes,
trigger it twice) used to load a million rows and hope to be fast enough. With
``SLUICE_TEST_GATE=FOLDER`` in the environment, every batch a run reads, once handed
to the load, waits here: the run creates ``FOLDER/reached`` and blocks (before its
commit) until ``FOLDER/open`` exists or the run is cancelled. One small batch is then
a run that is reliably still going. :class:`sluice.testing.Gate` drives it.

The variable is read at each batch (one dict lookup when unset), so a test can arm the
gate between runs of one process. Never set it in production: a gated run waits for
ever for a file nobody creates (a cancel still stops it).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

GATE_ENV = "SLUICE_TEST_GATE"
REACHED, OPEN = "reached", "open"


def between_batches(cancelled: threading.Event) -> None:
    """Wait at the gate if one is armed; return once it is open or the run cancelled."""
    folder = os.environ.get(GATE_ENV)
    if not folder:
        return
    gate = Path(folder)
    (gate / REACHED).touch()
    # the cancel event is the wake-up: the caller checks it right after
    while not (gate / OPEN).exists() and not cancelled.wait(0.02):
        pass
