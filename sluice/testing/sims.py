"""The shipped API simulators (:mod:`sluice.sim`), served for a test."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sluice.extras import require

if TYPE_CHECKING:  # FastAPI and uvicorn (the serve extra) are imported by a simulator made
    from sluice.sim import SimServer


def simulator(name: str, **knobs: Any) -> SimServer:
    """The ``name`` simulator (``animals``, ``randomuser``, ``events``) with ``knobs``
    (as ``sluice sim`` takes them), bound to a free port of 127.0.0.1.

        with simulator("animals", error_rate=0.0, pause_rate=0.0) as api:
            monkeypatch.setenv("ANIMALS_API", api.url)

    The port is bound when it is made, so :attr:`~sluice.sim.SimServer.url` is known
    before it starts; ``start()`` / ``stop()`` or ``with``.
    """
    require("fastapi", "serve", "sluice.testing.simulator")
    require("uvicorn", "serve", "sluice.testing.simulator")
    from sluice.sim import SimServer, build_app

    return SimServer(build_app(name, **knobs))
