"""N randomuser-shaped records as JSON Lines, the same on every machine (a fixed seed).

    .venv/bin/python bench/normalize/generate_users.py [--records N]

Records come from the shipped simulator's generator (``sluice.sim.randomuser.user``),
so they are what the ``randomuser`` example pulls: nested objects, a postcode that is a
number in some countries and text in others, credentials to hide. Cached under
bench/data/.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sluice.sim.randomuser import user

DATA = Path(__file__).resolve().parents[1] / "data"
SEED = "bench"


def generate(records: int) -> Path:
    path = DATA / f"users_{records}.jsonl"
    if path.exists():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as out:
        for n in range(records):
            page, index = divmod(n, 100)
            out.write(json.dumps(user(SEED, page + 1, index), ensure_ascii=False))
            out.write("\n")
    tmp.rename(path)
    return path


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=200_000)
    print(generate(ap.parse_args().records))
