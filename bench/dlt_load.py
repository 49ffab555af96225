"""dlt's Arrow path into PostgreSQL: run by bench/run.py in its own process.

    .venv/bin/python bench/dlt_load.py --file CSV --url POSTGRES_URL --dataset SCHEMA --workdir DIR

A dlt resource yields PyArrow record batches streamed by ``pyarrow.csv.open_csv`` with
the same 16 typed columns as the ``\\copy`` floor (text, int64, decimal(38,6), date);
dlt extracts them to Parquet, normalizes, and loads with its ``csv`` loader file format
(PostgreSQL COPY), the fastest path it has for PostgreSQL. dlt does no validation, so
it is given the clean file, as the ``\\copy`` floor is. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator

COLUMNS = [
    "license_number",
    "facility_name",
    "facility_type",
    "contact_first_name",
    "contact_last_name",
    "phone",
    "email",
    "address",
    "city",
    "state",
    "zip",
    "capacity",
    "license_status",
    "licensed_since",
    "last_inspection",
    "monthly_rate",
]


def with_password(url: str) -> str:
    """dlt insists on a password; under trust auth (the bench default) any will do."""
    scheme, _, rest = url.partition("://")
    userinfo, at, hostpart = rest.rpartition("@")
    if at and ":" not in userinfo:
        return f"{scheme}://{userinfo}:unused@{hostpart}"
    return url


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--file", required=True)
    ap.add_argument("--url", required=True)
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--workdir", required=True)
    args = ap.parse_args()

    # No telemetry (no internet here) and quiet logs; dlt reads these at import.
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")
    start = time.perf_counter()
    import dlt
    import pyarrow as pa
    import pyarrow.csv as pacsv

    text = pa.string()
    types = {c: text for c in COLUMNS}
    types.update(
        {
            "capacity": pa.int64(),
            "monthly_rate": pa.decimal128(38, 6),
            "licensed_since": pa.timestamp("s"),
            "last_inspection": pa.timestamp("s"),
        }
    )
    read = pacsv.ReadOptions(column_names=COLUMNS, skip_rows=1, block_size=16 * 1024**2)
    convert = pacsv.ConvertOptions(
        column_types=types,
        timestamp_parsers=["%m/%d/%Y"],
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
    )

    @dlt.resource(name="leads", table_name="leads", write_disposition="append")
    def leads() -> Iterator[pa.RecordBatch]:
        with pacsv.open_csv(args.file, read_options=read, convert_options=convert) as reader:
            for rb in reader:
                cols = [
                    rb.column(c).cast(pa.date32())
                    if c in ("licensed_since", "last_inspection")
                    else rb.column(c)
                    for c in COLUMNS
                ]
                yield pa.RecordBatch.from_arrays(cols, names=COLUMNS)

    url = with_password(args.url)
    pipeline = dlt.pipeline(
        pipeline_name="sluice_bench_leads",
        pipelines_dir=args.workdir,
        destination=dlt.destinations.postgres(credentials=url),
        dataset_name=args.dataset,
    )
    info = pipeline.run(leads(), loader_file_format="csv")
    trace = pipeline.last_trace
    normalized = trace.last_normalize_info if trace is not None else None
    rows = normalized.row_counts.get("leads", 0) if normalized is not None else -1
    print(
        json.dumps(
            {
                "rows": rows,
                "seconds": round(time.perf_counter() - start, 3),
                "dlt_version": dlt.__version__,
                "loads": len(info.loads_ids),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
