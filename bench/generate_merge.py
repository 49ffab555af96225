"""The merge benchmark's second file: N lead rows, half of them updates, half new keys.

    .venv/bin/python bench/generate_merge.py [--rows N]

``leads_<N>.merge.csv`` is shaped like ``leads_<N>.csv`` (bench/generate_leads.py:
UTF-8 with BOM, CRLF, ~0.5% invalid rows, ~0.1% test records) but drawn with another
seed, so every field but the license number has new values. Its license numbers: a
random half of its rows take the license numbers of distinct *clean* rows of
``leads_<N>.csv`` (rows that the base load put in the table: a valid one updates its
row), the other half continue the generator's sequence past the base file's N numbers
(keys no row of the base file has). Updates and new keys are interleaved.

``leads_<N>.merge.meta.json`` records the counts the benchmark checks: after the base
load (``clean_rows`` of the base file) and the merge, the table holds
``base_clean_rows + clean_new_rows`` rows, ``clean_update_rows`` of them updated; and a
few sample rows (new values, and the base file's old phone) to look up after the merge.
Reused when N, the seed and both generators' versions match.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))

import generate_leads

VERSION = 1
#: the merge file's rows are drawn with this seed (the base file's seed + 1)
SEED_OFFSET = 1
#: the generator's license numbers: 7919 * i + 1,234,567 (mod 10^8), i = 0, 1, 2, ...
LICENSE_STEP, LICENSE_START, LICENSE_SPACE = 7919, 1_234_567, 100_000_000
#: sample rows kept in the meta record, looked up in the table after the merge
SAMPLES = 8


def paths(n: int, out: Path = generate_leads.DATA) -> tuple[Path, Path]:
    return out / f"leads_{n}.merge.csv", out / f"leads_{n}.merge.meta.json"


def write(
    n: int, seed: int = generate_leads.DEFAULT_SEED, out: Path = generate_leads.DATA
) -> dict[str, Any]:
    """Generate (or reuse) the merge file for a base file of ``n`` rows; its meta record."""
    if 2 * n > LICENSE_SPACE:
        raise SystemExit(f"at most {LICENSE_SPACE // 2:,} rows: the license numbers run out")
    path, meta_path = paths(n, out)
    want = {"version": VERSION, "generator_version": generate_leads.VERSION, "rows": n}
    want["seed"] = seed
    if path.exists() and meta_path.exists():
        meta: dict[str, Any] = json.loads(meta_path.read_text())
        if all(meta.get(k) == v for k, v in want.items()) and path.stat().st_size == meta.get(
            "bytes"
        ):
            return {**meta, "reused": True}
    start = time.perf_counter()
    base, base_keep = generate_leads.build(n, seed)
    df, keep = generate_leads.build(n, seed + SEED_OFFSET)
    keep = np.asarray(keep)
    rng = np.random.default_rng(seed + SEED_OFFSET)
    update = np.zeros(n, dtype=bool)
    update[rng.permutation(n)[: n // 2]] = True
    # the updates: license numbers of distinct clean rows of the base file
    clean_idx = np.flatnonzero(np.asarray(base_keep))
    if len(clean_idx) < update.sum():
        raise SystemExit("too few clean rows in the base file for the updates")
    source_row = np.full(n, -1, dtype=np.int64)
    source_row[update] = rng.choice(clean_idx, int(update.sum()), replace=False)
    new_i = n + np.cumsum(~update) - 1  # the new keys: the sequence past the base file
    base_lic = (source_row * LICENSE_STEP + LICENSE_START) % LICENSE_SPACE
    new_lic = (new_i * LICENSE_STEP + LICENSE_START) % LICENSE_SPACE
    digits = pl.Series(np.where(update, base_lic, new_lic)).cast(pl.String).str.zfill(8)
    lic = pl.col("License Number")
    df = df.with_columns(
        pl.when(lic.str.starts_with("LIC-"))  # the invalid kind "bad license" stays invalid
        .then(pl.lit("LIC-") + digits)
        .otherwise(digits)
        .alias("License Number")
    )
    tmp = path.with_suffix(".tmp")
    df.write_csv(tmp, include_bom=True, line_terminator="\r\n", quote_style="necessary")
    os.replace(tmp, path)
    # samples: valid updates whose phone changed, to look up after the merge
    changed = (
        df.get_column("Phone").to_numpy()
        != base.get_column("Phone").to_numpy()[np.maximum(source_row, 0)]
    )
    candidates = np.flatnonzero(update & keep & changed)
    picked = rng.choice(candidates, min(SAMPLES, len(candidates)), replace=False)
    samples = []
    for row in sorted(int(r) for r in picked):
        new = df.row(row, named=True)
        old = base.row(int(source_row[row]), named=True)
        samples.append(
            {
                "license_number": new["License Number"],
                "phone": new["Phone"],
                "email": new["Email"],
                "capacity": int(new["Capacity"]),
                "old_phone": old["Phone"],
            }
        )
    test_rows = int(df.get_column("Facility Name").str.starts_with("Test ").sum())
    meta = {
        **want,
        "file": path.name,
        "bytes": path.stat().st_size,
        "base_clean_rows": int(np.asarray(base_keep).sum()),
        "clean_rows": int(keep.sum()),
        "clean_update_rows": int((keep & update).sum()),
        "clean_new_rows": int((keep & ~update).sum()),
        "update_rows": int(update.sum()),
        "test_rows": test_rows,
        "invalid_rows": n - int(keep.sum()) - test_rows,
        "samples": samples,
        "seconds": round(time.perf_counter() - start, 2),
    }
    meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    return {**meta, "reused": False}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=generate_leads.DEFAULT_ROWS)
    args = ap.parse_args(argv)
    meta = write(args.rows)
    state = "reused" if meta["reused"] else f"generated in {meta['seconds']} s"
    print(
        f"bench/data/{meta['file']}: {meta['rows']:,} rows ({meta['clean_update_rows']:,} valid "
        f"updates, {meta['clean_new_rows']:,} valid new keys; {state})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
