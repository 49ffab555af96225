"""pandas: ``json_normalize`` the randomuser JSON Lines file, ``to_sql`` one flat table.

    .venv/bin/python bench/normalize/pandas_users.py --file JSONL --url POSTGRES_URL

The usual hand-written job: read every record, flatten with ``pd.json_normalize``, write
with ``DataFrame.to_sql`` (SQLAlchemy, chunks of 10,000). One table, no keys, no
validation, no PII handling. Prints one JSON line: records and seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--file", required=True)
    ap.add_argument("--url", required=True)
    args = ap.parse_args()
    import pandas as pd
    import sqlalchemy as sa

    start = time.perf_counter()
    with open(args.file, encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    frame = pd.json_normalize(records, sep="_")
    url = args.url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = sa.create_engine(url)
    frame.to_sql("users_flat", engine, if_exists="replace", index=False, chunksize=10_000)
    engine.dispose()
    print(json.dumps({"records": len(frame), "seconds": time.perf_counter() - start}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
