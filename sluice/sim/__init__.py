"""The shipped API simulators, so that demos and tests run offline.

Each is a FastAPI app made by ``create_app(config)``, deterministic from ``config.seed``,
with the chaos knobs of :mod:`sluice.sim.knobs` and its stats at ``GET /_sim/stats``:

    from sluice.sim import SimServer, build_app

    with SimServer(build_app("animals", seed=1, time_scale=0.001)) as server:
        print(server.url)

- ``animals``: the flaky paged animals API (:mod:`sluice.sim.animals`)
- ``randomuser``: a randomuser.me-compatible API (:mod:`sluice.sim.randomuser`)
- ``events``: NOAA-style storm events as a zip of CSV (:mod:`sluice.sim.events`)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from sluice.errors import ConfigError
from sluice.sim import animals, events, randomuser
from sluice.sim.animals import AnimalsConfig
from sluice.sim.events import EventsConfig
from sluice.sim.knobs import Knobs
from sluice.sim.randomuser import RandomUserConfig
from sluice.sim.server import SimServer

SIMULATORS: dict[str, tuple[type[Knobs], Callable[[Any], FastAPI]]] = {
    "animals": (AnimalsConfig, animals.create_app),
    "randomuser": (RandomUserConfig, randomuser.create_app),
    "events": (EventsConfig, events.create_app),
}


def knob_names(name: str) -> list[str]:
    """The knobs simulator ``name`` accepts."""
    return [f.name for f in dataclasses.fields(_lookup(name)[0])]


def _lookup(name: str) -> tuple[type[Knobs], Callable[[Any], FastAPI]]:
    if name not in SIMULATORS:
        raise ConfigError(
            f"no simulator named {name!r}", hint=f"one of: {', '.join(sorted(SIMULATORS))}"
        )
    return SIMULATORS[name]


def build_app(name: str, **knobs: Any) -> FastAPI:
    """The app of simulator ``name`` with these knobs (the rest keep their defaults)."""
    config_type, create_app = _lookup(name)
    unknown = sorted(set(knobs) - set(knob_names(name)))
    if unknown:
        raise ConfigError(
            f"the {name} simulator has no knob {', '.join(unknown)}",
            hint=f"its knobs: {', '.join(knob_names(name))}",
        )
    return create_app(config_type(**knobs))


__all__ = [
    "SIMULATORS",
    "AnimalsConfig",
    "EventsConfig",
    "Knobs",
    "RandomUserConfig",
    "SimServer",
    "build_app",
    "knob_names",
]
