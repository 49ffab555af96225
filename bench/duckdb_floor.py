"""The DuckDB floor: DuckDB's own ``read_csv`` of the clean file into a typed table.

    .venv/bin/python bench/duckdb_floor.py --file bench/data/leads_N.clean.csv --db FILE

Run by bench/run.py in its own process (so the line pays for starting Python and
importing duckdb, as the sluice line pays for its own start-up). The table has the
column types and NOT NULLs sluice creates in DuckDB for the bench pipeline (VARCHAR,
BIGINT, DECIMAL(38,6), DATE); the dates of the file are MM/DD/YYYY. Prints one JSON
line: the rows in the table and duckdb's version.
"""

from __future__ import annotations

import argparse
import json
import sys

import duckdb

#: column -> the DuckDB type sluice creates for it (bench/leads/sluice.yaml's table)
COLUMNS = {
    "license_number": "VARCHAR",
    "facility_name": "VARCHAR",
    "facility_type": "VARCHAR",
    "contact_first_name": "VARCHAR",
    "contact_last_name": "VARCHAR",
    "phone": "VARCHAR",
    "email": "VARCHAR",
    "address": "VARCHAR",
    "city": "VARCHAR",
    "state": "VARCHAR",
    "zip": "VARCHAR",
    "capacity": "BIGINT",
    "license_status": "VARCHAR",
    "licensed_since": "DATE",
    "last_inspection": "DATE",
    "monthly_rate": "DECIMAL(38,6)",
}
REQUIRED = {"license_number", "facility_name", "state"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", required=True)
    ap.add_argument("--db", required=True)
    args = ap.parse_args(argv)
    ddl = ", ".join(
        f"{name} {type_}{' NOT NULL' if name in REQUIRED else ''}"
        for name, type_ in COLUMNS.items()
    )
    types = "{" + ", ".join(f"'{name}': '{type_}'" for name, type_ in COLUMNS.items()) + "}"
    path = args.file.replace("'", "''")
    with duckdb.connect(args.db) as conn:
        conn.execute(f"CREATE TABLE leads ({ddl})")
        conn.execute(
            f"INSERT INTO leads SELECT * FROM read_csv('{path}', header = true, delim = ',', "
            f"quote = '\"', dateformat = '%m/%d/%Y', columns = {types})"
        )
        (rows,) = conn.execute("SELECT count(*) FROM leads").fetchone() or (0,)
    print(json.dumps({"rows": rows, "duckdb_version": duckdb.__version__}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
