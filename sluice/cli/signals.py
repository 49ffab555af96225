"""Ctrl-C and SIGTERM while a run goes: the run is cancelled, not killed.

The first signal asks the run to stop (its load in progress rolls back, the table is
as it was, the run ends ``cancelled``); the command then exits 128 + the signal's
number: 130 for SIGINT, 143 for SIGTERM. A second Ctrl-C stops at once.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

EXIT_CANCELLED = 128 + signal.SIGINT  # a run cancelled without a signal of ours: as Ctrl-C


@dataclass
class Caught:
    """The signal that cancelled the run, if one did."""

    signum: int | None = None

    def exit_code(self) -> int:
        return 128 + self.signum if self.signum is not None else EXIT_CANCELLED


@contextmanager
def cancelling_on_signals(
    cancel: Callable[[str], object], caught: Caught | None = None
) -> Iterator[Caught]:
    """While inside, SIGINT and SIGTERM call ``cancel(signal name)`` (once); what was
    caught is noted in ``caught``."""
    caught = caught if caught is not None else Caught()
    if threading.current_thread() is not threading.main_thread():
        yield caught  # only the main thread may set handlers
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if caught.signum is not None:
            if signum == signal.SIGINT:  # a second Ctrl-C: stop now
                raise KeyboardInterrupt
            return
        caught.signum = signum
        cancel(signal.Signals(signum).name)

    before = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield caught
    finally:
        for s, h in before.items():
            signal.signal(s, h)
