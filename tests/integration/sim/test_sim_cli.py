"""``sluice sim`` as a process: it prints its URL, serves until terminated, checks flags."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import httpx
import typer
from typer.testing import CliRunner

from sluice.cli import sim
from sluice.testing import free_port, processes

COMMAND = [sys.executable, "-m", "sluice.cli.sim"]


def test_sim_animals_serves_until_terminated() -> None:
    port = free_port()
    args = [
        "animals",
        "--port",
        str(port),
        "--seed",
        "1",
        "--n",
        "30",
        "--error-rate",
        "0",
        "--pause-rate",
        "0",
        "--rate-limit",
        "50",
        "--time-scale",
        "0.01",
    ]
    proc = processes.Popen(
        [*COMMAND, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert re.fullmatch(
            rf"animals simulator on http://127\.0\.0\.1:{port} \(Ctrl-C to stop\)\n", line
        ), line
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                answer = httpx.get(f"{url}/animals/v1/animals", params={"page": 3})
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the simulator never answered"
                time.sleep(0.05)
        assert answer.status_code == 200
        assert answer.json()["total_pages"] == 3
        assert httpx.get(f"{url}/_sim/stats").json()["total_requests"] == 1
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 0, stderr
    assert "stopped" in stderr


def test_sim_refuses_a_flag_of_the_other_simulator() -> None:
    app = typer.Typer()
    app.command()(sim.sim)
    done = CliRunner().invoke(app, ["randomuser", "--n", "5"])
    assert done.exit_code == 2
    assert "--n does not apply to the randomuser simulator" in done.stderr
    done = CliRunner().invoke(app, ["animals", "--error-rate", "2"])
    assert done.exit_code == 2
    assert "error_rate must be between 0 and 1" in done.stderr
