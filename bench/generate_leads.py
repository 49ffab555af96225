"""Deterministic generator of childcare lead rows shaped like examples/leads source1.

    .venv/bin/python bench/generate_leads.py [--rows N] [--seed S] [--out DIR] [--force]

Writes ``leads_<N>.csv`` (UTF-8 with BOM, CRLF, dates as MM/DD/YYYY, license numbers
with leading zeros, facility names with quoted commas, ~0.5% invalid rows and ~0.1%
"Test ..." records the pipeline filters out) and ``leads_<N>.clean.csv``: the rows the
leads pipeline loads (no invalid rows, no test records). The clean file is what the
typed ``psql \\copy`` floor and the dlt comparison load, since neither validates.
``leads_<N>.meta.json`` records the counts; an existing file set with the same N,
seed and generator version is reused.

Everything is vectorised (NumPy draws, Polars string expressions, Polars' CSV writer):
about 10 s for 1,000,000 rows (~170 MB) on two cores.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

VERSION = 1
DEFAULT_ROWS = 1_000_000
DEFAULT_SEED = 20261124
DATA = Path(__file__).resolve().parent / "data"
INVALID_SHARE = 0.005
TEST_SHARE = 0.001

HEADERS = [
    "License Number",
    "Facility Name",
    "Facility Type",
    "Contact First Name",
    "Contact Last Name",
    "Phone",
    "Email",
    "Street Address",
    "City",
    "State",
    "ZIP",
    "Capacity",
    "License Status",
    "Licensed Since",
    "Last Inspection",
    "Monthly Rate",
]

FIRST = [
    "Chen",
    "Ravi",
    "Priya",
    "Liam",
    "Olivia",
    "Noah",
    "Emma",
    "Mateo",
    "Aisha",
    "Sofia",
    "Lucas",
    "Amara",
    "Ethan",
    "Mia",
    "Kenji",
    "Fatima",
    "Diego",
    "Hannah",
    "Omar",
    "Zoe",
    "Isabella",
    "Jamal",
    "Grace",
    "Arjun",
    "Chloe",
    "Malik",
    "Elena",
    "Tomas",
    "Leah",
    "Yusuf",
]
LAST = [
    "García",
    "Martínez",
    "Cohen",
    "Smith",
    "Johnson",
    "Nguyen",
    "Okafor",
    "Patel",
    "Kim",
    "Müller",
    "O'Brien",
    "Rossi",
    "Williams",
    "Brown",
    "Jones",
    "Davis",
    "Lopez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Thompson",
    "White",
    "Harris",
    "Sánchez",
    "Clark",
]
ADJ = [
    "Bright",
    "Little",
    "Sunshine",
    "Happy",
    "Rainbow",
    "Tiny",
    "Growing",
    "Busy",
    "Kinder",
    "Wonder",
    "Acorn",
    "Maple",
    "Cedar Grove",
    "Blue Sky",
    "Golden",
    "Little Explorers",
    "Stepping Stones",
    "Discovery",
    "Creative",
    "Hilltop",
]
NOUN = [
    "Horizons",
    "Cottage",
    "Kids",
    "Minds",
    "Steps",
    "Sprouts",
    "Learners",
    "Academy",
    "Garden",
    "Nest",
    "Treehouse",
    "Play House",
    "Early Learning",
    "Scholars",
    "Bees",
]
SUFFIX = [
    "LLC",
    "Center",
    "Co-op",
    "Daycare",
    "Inc",
    "Child Care",
    "Preschool",
    "Learning Center",
    "Family Care",
    "Montessori",
]
TYPES = [
    "Center",
    "Family Home",
    "Group Home",
    "Preschool",
    "School Age",
    "center",
    "FAMILY HOME",
    "group home",
]
STATUS = ["Active", "Active", "Active", "Pending", "Expired", "Revoked", "active", "PENDING"]
STREETS = [
    "Oak St",
    "Elm St",
    "Cedar St",
    "Maple Ave",
    "Pine Rd",
    "Washington Blvd",
    "Lakeview Dr",
    "Sunset Blvd",
    "Main St",
    "Park Ave",
    "Highland Rd",
    "Willow Ln",
    "Riverside Dr",
    "Church St",
    "Mill Rd",
    "Chestnut St",
]
UNITS = ["", "", "", "", " Suite 100", " Unit 4B", " Apt 12", " Bldg 2"]
# (city, state as exported - sometimes lower case, zip prefix)
CITIES = [
    ("Boise", "ID", "837"),
    ("Raleigh", "NC", "276"),
    ("Portland", "OR", "972"),
    ("Austin", "TX", "787"),
    ("Denver", "CO", "802"),
    ("Columbus", "OH", "432"),
    ("Madison", "WI", "537"),
    ("Springfield", "ma", "011"),
    ("Albany", "NY", "122"),
    ("Sacramento", "CA", "958"),
    ("Nashville", "TN", "372"),
    ("Salt Lake City", "UT", "841"),
    ("Richmond", "va", "232"),
    ("Hartford", "CT", "061"),
    ("Phoenix", "AZ", "850"),
    ("Atlanta", "GA", "303"),
    ("Burlington", "VT", "054"),
    ("Newark", "NJ", "071"),
]
DOMAINS = ["example.org", "example.com", "example.net", "kids.example"]

#: Kinds of invalid rows, each breaking one rule of the pipeline's table.
#: (breaks a typed COPY too?) is noted for the clean file, which drops all of them anyway.
INVALID_KINDS = [
    "bad_date",  # licensed_since 13/45/2019             (typed COPY fails)
    "bad_email",  # email without @                       (COPY loads it)
    "bad_capacity",  # capacity "twelve"                     (typed COPY fails)
    "capacity_range",  # capacity 900 > max 500                (COPY loads it)
    "negative_rate",  # monthly rate below 0                  (COPY loads it)
    "missing_state",  # state empty but required              (COPY loads it)
    "bad_license",  # license number LIC-00123456              (COPY loads it)
    "bad_inspection",  # last_inspection 2021-02-30            (typed COPY fails)
]


def paths(n: int, out: Path = DATA) -> tuple[Path, Path, Path]:
    return out / f"leads_{n}.csv", out / f"leads_{n}.clean.csv", out / f"leads_{n}.meta.json"


def _pick(rng: np.random.Generator, values: list[str], n: int) -> pl.Series:
    idx = rng.integers(0, len(values), n, dtype=np.int32)
    return pl.Series(values, dtype=pl.String).gather(idx)


def build(n: int, seed: int = DEFAULT_SEED) -> tuple[pl.DataFrame, np.ndarray]:
    """(the rows as text columns, a mask of rows that belong in the clean file)."""
    rng = np.random.default_rng(seed)
    i = np.arange(n, dtype=np.int64)
    # Unique 8-digit license numbers: an affine bijection on [0, 10^8) (7919 is coprime).
    lic = (i * 7919 + 1_234_567) % 100_000_000
    city_idx = rng.integers(0, len(CITIES), n, dtype=np.int32)
    first = _pick(rng, FIRST, n)
    last = _pick(rng, LAST, n)
    since = rng.integers(8_000, 19_000, n, dtype=np.int32)  # days since 1970: 1991..2022
    inspect = since + rng.integers(30, 3_000, n, dtype=np.int32)
    df = pl.DataFrame(
        {
            "lic": lic,
            "adj": _pick(rng, ADJ, n),
            "noun": _pick(rng, NOUN, n),
            "suffix": _pick(rng, SUFFIX, n),
            "comma": rng.random(n) < 0.08,
            "other": _pick(rng, LAST, n),
            "type": _pick(rng, TYPES, n),
            "first": first,
            "last": last,
            "area": rng.integers(201, 990, n, dtype=np.int32),
            "ex": rng.integers(200, 999, n, dtype=np.int32),
            "num": rng.integers(0, 10_000, n, dtype=np.int32),
            "dom": _pick(rng, DOMAINS, n),
            "house": rng.integers(1, 20_000, n, dtype=np.int32),
            "street": _pick(rng, STREETS, n),
            "unit": _pick(rng, UNITS, n),
            "city": pl.Series([c[0] for c in CITIES]).gather(city_idx),
            "state": pl.Series([c[1] for c in CITIES]).gather(city_idx),
            "zip3": pl.Series([c[2] for c in CITIES]).gather(city_idx),
            "zip2": rng.integers(0, 100, n, dtype=np.int32),
            "zip4": rng.integers(0, 10_000, n, dtype=np.int32),
            "plus4": rng.random(n) < 0.15,
            "capacity": rng.integers(4, 300, n, dtype=np.int32),
            "status": _pick(rng, STATUS, n),
            "since": pl.Series(since).cast(pl.Date),
            "inspect": pl.Series(inspect).cast(pl.Date),
            "rate": rng.integers(30_000, 250_000, n, dtype=np.int64),
            "pad": rng.random(n) < 0.05,  # a few fields with stray spaces for `trim`
        }
    )
    invalid = rng.random(n) < INVALID_SHARE
    kind = np.where(invalid, rng.integers(0, len(INVALID_KINDS), n), -1)
    test = (rng.random(n) < TEST_SHARE) & ~invalid

    def z(expr: pl.Expr, width: int) -> pl.Expr:
        return expr.cast(pl.String).str.zfill(width)

    c = pl.col
    k = pl.Series("k", kind)
    out = df.with_columns(k).select(
        pl.when(c.k == 6)
        .then(pl.lit("LIC-") + z(c.lic, 8))
        .otherwise(z(c.lic, 8))
        .alias("License Number"),
        pl.when(pl.Series(test))
        .then(pl.lit("Test ") + c.adj + pl.lit(" Record"))
        .when(c.comma)
        .then(c.other + pl.lit(", ") + c.last + pl.lit(" & Co ") + c.suffix)
        .otherwise(c.adj + pl.lit(" ") + c.noun + pl.lit(" ") + c.suffix)
        .alias("Facility Name"),
        pl.when(c.pad)
        .then(pl.lit(" ") + c.type + pl.lit("  "))
        .otherwise(c.type)
        .alias("Facility Type"),
        c.first.alias("Contact First Name"),
        c.last.alias("Contact Last Name"),
        pl.format("({}) {}-{}", c.area, c.ex, z(c.num, 4)).alias("Phone"),
        pl.when(c.k == 1)
        .then(pl.format("{}.{} at {}", c.first, c.last, c.dom).str.to_lowercase())
        .otherwise(
            pl.format("{}.{}@{}", c.first, c.last, c.dom)
            .str.to_lowercase()
            .str.replace_all("'", "", literal=True)
        )
        .alias("Email"),
        pl.format("{} {}{}", c.house, c.street, c.unit).alias("Street Address"),
        c.city.alias("City"),
        pl.when(c.k == 5).then(pl.lit("")).otherwise(c.state).alias("State"),
        pl.when(c.plus4)
        .then(pl.format("{}{}-{}", c.zip3, z(c.zip2, 2), z(c.zip4, 4)))
        .otherwise(c.zip3 + z(c.zip2, 2))
        .alias("ZIP"),
        pl.when(c.k == 2)
        .then(pl.lit("twelve"))
        .when(c.k == 3)
        .then(pl.lit("900"))
        .otherwise(c.capacity.cast(pl.String))
        .alias("Capacity"),
        c.status.alias("License Status"),
        pl.when(c.k == 0)
        .then(pl.lit("13/45/2019"))
        .otherwise(c.since.dt.strftime("%m/%d/%Y"))
        .alias("Licensed Since"),
        pl.when(c.k == 7)
        .then(pl.lit("02/30/2021"))
        .otherwise(c.inspect.dt.strftime("%m/%d/%Y"))
        .alias("Last Inspection"),
        pl.when(c.k == 4)
        .then(pl.lit("-50.00"))
        .otherwise(pl.format("{}.{}", c.rate // 100, z(c.rate % 100, 2)))
        .alias("Monthly Rate"),
    )
    # missing_state rows must be empty for `required`: an unquoted empty field is null.
    out = out.with_columns(pl.when(c.State == "").then(None).otherwise(c.State).alias("State"))
    return out, ~invalid & ~test


def write(
    n: int, seed: int = DEFAULT_SEED, out: Path = DATA, force: bool = False
) -> dict[str, Any]:
    """Generate (or reuse) the files for ``n`` rows; returns the meta record."""
    full, clean, meta_path = paths(n, out)
    if not force and full.exists() and clean.exists() and meta_path.exists():
        meta: dict[str, Any] = json.loads(meta_path.read_text())
        if (
            meta.get("rows") == n
            and meta.get("seed") == seed
            and meta.get("version") == VERSION
            and full.stat().st_size == meta.get("bytes")
        ):
            meta["reused"] = True
            return meta
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    df, keep = build(n, seed)
    tmp_full, tmp_clean = full.with_suffix(".tmp"), clean.with_suffix(".tmp")
    for frame, path in ((df, tmp_full), (df.filter(pl.Series(keep)), tmp_clean)):
        # like source1: UTF-8 with BOM, CRLF; fields quoted only when needed (commas)
        frame.write_csv(path, include_bom=True, line_terminator="\r\n", quote_style="necessary")
    os.replace(tmp_full, full)
    os.replace(tmp_clean, clean)
    meta = {
        "version": VERSION,
        "rows": n,
        "seed": seed,
        "file": full.name,
        "bytes": full.stat().st_size,
        "clean_file": clean.name,
        "clean_rows": int(keep.sum()),
        "seconds": round(time.perf_counter() - start, 2),
    }
    meta["test_rows"] = int(df.get_column("Facility Name").str.starts_with("Test ").sum())
    meta["invalid_rows"] = n - meta["clean_rows"] - meta["test_rows"]
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    meta["reused"] = False
    return meta


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--out", type=Path, default=DATA)
    ap.add_argument("--force", action="store_true", help="regenerate even if the file exists")
    args = ap.parse_args(argv)
    meta = write(args.rows, args.seed, args.out, args.force)
    state = "reused" if meta["reused"] else f"generated in {meta['seconds']} s"
    print(
        f"{args.out / meta['file']}: {meta['rows']:,} rows, {meta['bytes'] / 1e6:.1f} MB "
        f"({meta['invalid_rows']:,} invalid, {meta['test_rows']:,} test records; {state})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
