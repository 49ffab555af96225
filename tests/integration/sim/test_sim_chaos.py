"""The shared chaos knobs: errors, pauses, rate limits and broken JSON, over real HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from sluice.errors import ConfigError
from sluice.sim import build_app, knob_names
from sluice.sim.knobs import Chaos, Knobs

Serve = Callable[..., httpx.Client]
LIST, HOME = "/animals/v1/animals", "/animals/v1/home"
GOOD = [{"id": 1, "name": "Bo", "friends": [], "born_at": None}]


def test_errors_are_the_four_5xx_and_a_failed_post_records_nothing(serve: Serve) -> None:
    client = serve("animals", error_rate=1.0, pause_rate=0.0)
    statuses = [client.get(f"{LIST}/{i}").status_code for i in range(1, 61)]
    assert set(statuses) == {500, 502, 503, 504}
    failed = client.get(f"{LIST}/1")
    assert "simulated" in failed.json()["detail"]
    assert all(client.post(HOME, json=GOOD).status_code >= 500 for _ in range(5))
    stats = client.get("/_sim/stats").json()
    assert stats["received_ids_count"] == stats["batches_received"] == 0
    assert stats["errors_injected"] == stats["total_requests"] == 66
    assert sum(stats["by_status"].values()) == 66


def test_failures_follow_the_seed_not_the_clock(serve: Serve) -> None:
    def statuses(client: httpx.Client) -> list[int]:
        # Each URL three times: a retried call gets its own (deterministic) fate.
        return [client.get(f"{LIST}/{i}").status_code for i in range(1, 31) for _ in range(3)]

    knobs = {"error_rate": 0.3, "pause_rate": 0.0, "latency": 1.0, "time_scale": 0.001}
    first = statuses(serve("animals", seed=5, **knobs))
    assert statuses(serve("animals", seed=5, **knobs)) == first
    assert statuses(serve("animals", seed=6, **knobs)) != first
    assert 200 in first and {500, 502, 503, 504} & set(first)
    # Reset replays the same fates.
    client = serve("animals", seed=5, **knobs)
    statuses(client)
    client.post("/_sim/reset")
    assert statuses(client) == first


def test_paused_calls_sleep_scaled_and_do_not_block_others(serve: Serve) -> None:
    client = serve(
        "animals", error_rate=0.0, pause_rate=1.0, pause_min=10, pause_max=10, time_scale=0.02
    )
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda i: client.get(f"{LIST}/{i}"), range(1, 9)))
    took = time.monotonic() - started
    assert all(a.status_code == 200 for a in answers)
    assert all(a.elapsed.total_seconds() >= 0.19 for a in answers)
    assert took < 0.2 * 8  # concurrent: one after the other would take 1.6 s at least
    stats = client.get("/_sim/stats").json()  # /_sim/ routes are never paused:
    assert stats["pauses_injected"] == 8  # had this call been paused, it would say 9


def test_sim_routes_are_exempt_from_chaos_and_not_counted(serve: Serve) -> None:
    client = serve("animals", error_rate=1.0, broken_json_rate=1.0, rate_limit=1)
    for _ in range(5):
        assert client.get("/_sim/stats").status_code == 200
        assert client.get("/_sim/received").json() == []
    assert client.post("/_sim/reset").status_code == 200
    assert client.get("/_sim/stats").json()["total_requests"] == 0


def test_rate_limit_answers_429_with_retry_after(serve: Serve) -> None:
    client = serve("randomuser", rate_limit=5)
    answers = [client.get("/api/", params={"seed": "s", "page": i}) for i in range(12)]
    assert [a.status_code for a in answers] == [200] * 5 + [429] * 7
    retry_after = {a.headers["retry-after"] for a in answers[5:]}
    assert retry_after == {"1"}
    stats = client.get("/_sim/stats").json()
    assert stats["rate_limited"] == stats["by_status"]["429"] == 7
    assert stats["max_per_second"] == 12  # every call arrived within one second
    assert stats["max_accepted_per_second"] == 5
    time.sleep(int(answers[-1].headers["retry-after"]))
    assert client.get("/api/").status_code == 200


def test_rate_limit_window_slides_on_the_clock() -> None:
    now = [100.0]
    chaos = Chaos(Knobs(rate_limit=2), clock=lambda: now[0])
    assert chaos.admit("GET", "/a").status is None
    now[0] = 100.5
    assert chaos.admit("GET", "/a").status is None
    refused = chaos.admit("GET", "/a")
    assert (refused.status, refused.retry_after) == (429, 1)
    now[0] = 101.01  # the first call left the window
    assert chaos.admit("GET", "/a").status is None
    assert chaos.admit("GET", "/a").status == 429
    stats = chaos.stats()
    assert (stats["max_per_second"], stats["max_accepted_per_second"]) == (4, 2)
    assert stats["rate_limited"] == 2


def test_one_knob_does_not_shift_another_knobs_fates() -> None:
    def pauses(error_rate: float) -> list[bool]:
        chaos = Chaos(Knobs(seed=1, pause_rate=0.3, error_rate=error_rate))
        return [chaos.admit("GET", f"/x/{i}").delay > 0 for i in range(100)]

    assert pauses(0.0) == pauses(0.7)
    assert 10 < sum(pauses(0.0)) < 50


def test_broken_json_is_a_truncated_200(serve: Serve) -> None:
    client = serve("animals", error_rate=0.0, pause_rate=0.0, broken_json_rate=1.0)
    answer = client.get(LIST, params={"page": 1})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert int(answer.headers["content-length"]) == len(answer.content) > 10
    with pytest.raises(json.JSONDecodeError):
        json.loads(answer.content)
    assert answer.content.startswith(b'{"page":1')
    assert client.post(HOME, json=GOOD).json() == {"message": "Helped 1 animals find home"}
    assert client.get(f"{LIST}/99999").status_code == 404  # only 200s are cut
    assert client.get("/_sim/stats").json()["broken_json_injected"] == 1


def test_knobs_are_checked() -> None:
    for bad in (
        {"error_rate": 1.5},
        {"pause_min": 3, "pause_max": 1},
        {"rate_limit": 0},
        {"time_scale": -1},
        {"n_animals": -1},
        {"page_size": 0},
    ):
        with pytest.raises(ConfigError):
            build_app("animals", **bad)
    with pytest.raises(ConfigError, match="no knob max_results"):
        build_app("animals", max_results=10)
    with pytest.raises(ConfigError, match="no simulator"):
        build_app("cats")
    with pytest.raises(ConfigError):
        build_app("randomuser", max_results=0)
    common = [
        "seed",
        "latency",
        "error_rate",
        "pause_rate",
        "pause_min",
        "pause_max",
        "time_scale",
        "rate_limit",
        "broken_json_rate",
    ]
    assert knob_names("animals") == [*common, "n_animals", "page_size", "page_drift"]
    assert knob_names("randomuser") == [*common, "max_results"]
