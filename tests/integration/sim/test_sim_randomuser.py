"""The randomuser simulator: the real API's shape, stable users, honest hashes, a cap."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

import httpx

from sluice.sim import RandomUserConfig

Serve = Callable[..., httpx.Client]

SHAPE: dict[str, Any] = {
    "gender": str,
    "name": {"title": str, "first": str, "last": str},
    "location": {
        "street": {"number": int, "name": str},
        "city": str,
        "state": str,
        "country": str,
        "postcode": (int, str),
        "coordinates": {"latitude": str, "longitude": str},
        "timezone": {"offset": str, "description": str},
    },
    "email": str,
    "login": {k: str for k in ("uuid", "username", "password", "salt", "md5", "sha1", "sha256")},
    "dob": {"date": str, "age": int},
    "registered": {"date": str, "age": int},
    "phone": str,
    "cell": str,
    "id": {"name": str, "value": (str, type(None))},
    "picture": {"large": str, "medium": str, "thumbnail": str},
    "nat": str,
}


def check_shape(value: Any, shape: Any, where: str = "user") -> None:
    if isinstance(shape, dict):
        assert isinstance(value, dict) and set(value) == set(shape), where
        for key, sub in shape.items():
            check_shape(value[key], sub, f"{where}.{key}")
    else:
        assert isinstance(value, shape), f"{where}: {value!r}"


def users(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    answer = client.get("/api/", params=params)
    assert answer.status_code == 200
    return list(answer.json()["results"])


def test_results_have_the_nested_randomuser_shape(serve: Serve) -> None:
    answer = serve("randomuser").get("/api/", params={"results": 50, "seed": "abc", "page": 2})
    body = answer.json()
    assert body["info"] == {"seed": "abc", "results": 50, "page": 2, "version": "1.4"}
    assert len(body["results"]) == 50
    for user in body["results"]:
        check_shape(user, SHAPE)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", user["dob"]["date"])
        assert user["gender"] in ("male", "female")
        assert "@" in user["email"]


def test_hashes_are_the_real_hashes_of_password_and_salt(serve: Serve) -> None:
    for user in users(serve("randomuser"), results=200, seed="hash"):
        login = user["login"]
        salted = (login["password"] + login["salt"]).encode()
        assert login["md5"] == hashlib.md5(salted).hexdigest()
        assert login["sha1"] == hashlib.sha1(salted).hexdigest()
        assert login["sha256"] == hashlib.sha256(salted).hexdigest()


def test_rough_edges_postcodes_of_both_types_and_null_ids(serve: Serve) -> None:
    found = users(serve("randomuser"), results=300, seed="edges")
    postcodes = [u["location"]["postcode"] for u in found]
    assert any(isinstance(p, int) for p in postcodes)
    assert any(isinstance(p, str) and " " in p for p in postcodes)  # like "EC1A 1BB"
    assert any(u["id"]["value"] is None for u in found)
    assert any(u["id"]["value"] is not None for u in found)
    assert len({u["nat"] for u in found}) > 10


def test_same_request_same_users_and_uuids_unique_across_pages(serve: Serve) -> None:
    a, b = serve("randomuser", seed=1), serve("randomuser", seed=2)
    assert users(a, results=20, seed="x", page=3) == users(b, results=20, seed="x", page=3)
    assert users(a, results=20, seed="x", page=3) != users(a, results=20, seed="y", page=3)
    pages = [users(a, results=200, seed="x", page=p) for p in range(1, 6)]
    uuids = [u["login"]["uuid"] for page in pages for u in page]
    assert len(set(uuids)) == len(uuids) == 1000
    assert a.get("/_sim/stats").json()["users_served"] == 1060


def test_results_are_clamped_to_max_results(serve: Serve) -> None:
    assert RandomUserConfig().max_results == 5000
    client = serve("randomuser", max_results=100)
    body = client.get("/api/", params={"results": 500, "seed": "cap"}).json()
    assert len(body["results"]) == body["info"]["results"] == 100
    body = client.get("/api/", params={"results": 0, "page": 0}).json()
    assert (len(body["results"]), body["info"]["page"]) == (1, 1)


def test_without_a_seed_each_call_gets_a_fresh_one(serve: Serve) -> None:
    client = serve("randomuser", seed=4)
    seeds = [client.get("/api").json()["info"]["seed"] for _ in range(3)]
    assert len(set(seeds)) == 3
    assert all(re.fullmatch(r"[0-9a-f]{16}", s) for s in seeds)
    assert [serve("randomuser", seed=4).get("/api/").json()["info"]["seed"]] == seeds[:1]
