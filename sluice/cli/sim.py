"""``sluice sim``: serve one of the shipped API simulators in the foreground."""

from __future__ import annotations

import signal
from enum import StrEnum
from types import FrameType
from typing import Annotated, Any

import typer

from sluice.cli.errors import handle_errors
from sluice.errors import UsageError
from sluice.extras import require

FLAGS = {"n_animals": "--n", "n_events": "--n", "version": "--archive-version"}  # not --knob-name


class Simulator(StrEnum):
    animals = "animals"
    randomuser = "randomuser"
    events = "events"


def _flag(knob: str) -> str:
    return FLAGS.get(knob, "--" + knob.replace("_", "-"))


def _sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@handle_errors
def sim(
    name: Annotated[Simulator, typer.Argument(help="which simulator to serve")],
    port: Annotated[int, typer.Option(help="port on --host; 0 picks a free one")] = 0,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    seed: Annotated[int, typer.Option(help="same seed, same data and same failures")] = 0,
    latency: Annotated[float, typer.Option(help="mean extra seconds per call")] = 0.0,
    error_rate: Annotated[
        float | None,
        typer.Option(
            help="share of calls answered 500/502/503/504 (default: animals 0.1, others 0)"
        ),
    ] = None,
    pause_rate: Annotated[
        float | None,
        typer.Option(help="share of calls that pause first (default: animals 0.05, others 0)"),
    ] = None,
    pause_min: Annotated[float, typer.Option(help="shortest pause, seconds")] = 5.0,
    pause_max: Annotated[float, typer.Option(help="longest pause, seconds")] = 15.0,
    time_scale: Annotated[
        float, typer.Option(help="multiplies every sleep (0.01: pauses of 50-150 ms)")
    ] = 1.0,
    rate_limit: Annotated[
        float | None,
        typer.Option(help="calls per second (sliding 1 s window); over it: 429 + Retry-After"),
    ] = None,
    broken_json_rate: Annotated[
        float, typer.Option(help="share of GET calls answered 200 with truncated JSON")
    ] = 0.0,
    n_animals: Annotated[
        int | None,
        typer.Option("--n", help="animals, events: how many (default: 1000 animals, 2000 events)"),
    ] = None,
    page_size: Annotated[
        int | None, typer.Option(help="animals: items per page (default: 10)")
    ] = None,
    page_drift: Annotated[
        bool, typer.Option("--page-drift", help="animals: insert animals at the front while paging")
    ] = False,
    max_results: Annotated[
        int | None, typer.Option(help="randomuser: cap on ?results= (default: 5000; 0: no cap)")
    ] = None,
    dirty_rate: Annotated[
        float | None,
        typer.Option(help="events: share of rows with a bad date, zone or damage (default: 0.01)"),
    ] = None,
    archive_version: Annotated[
        int | None,
        typer.Option(help="events: the latest archive version at start (default: 1)"),
    ] = None,
    access_log: Annotated[
        bool, typer.Option("--access-log", help="log every call to stderr")
    ] = False,
) -> None:
    """Serve an API simulator until Ctrl-C; its stats are at /_sim/stats.

    Needs the serve extra: pip install 'sluice-etl\\[serve]'.

    sluice sim animals --port 8001 --seed 1 --error-rate 0.2 --time-scale 0.01
    """
    knobs: dict[str, Any] = {
        "seed": seed,
        "latency": latency,
        "error_rate": error_rate,
        "pause_rate": pause_rate,
        "pause_min": pause_min,
        "pause_max": pause_max,
        "time_scale": time_scale,
        "rate_limit": rate_limit,
        "broken_json_rate": broken_json_rate,
        "n_animals": n_animals,
        "page_size": page_size,
        "page_drift": page_drift or None,
        "max_results": max_results,
        "dirty_rate": dirty_rate,
        "version": archive_version,
    }
    if name == Simulator.events:
        knobs["n_events"] = knobs.pop("n_animals")
    # Imported here: FastAPI and uvicorn (the serve extra) are not needed by any other command.
    require("fastapi", "serve", "sluice sim")
    require("uvicorn", "serve", "sluice sim")
    from sluice.sim import SimServer, build_app, knob_names

    knobs = {k: v for k, v in knobs.items() if v is not None}
    if max_results == 0:
        knobs["max_results"] = None
    for knob in knobs:
        if knob not in knob_names(name.value):
            raise UsageError(f"{_flag(knob)} does not apply to the {name} simulator")
    app = build_app(name.value, **knobs)
    log_level = "info" if access_log else "warning"
    server = SimServer(app, host=host, port=port, log_level=log_level, access_log=access_log)
    typer.echo(f"{name} simulator on {server.url} (Ctrl-C to stop)")
    previous = signal.signal(signal.SIGTERM, _sigterm)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    typer.echo(f"{name} simulator stopped", err=True)


if __name__ == "__main__":
    typer.run(sim)
