"""The animals simulator over real HTTP: pages, details, deliveries and its audit stats."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from sluice.sim import AnimalsConfig

Calm = Callable[..., httpx.Client]
LIST, HOME = "/animals/v1/animals", "/animals/v1/home"


def deliverable(detail: dict[str, Any], *, offset: str = "Z") -> dict[str, Any]:
    """What a correct pipeline sends for a detail record."""
    born = detail["born_at"]
    iso = None
    if born is not None:
        at = datetime.fromtimestamp(born / 1000, UTC)
        iso = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{born % 1000:03d}{offset}"
    friends = detail["friends"].split(",") if detail["friends"] else []
    return {"id": detail["id"], "name": detail["name"], "friends": friends, "born_at": iso}


def details(client: httpx.Client, ids: range) -> list[dict[str, Any]]:
    return [client.get(f"{LIST}/{i}").json() for i in ids]


def test_pages_have_items_and_total_pages(calm: Calm) -> None:
    client = calm(n_animals=25, page_size=10)
    pages = [client.get(LIST, params={"page": p}).json() for p in (1, 2, 3, 4)]
    assert [p["page"] for p in pages] == [1, 2, 3, 4]
    assert {p["total_pages"] for p in pages} == {3}
    assert [len(p["items"]) for p in pages] == [10, 10, 5, 0]
    ids = [item["id"] for p in pages for item in p["items"]]
    assert ids == list(range(1, 26))
    assert all(set(item) == {"id", "name", "born_at"} for p in pages for item in p["items"])
    assert client.get(LIST).json()["page"] == 1
    assert client.get(LIST, params={"page": 0}).status_code == 400


def test_details_match_the_list_and_have_rough_edges(calm: Calm) -> None:
    client = calm(n_animals=200, page_size=50)
    summaries = [
        i for p in (1, 2, 3, 4) for i in client.get(LIST, params={"page": p}).json()["items"]
    ]
    full = details(client, range(1, 201))
    assert [{k: d[k] for k in ("id", "name", "born_at")} for d in full] == summaries
    assert all(set(d) == {"id", "name", "born_at", "friends"} for d in full)
    assert all(isinstance(d["friends"], str) and d["friends"].count(",") < 5 for d in full)
    assert any(d["friends"] == "" for d in full)
    assert any(d["friends"].count(",") == 4 for d in full)
    born = [d["born_at"] for d in full]
    assert 1 <= born.count(None) <= 25  # about 5%
    assert all(isinstance(b, int) and b > 10**12 for b in born if b is not None)
    missing = client.get(f"{LIST}/201")
    assert missing.status_code == 404
    assert "201" in missing.json()["detail"]
    assert client.get(f"{LIST}/0").status_code == 404


def test_same_seed_same_animals_on_two_servers(calm: Calm) -> None:
    a, b, other = calm(seed=7), calm(seed=7), calm(seed=8)
    assert details(a, range(1, 30)) == details(b, range(1, 30))
    assert details(a, range(1, 30)) != details(other, range(1, 30))
    page = {"page": 5}
    assert a.get(LIST, params=page).json() == b.get(LIST, params=page).json()


def test_home_refuses_bad_batches_and_says_where(calm: Calm) -> None:
    client = calm(n_animals=200)
    good = [deliverable(d) for d in details(client, range(1, 4))]

    too_many = client.post(HOME, json=[good[0]] * 101)
    assert too_many.status_code == 400
    assert "100" in too_many.json()["detail"]

    def refused(record: dict[str, Any], words: tuple[str, ...]) -> None:
        answer = client.post(HOME, json=[good[0], record])
        assert answer.status_code == 400, record
        detail = answer.json()["detail"]
        assert "record 1" in detail and all(w in detail for w in words), detail
        assert answer.json()["index"] == 1

    refused({**good[1], "friends": "Bo,Rex"}, ("friends", "list"))
    refused({**good[1], "born_at": 1462104000000}, ("born_at", "1462104000000"))
    refused({**good[1], "born_at": "2016-05-01T12:00:00"}, ("born_at",))  # no zone
    refused({**good[1], "born_at": "2016-05-01T12:00:00+02:00"}, ("born_at",))  # not UTC
    refused({**good[1], "id": "2"}, ("'id'", "integer"))
    refused({k: v for k, v in good[1].items() if k != "name"}, ("missing", "name"))
    refused({**good[1], "colour": "brown"}, ("unexpected", "colour"))
    refused({**good[1], "friends": ["Bo", 3]}, ("friends",))
    assert client.post(HOME, content=b"{not json").status_code == 400
    assert client.post(HOME, json={"id": 1}).status_code == 400
    assert client.get("/_sim/stats").json()["received_ids_count"] == 0


def test_home_records_every_id_and_spots_duplicates_and_mismatches(calm: Calm) -> None:
    client = calm(n_animals=200)
    full = details(client, range(1, 11))
    first = [deliverable(d) for d in full[:6]]
    answer = client.post(HOME, json=first)
    assert answer.status_code == 200
    assert answer.json() == {"message": "Helped 6 animals find home"}
    stats = client.get("/_sim/stats").json()
    assert (stats["received_ids_count"], stats["unique_ids"]) == (6, 6)
    assert stats["duplicate_ids"] == stats["mismatched_ids"] == []

    # +00:00 is UTC too; ids 5 and 6 arrive a second time; id 10 has a wrong name.
    second = [deliverable(d, offset="+00:00") for d in full[4:9]]
    second.append({**deliverable(full[9]), "name": "Not" + full[9]["name"]})
    assert client.post(HOME, json=second).status_code == 200
    stats = client.get("/_sim/stats").json()
    assert stats["received_ids_count"] == 12
    assert stats["unique_ids"] == 10
    assert stats["duplicate_ids"] == [5, 6]
    assert stats["mismatched_ids"] == [10]
    assert stats["batches_received"] == 2
    received = client.get("/_sim/received").json()
    assert [r["id"] for r in received] == [1, 2, 3, 4, 5, 6, 5, 6, 7, 8, 9, 10]
    assert received[0] == first[0]

    assert client.post("/_sim/reset").status_code == 200
    stats = client.get("/_sim/stats").json()
    assert stats["received_ids_count"] == stats["total_requests"] == 0
    assert client.get("/_sim/received").json() == []


def test_default_knobs_are_flaky_like_the_original() -> None:
    config = AnimalsConfig()
    assert (config.error_rate, config.pause_rate) == (0.1, 0.05)
    assert (config.pause_min, config.pause_max, config.time_scale) == (5.0, 15.0, 1.0)
    assert (config.n_animals, config.page_size, config.seed) == (1000, 10, 0)


def test_default_chaos_fails_about_a_tenth_of_calls(serve: Callable[..., httpx.Client]) -> None:
    client = serve("animals", seed=3, time_scale=0.0)
    statuses = [client.get(f"{LIST}/{i}").status_code for i in range(1, 201)]
    failed = [s for s in statuses if s != 200]
    assert 8 <= len(failed) <= 35
    assert set(failed) <= {500, 502, 503, 504}
    stats = client.get("/_sim/stats").json()
    assert 3 <= stats["pauses_injected"] <= 20
    assert stats["errors_injected"] == len(failed)


def test_page_drift_shifts_items_between_page_fetches(calm: Calm) -> None:
    client = calm(n_animals=40, page_size=10, page_drift=True, seed=2)
    pages = [client.get(LIST, params={"page": p}).json() for p in range(1, 6)]
    ids = [item["id"] for p in pages for item in p["items"]]
    inserted = client.get("/_sim/stats").json()["drift_inserted"]
    assert inserted >= 1
    assert len(ids) > len(set(ids))  # a naive pager sees an item twice
    assert max(ids) > 40  # new animals come first, with new ids
    assert client.get(f"{LIST}/{40 + inserted}").status_code == 200
    assert pages[-1]["total_pages"] == -(-(40 + inserted) // 10)
    again = calm(n_animals=40, page_size=10, page_drift=True, seed=2)
    assert [again.get(LIST, params={"page": p}).json() for p in range(1, 6)] == pages
