"""dlt loading the randomuser JSON Lines file with its default nested normalization.

    .venv/bin/python bench/normalize/dlt_users.py --file JSONL --url POSTGRES_URL --dataset S

A dlt resource yields the parsed records in lists of 1,000; dlt infers the schema,
flattens nested objects into ``parent__child`` columns (lists would become child
tables) and loads PostgreSQL with its default (insert_values) loader. Prints one JSON
line: records and seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--file", required=True)
    ap.add_argument("--url", required=True)
    ap.add_argument("--dataset", required=True)
    args = ap.parse_args()
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")
    os.environ["DLT_DATA_DIR"] = tempfile.mkdtemp(prefix="dlt-users-")
    os.environ["DLT_PROJECT_DIR"] = os.environ["DLT_DATA_DIR"]
    import dlt

    count = [0]

    @dlt.resource(name="users", write_disposition="append")
    def users() -> Iterator[list[dict[str, Any]]]:
        chunk: list[dict[str, Any]] = []
        with open(args.file, encoding="utf-8") as f:
            for line in f:
                chunk.append(json.loads(line))
                if len(chunk) == 1000:
                    count[0] += len(chunk)
                    yield chunk
                    chunk = []
        count[0] += len(chunk)
        yield chunk

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from dlt_load import with_password  # bench/dlt_load.py

    url = with_password(args.url)
    start = time.perf_counter()
    pipeline = dlt.pipeline(
        pipeline_name=f"users_{os.getpid()}",
        destination=dlt.destinations.postgres(credentials=url),
        dataset_name=args.dataset,
        pipelines_dir=os.environ["DLT_DATA_DIR"],
    )
    pipeline.run(users())
    print(json.dumps({"records": count[0], "seconds": time.perf_counter() - start}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
