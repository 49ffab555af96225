"""The test's side of the engine's batch gate (:mod:`sluice.engine.gate`).

    gate = Gate(tmp_path / "gate")
    monkeypatch.setenv(*gate.env)       # or env={**os.environ, **dict([gate.env])}
    run_id = trigger(...)
    gate.wait_reached()                 # the run has read a batch and waits: it is going
    ...cancel it, read while it waits...
    gate.open()                         # or let the cancel end it

Armed through the environment, the gate holds every run of the processes that see the
variable (threads of a service, a ``sluice serve`` or ``sluice run`` subprocess, Celery
workers) at every batch, until opened; once open, runs go through.
"""

from __future__ import annotations

import time
from pathlib import Path

from sluice.engine.gate import GATE_ENV, OPEN, REACHED


class Gate:
    """A closed gate in ``folder`` (created); arm it by putting :attr:`env` in the
    environment of the process that runs the load."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    @property
    def env(self) -> tuple[str, str]:
        """The variable and value that arm the gate."""
        return GATE_ENV, str(self.folder)

    @property
    def reached(self) -> bool:
        """Whether a run has reached the gate (since :meth:`reset`)."""
        return (self.folder / REACHED).exists()

    def wait_reached(self, timeout: float = 60.0) -> None:
        """Return once a run waits at the gate; AssertionError after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while not self.reached:
            if time.monotonic() > deadline:
                raise AssertionError(f"no run reached the gate in {self.folder} in {timeout} s")
            time.sleep(0.02)

    def open(self) -> None:
        """Let every waiting and later run through."""
        (self.folder / OPEN).touch()

    def reset(self) -> None:
        """Close the gate again and forget that a run reached it."""
        for name in (OPEN, REACHED):
            (self.folder / name).unlink(missing_ok=True)
