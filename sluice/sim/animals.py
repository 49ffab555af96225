"""The flaky "animals" API: paged summaries, detail calls, and a home for delivered batches.

    GET  /animals/v1/animals?page=N   {"page", "total_pages", "items": [{"id", "name", "born_at"}]}
    GET  /animals/v1/animals/{id}     {"id", "name", "born_at", "friends"}  (404 if unknown)
    POST /animals/v1/home             a JSON array of at most 100 transformed animals
    GET  /_sim/stats, /_sim/received; POST /_sim/reset

Animal ``i`` is a pure function of ``(seed, i)``: ``born_at`` is epoch milliseconds (or
null for about 5%), ``friends`` a comma-separated string of 0 to 5 names ("" for none).
A delivered animal must carry ``friends`` as a list of strings and ``born_at`` as an ISO
8601 UTC string (``...Z`` or ``...+00:00``) or null; every id received is counted, so
the stats show duplicates, and a record that differs from the source is listed in
``mismatched_ids`` (born_at compared to the millisecond).

Like the original, it is flaky by default: 10% of calls fail with 500/502/503/504 and 5%
pause for 5 to 15 seconds (see :mod:`sluice.sim.knobs`; the POST is subject to it too).

``page_drift``: the list is the animals inserted while serving (newest first, ids
``n_animals + 1`` upwards) followed by ids 1..n_animals. Each list call, with
probability 1/2 (drawn from the seed and the call's ordinal), first inserts a new animal
at the front, so every item moves one place down: a client that pages by number sees an
item twice at page boundaries and misses the newest ones. Inserted animals have detail
pages like any other.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from sluice.errors import ConfigError
from sluice.sim.knobs import Chaos, Knobs, install_chaos, rng

MAX_BATCH = 100
BORN_FROM_MS = 1_104_537_600_000  # 2005-01-01T00:00:00Z
BORN_TO_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z
# fmt: off
NAMES = (
    "Abby", "Ace", "Apollo", "Archie", "Bailey", "Bandit", "Baxter", "Bean", "Bear", "Bella",
    "Biscuit", "Blue", "Bo", "Boomer", "Bruno", "Buddy", "Buster", "Chester", "Chloe", "Cleo",
    "Coco", "Cooper", "Daisy", "Dexter", "Diesel", "Duke", "Ellie", "Felix", "Finn", "Gizmo",
    "Gracie", "Gus", "Hazel", "Henry", "Honey", "Jack", "Jasper", "Juno", "Kiki", "Koda", "Leo",
    "Lily", "Loki", "Lola", "Louie", "Lucy", "Luna", "Mabel", "Maggie", "Max", "Milo", "Mimi",
    "Minnie", "Mochi", "Molly", "Murphy", "Nala", "Nova", "Oliver", "Olive", "Oreo", "Ozzy",
    "Peanut", "Pepper", "Piper", "Pixel", "Poppy", "Rex", "Rocky", "Rosie", "Ruby", "Rusty",
    "Sadie", "Sam", "Scout", "Shadow", "Simba", "Sophie", "Stella", "Teddy", "Tigger", "Toby",
    "Tucker", "Waffles", "Winnie", "Zeus", "Ziggy", "Zoe"
)
# fmt: on
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|\+00:00)$")
FIELDS = ("id", "name", "friends", "born_at")


@dataclass(frozen=True, kw_only=True)
class AnimalsConfig(Knobs):
    """Knobs of the animals simulator (flaky by default, like the original API)."""

    error_rate: float = 0.1
    pause_rate: float = 0.05
    n_animals: int = 1000
    page_size: int = 10
    page_drift: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_animals < 0:
            raise ConfigError(f"n_animals must not be negative, got {self.n_animals}")
        if self.page_size < 1:
            raise ConfigError(f"page_size must be at least 1, got {self.page_size}")


def animal(seed: int, animal_id: int) -> dict[str, Any]:
    """The detail record of animal ``animal_id`` (a pure function of seed and id)."""
    r = rng(seed, "animal", animal_id)
    name = r.choice(NAMES)
    born_ms = r.randrange(BORN_FROM_MS, BORN_TO_MS)
    born_at = None if r.random() < 0.05 else born_ms
    friends = ",".join(r.sample(NAMES, r.randint(0, 5)))
    return {"id": animal_id, "name": name, "born_at": born_at, "friends": friends}


def _is_utc_iso(value: str) -> bool:
    if not ISO_UTC.match(value):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def problem(record: Any) -> str | None:
    """Why ``record`` is not a valid delivered animal, or None if it is."""
    if not isinstance(record, dict):
        return f"must be a JSON object, got {type(record).__name__}"
    missing = [f for f in FIELDS if f not in record]
    if missing:
        return f"missing field(s) {', '.join(missing)}"
    extra = sorted(set(record) - set(FIELDS))
    if extra:
        return f"unexpected field(s) {', '.join(extra)}; expected only {', '.join(FIELDS)}"
    id_, name, friends, born_at = (record[f] for f in FIELDS)
    if not isinstance(id_, int) or isinstance(id_, bool):
        return f"field 'id' must be an integer, got {id_!r}"
    if not isinstance(name, str):
        return f"field 'name' must be a string, got {name!r}"
    if not isinstance(friends, list) or not all(isinstance(f, str) for f in friends):
        return f"field 'friends' must be a list of strings, got {friends!r}"
    if born_at is not None and not (isinstance(born_at, str) and _is_utc_iso(born_at)):
        return (
            "field 'born_at' must be an ISO 8601 UTC string "
            f"(like 2016-05-01T12:00:00Z) or null, got {born_at!r}"
        )
    return None


def _epoch_ms(iso: str | None) -> int | None:
    if iso is None:
        return None
    return round(datetime.fromisoformat(iso).timestamp() * 1000)


class Animals:
    """The state of one animals app: drift offset and received deliveries."""

    def __init__(self, config: AnimalsConfig) -> None:
        self.config = config
        self.lock = threading.Lock()
        self.inserted = 0
        self.list_calls = 0
        self.received: list[dict[str, Any]] = []
        self.counts: Counter[int] = Counter()
        self.mismatched: set[int] = set()
        self.batches = 0

    def reset(self) -> None:
        with self.lock:
            self.inserted = self.list_calls = self.batches = 0
            self.received, self.counts, self.mismatched = [], Counter(), set()

    def total(self) -> int:
        return self.config.n_animals + self.inserted

    def page(self, page: int) -> dict[str, Any]:
        cfg = self.config
        with self.lock:
            if cfg.page_drift:
                if rng(cfg.seed, "drift", self.list_calls).random() < 0.5:
                    self.inserted += 1
                self.list_calls += 1
            inserted, total = self.inserted, self.total()
        first = (page - 1) * cfg.page_size
        items = []
        for pos in range(first, min(first + cfg.page_size, total)):
            # Inserted animals come first, newest first; then 1..n_animals.
            animal_id = cfg.n_animals + inserted - pos if pos < inserted else pos - inserted + 1
            full = animal(cfg.seed, animal_id)
            items.append({k: full[k] for k in ("id", "name", "born_at")})
        return {"page": page, "total_pages": math.ceil(total / cfg.page_size), "items": items}

    def matches(self, record: dict[str, Any]) -> bool:
        if not 1 <= record["id"] <= self.total():
            return False
        truth = animal(self.config.seed, record["id"])
        friends = truth["friends"].split(",") if truth["friends"] else []
        return (
            record["name"] == truth["name"]
            and record["friends"] == friends
            and _epoch_ms(record["born_at"]) == truth["born_at"]
        )

    def accept(self, records: list[dict[str, Any]]) -> None:
        wrong = [r["id"] for r in records if not self.matches(r)]
        with self.lock:
            self.batches += 1
            self.received.extend(records)
            self.counts.update(r["id"] for r in records)
            self.mismatched.update(wrong)

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "batches_received": self.batches,
                "received_ids_count": sum(self.counts.values()),
                "unique_ids": len(self.counts),
                "duplicate_ids": sorted(i for i, n in self.counts.items() if n > 1),
                "mismatched_ids": sorted(self.mismatched),
                "drift_inserted": self.inserted,
            }


def _bad_request(detail: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"detail": detail, **extra}, status_code=400)


def create_app(config: AnimalsConfig | None = None) -> FastAPI:
    """A new animals simulator (its own state and stats) for ``config``."""
    cfg = config or AnimalsConfig()
    state = Animals(cfg)
    chaos = Chaos(cfg)
    app = FastAPI(title="animals simulator", version="1.0")
    app.state.sim = state
    install_chaos(app, chaos, extra_stats=state.stats, on_reset=state.reset)

    @app.get("/animals/v1/animals")
    def list_animals(page: int = 1) -> JSONResponse:
        """One page of animal summaries; a page past the end has no items."""
        if page < 1:
            return _bad_request(f"page must be 1 or more, got {page}")
        return JSONResponse(state.page(page))

    @app.get("/animals/v1/animals/{animal_id}")
    def get_animal(animal_id: int) -> JSONResponse:
        """The detail of one animal, with its friends as a comma-separated string."""
        if not 1 <= animal_id <= state.total():
            return JSONResponse({"detail": f"animal {animal_id} not found"}, status_code=404)
        return JSONResponse(animal(cfg.seed, animal_id))

    @app.post("/animals/v1/home")
    async def home(request: Request) -> JSONResponse:
        """Accept a batch of at most 100 transformed animals."""
        try:
            body = await request.json()
        except ValueError:
            return _bad_request("the body is not valid JSON")
        if not isinstance(body, list):
            return _bad_request(f"the body must be a JSON array, got {type(body).__name__}")
        if len(body) > MAX_BATCH:
            return _bad_request(f"at most {MAX_BATCH} animals per call, got {len(body)}")
        for index, record in enumerate(body):
            why = problem(record)
            if why is not None:
                rid = record.get("id") if isinstance(record, dict) else None
                return _bad_request(f"record {index} (id {rid!r}): {why}", index=index, id=rid)
        state.accept(body)
        return JSONResponse({"message": f"Helped {len(body)} animals find home"})

    @app.get("/_sim/received", tags=["_sim"])
    def received() -> JSONResponse:
        """Every record delivered so far, in the order received (duplicates included)."""
        with state.lock:
            return JSONResponse(list(state.received))

    return app


__all__ = ["AnimalsConfig", "animal", "create_app"]
