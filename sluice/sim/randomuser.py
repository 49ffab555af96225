"""A randomuser.me-compatible API: ``GET /api/?results=N&seed=S&page=P``.

    {"results": [user, ...], "info": {"seed": S, "results": N, "page": P, "version": "1.4"}}

User ``i`` of a page is a pure function of ``(seed, page, i)``, as with the real API: the
same request always returns the same users, whatever the server's own ``seed`` knob
(which only drives the chaos and the seed given to requests without one). Each user has
the full nested shape (``name``, ``location`` with ``street``, ``coordinates`` and
``timezone``, ``login``, ``dob``, ``registered``, ``id``, ``picture``...). Realistic
rough edges: ``location.postcode`` is an int for some nationalities and a string for
others ("EC1A 1BB"), ``id.value`` is null for some, names carry accents. ``login.md5``,
``sha1`` and ``sha256`` are the real hashes of ``password + salt``; ages are computed
against a fixed date (2025-01-01) so answers never change.

``results`` is clamped to 1..``max_results`` (5000 by default, like the real API; None
for no cap); ``page`` below 1 counts as 1. Chaos knobs are off by default.
"""

from __future__ import annotations

import hashlib
import itertools
import string
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from random import Random
from typing import Any, NamedTuple

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from sluice.errors import ConfigError
from sluice.sim.knobs import Chaos, Knobs, install_chaos, rng

VERSION = "1.4"
REFERENCE = datetime(2025, 1, 1, tzinfo=UTC)  # "today" for ages: fixed, so answers are stable


class Nat(NamedTuple):
    country: str
    places: tuple[tuple[str, str], ...]  # (city, state)
    postcode: int | str  # an int: that many digits, as a JSON number; a str: a pattern
    id_name: str
    id_pattern: str | None  # None: the real API's {"name": "", "value": null}
    phone: str
    cell: str


# Patterns: "#" a digit, "L" an uppercase letter.
NATS: dict[str, Nat] = {
    "AU": Nat("Australia", (("Sydney", "New South Wales"), ("Perth", "Western Australia")),
              4, "TFN", "########", "0#-####-####", "04##-###-###"),
    "BR": Nat("Brazil", (("São Paulo", "São Paulo"), ("Fortaleza", "Ceará")),
              5, "CPF", "###.###.###-##", "(##) ####-####", "(##) #####-####"),
    "CA": Nat("Canada", (("Montréal", "Québec"), ("Calgary", "Alberta")),
              "L#L #L#", "SIN", "#########", "L##-###-####", "###-###-####"),
    "CH": Nat("Switzerland", (("Zürich", "Zürich"), ("Lausanne", "Vaud")),
              4, "AVS", "756.####.####.##", "07# ### ## ##", "07# ### ## ##"),
    "DE": Nat("Germany", (("München", "Bayern"), ("Leipzig", "Sachsen")),
              5, "SVNR", "## ###### L ###", "0###-#######", "01##-#######"),
    "DK": Nat("Denmark", (("København", "Hovedstaden"), ("Aarhus", "Midtjylland")),
              4, "CPR", "######-####", "########", "########"),
    "ES": Nat("Spain", (("Sevilla", "Andalucía"), ("Barcelona", "Cataluña")),
              5, "DNI", "########-L", "9##-###-###", "6##-###-###"),
    "FI": Nat("Finland", (("Helsinki", "Uusimaa"), ("Rovaniemi", "Lapland")),
              5, "HETU", "######A###L", "0#-###-###", "04#-###-##-##"),
    "FR": Nat("France", (("Paris", "Île-de-France"), ("Marseille", "Provence-Alpes-Côte d'Azur")),
              5, "INSEE", "1##########", "0#-##-##-##-##", "06-##-##-##-##"),
    "GB": Nat("United Kingdom", (("London", "Greater London"), ("Leeds", "West Yorkshire")),
              "LL#L #LL", "NINO", "LL ## ## ## L", "0##-####-####", "07###-######"),
    "IE": Nat("Ireland", (("Dublin", "Dublin"), ("Galway", "Galway")),
              "L## L###", "PPS", "#######L", "0#1-###-####", "08#-###-####"),
    "IN": Nat("India", (("Mumbai", "Maharashtra"), ("Kochi", "Kerala")),
              6, "UIDAI", "############", "9#########", "9#########"),
    "MX": Nat("Mexico", (("Guadalajara", "Jalisco"), ("Mérida", "Yucatán")),
              5, "NSS", "## ## ## ####", "(###) ### ####", "(6##) ### ####"),
    "NL": Nat("Netherlands", (("Amsterdam", "Noord-Holland"), ("Utrecht", "Utrecht")),
              "#### LL", "BSN", "########", "(0###) ######", "(06) ########"),
    "NO": Nat("Norway", (("Bergen", "Vestland"), ("Trondheim", "Trøndelag")),
              4, "FN", "###########", "########", "4#######"),
    "NZ": Nat("New Zealand", (("Auckland", "Auckland"), ("Dunedin", "Otago")),
              4, "", None, "(###)-###-####", "(###)-###-####"),
    "TR": Nat("Turkey", (("İstanbul", "İstanbul"), ("İzmir", "İzmir")),
              5, "", None, "(###)-###-####", "(5##)-###-####"),
    "US": Nat("United States", (("Austin", "Texas"), ("Buffalo", "New York")),
              5, "SSN", "###-##-####", "(###) ###-####", "(###) ###-####"),
}  # fmt: skip
NAT_CODES = tuple(NATS)
# fmt: off
MALE = (
    "Liam", "Noah", "Oliver", "Elias", "Lucas", "Mathis", "Jonas", "Emil", "Hugo", "Luca",
    "Mateo", "Arjun", "Kerem", "Ömer", "Aarav", "Ethan", "Jack", "Oscar", "Léo", "Théo", "Björn",
    "Sami", "Diego", "Rafael", "Javier", "Niels", "Finn", "Aiden", "Yusuf", "Tomás"
)
FEMALE = (
    "Emma", "Olivia", "Ava", "Mia", "Sofia", "Léa", "Chloé", "Hannah", "Lena", "Ida", "Freja",
    "Aino", "Lucía", "Martina", "Ananya", "Zeynep", "Elif", "Isla", "Amelia", "Grace", "Nora",
    "Saga", "Maja", "Zoë", "Inès", "Valentina", "Camila", "Priya", "Aoife", "Ruby"
)
LAST = (
    "Smith", "Jones", "Brown", "Wilson", "Taylor", "Martin", "Bernard", "Dubois", "Müller",
    "Schmidt", "Schneider", "Jensen", "Nielsen", "Hansen", "Virtanen", "Korhonen", "García",
    "Fernández", "López", "Rossi", "Ferrari", "Sánchez", "Öztürk", "Yılmaz", "Kaya", "Patel",  # noqa: RUF001
    "Sharma", "Singh", "Silva", "Santos", "Oliveira", "Hernández", "Murphy", "Kelly", "Walsh",
    "Berg", "Johansen", "Jansen", "Novak", "de Vries"
)
# fmt: on
STREETS = (
    "Main Street",
    "Park Avenue",
    "Church Road",
    "Station Road",
    "Mill Lane",
    "Rue de la Paix",
    "Hauptstraße",
    "Calle Mayor",
    "Kirkegårdsvej",
    "Oak Lawn Ave",
)
TIMEZONES = (
    ("-10:00", "Hawaii"),
    ("-8:00", "Pacific Time (US & Canada)"),
    ("-5:00", "Eastern Time (US & Canada), Bogota, Lima"),
    ("-3:30", "Newfoundland"),
    ("-3:00", "Brazil, Buenos Aires, Georgetown"),
    ("0:00", "Western Europe Time, London, Lisbon, Casablanca"),
    ("+1:00", "Brussels, Copenhagen, Madrid, Paris"),
    ("+3:00", "Baghdad, Riyadh, Moscow, St. Petersburg"),
    ("+4:30", "Kabul"),
    ("+5:30", "Bombay, Calcutta, Madras, New Delhi"),
    ("+5:45", "Kathmandu"),
    ("+8:00", "Beijing, Perth, Singapore, Hong Kong"),
    ("+9:30", "Adelaide, Darwin"),
    ("+12:00", "Auckland, Wellington, Fiji, Kamchatka"),
)
# fmt: off
WORDS = (
    "blue", "red", "silver", "golden", "happy", "lazy", "sad", "tiny", "big", "crazy", "heavy",
    "organic", "ticklish"
)
CRITTERS = (
    "frog", "swan", "tiger", "bear", "wolf", "koala", "panda", "duck", "rabbit", "peacock",
    "fish", "goose"
)
PASSWORDS = (
    "password", "123456", "qwerty", "letmein", "dragon", "monkey", "sunshine", "batman",
    "superman", "trustno1", "hunter", "chelsea", "jaguar", "fishing", "1qaz2wsx", "mustang",
    "shadow", "cowboy", "pepper", "hello"
)
# fmt: on
SALT_CHARS = string.ascii_letters + string.digits


@dataclass(frozen=True, kw_only=True)
class RandomUserConfig(Knobs):
    """Knobs of the randomuser simulator (no chaos by default)."""

    max_results: int | None = 5000

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_results is not None and self.max_results < 1:
            raise ConfigError(
                f"max_results must be at least 1, got {self.max_results}",
                hint="use None for no cap",
            )


def _fill(r: Random, pattern: str) -> str:
    return "".join(
        str(r.randrange(10)) if c == "#" else r.choice(string.ascii_uppercase) if c == "L" else c
        for c in pattern
    )


def _when(r: Random, start_year: int, end_year: int) -> dict[str, Any]:
    lo = int(datetime(start_year, 1, 1, tzinfo=UTC).timestamp() * 1000)
    hi = int(datetime(end_year, 1, 1, tzinfo=UTC).timestamp() * 1000)
    ms = r.randrange(lo, hi)
    at = datetime.fromtimestamp(ms / 1000, UTC)
    age = REFERENCE.year - at.year - ((REFERENCE.month, REFERENCE.day) < (at.month, at.day))
    return {"date": at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z", "age": age}


def user(seed: str, page: int, index: int) -> dict[str, Any]:
    """User ``index`` of ``page`` for ``seed``: the same inputs always give the same user."""
    r = rng(0, "user", seed, page, index)
    nat_code = r.choice(NAT_CODES)
    nat = NATS[nat_code]
    male = r.random() < 0.5
    first, last = r.choice(MALE if male else FEMALE), r.choice(LAST)
    french = nat_code in ("FR", "CH") and r.random() < 0.4
    if male:
        title = "Monsieur" if french else "Mr"
    else:
        title = r.choice(("Madame", "Mademoiselle")) if french else r.choice(("Ms", "Mrs", "Miss"))
    city, state = r.choice(nat.places)
    postcode: int | str
    if isinstance(nat.postcode, int):
        postcode = r.randrange(10 ** (nat.postcode - 1), 10**nat.postcode)
    else:
        postcode = _fill(r, nat.postcode)
    offset, description = r.choice(TIMEZONES)
    password = r.choice(PASSWORDS)
    salt = "".join(r.choice(SALT_CHARS) for _ in range(8))
    salted = (password + salt).encode()
    uid = str(uuid.UUID(int=r.getrandbits(128), version=4))
    kind, number = ("men" if male else "women"), r.randrange(100)
    return {
        "gender": "male" if male else "female",
        "name": {"title": title, "first": first, "last": last},
        "location": {
            "street": {"number": r.randint(1, 9999), "name": r.choice(STREETS)},
            "city": city,
            "state": state,
            "country": nat.country,
            "postcode": postcode,
            "coordinates": {
                "latitude": f"{r.uniform(-90, 90):.4f}",
                "longitude": f"{r.uniform(-180, 180):.4f}",
            },
            "timezone": {"offset": offset, "description": description},
        },
        "email": f"{first}.{last}@example.com".lower().replace(" ", ""),
        "login": {
            "uuid": uid,
            "username": f"{r.choice(WORDS)}{r.choice(CRITTERS)}{r.randrange(100, 1000)}",
            "password": password,
            "salt": salt,
            "md5": hashlib.md5(salted).hexdigest(),
            "sha1": hashlib.sha1(salted).hexdigest(),
            "sha256": hashlib.sha256(salted).hexdigest(),
        },
        "dob": _when(r, 1945, 2004),
        "registered": _when(r, 2002, 2023),
        "phone": _fill(r, nat.phone),
        "cell": _fill(r, nat.cell),
        "id": {
            "name": nat.id_name,
            "value": _fill(r, nat.id_pattern) if nat.id_pattern else None,
        },
        "picture": {
            "large": f"https://randomuser.me/api/portraits/{kind}/{number}.jpg",
            "medium": f"https://randomuser.me/api/portraits/med/{kind}/{number}.jpg",
            "thumbnail": f"https://randomuser.me/api/portraits/thumb/{kind}/{number}.jpg",
        },
        "nat": nat_code,
    }


def create_app(config: RandomUserConfig | None = None) -> FastAPI:
    """A new randomuser simulator (its own state and stats) for ``config``."""
    cfg = config or RandomUserConfig()
    chaos = Chaos(cfg)
    lock = threading.Lock()
    unseeded = itertools.count()
    served = [0]

    def stats() -> dict[str, Any]:
        with lock:
            return {"users_served": served[0]}

    def reset() -> None:
        nonlocal unseeded
        with lock:
            served[0] = 0
            unseeded = itertools.count()

    app = FastAPI(title="randomuser simulator", version=VERSION)
    install_chaos(app, chaos, extra_stats=stats, on_reset=reset)

    @app.get("/api/")
    @app.get("/api", include_in_schema=False)
    def api(results: int = 1, seed: str | None = None, page: int = 1) -> JSONResponse:
        """``results`` users of ``page`` for ``seed`` (a fresh seed when none is given)."""
        if cfg.max_results is not None:
            results = min(results, cfg.max_results)
        results, page = max(results, 1), max(page, 1)
        if seed is None:
            with lock:
                n = next(unseeded)
            seed = f"{rng(cfg.seed, 'seed', n).getrandbits(64):016x}"
        users = [user(seed, page, i) for i in range(results)]
        with lock:
            served[0] += results
        info = {"seed": seed, "results": results, "page": page, "version": VERSION}
        return JSONResponse({"results": users, "info": info})

    return app


__all__ = ["RandomUserConfig", "create_app", "user"]
