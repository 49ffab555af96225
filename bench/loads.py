"""The load lines of bench/run.py: each floor (a database's own bulk load of the clean
file) and each sluice run, measured in a child process and checked.

Every sluice run is checked against its ``--json`` report: the accounting identity
(rows read = loaded + quarantined + filtered), the rows it loaded, and the rows the
table holds afterwards; a run that breaks any of them raises.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import generate_leads
from harness import (
    BENCH,
    PG_URL,
    ROOT,
    SLUICE_CMD,
    Schemas,
    checkpoint,
    measure,
    mysql,
    mysql_args,
    mysql_database_url,
    psql,
    schema_url,
)

PROJECT = BENCH / "leads"
MERGE_PROJECT = BENCH / "leads_merge"

#: The typed table of the \copy floor: the column types sluice creates for the pipeline.
FLOOR_DDL = """
CREATE TABLE {schema}.leads (
    license_number text, facility_name text, facility_type text,
    contact_first_name text, contact_last_name text, phone text, email text,
    address text, city text, state text, zip text, capacity bigint,
    license_status text, licensed_since date, last_inspection date,
    monthly_rate numeric(38, 6)
)"""

#: The typed table of the sqlite3 floor: the DDL sluice creates in SQLite (SQLAlchemy's
#: SQLite dialect for text, integer, decimal and date; NOT NULL where `required`).
SQLITE_FLOOR_DDL = """
CREATE TABLE leads (
    license_number TEXT NOT NULL, facility_name TEXT NOT NULL, facility_type TEXT,
    contact_first_name TEXT, contact_last_name TEXT, phone TEXT, email TEXT,
    address TEXT, city TEXT, state TEXT NOT NULL, zip TEXT, capacity BIGINT,
    license_status TEXT, licensed_since DATE, last_inspection DATE,
    monthly_rate NUMERIC(38, 6)
)"""

#: The typed table of the LOAD DATA floor: the column types sluice creates on MariaDB.
MYSQL_TEXT = "LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin"
MYSQL_FLOOR_DDL = f"""
CREATE TABLE leads (
    license_number {MYSQL_TEXT}, facility_name {MYSQL_TEXT}, facility_type {MYSQL_TEXT},
    contact_first_name {MYSQL_TEXT}, contact_last_name {MYSQL_TEXT}, phone {MYSQL_TEXT},
    email {MYSQL_TEXT}, address {MYSQL_TEXT}, city {MYSQL_TEXT}, state {MYSQL_TEXT},
    zip {MYSQL_TEXT}, capacity BIGINT, license_status {MYSQL_TEXT},
    licensed_since DATE, last_inspection DATE, monthly_rate DECIMAL(38, 6)
) ENGINE=InnoDB CHARACTER SET utf8mb4"""
#: The file's dates are MM/DD/YYYY and empty numbers mean NULL: SET converts them.
MYSQL_FLOOR_LOAD = """
LOAD DATA LOCAL INFILE '{file}' INTO TABLE leads CHARACTER SET utf8mb4
FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '"' ESCAPED BY ''
LINES TERMINATED BY '\\r\\n' IGNORE 1 LINES
(license_number, facility_name, facility_type, contact_first_name, contact_last_name,
 phone, email, address, city, state, zip, @capacity, license_status, @since, @inspected,
 @rate)
SET capacity = NULLIF(@capacity, ''),
    licensed_since = STR_TO_DATE(NULLIF(@since, ''), '%m/%d/%Y'),
    last_inspection = STR_TO_DATE(NULLIF(@inspected, ''), '%m/%d/%Y'),
    monthly_rate = NULLIF(@rate, '')"""


# --------------------------------------------------------------------------- sluice runs


def check_report(report: dict[str, Any], table_rows: int, loaded: int, table: int) -> None:
    """The accounting identity, the rows loaded and the table's rows, or raise."""
    t = report["totals"]
    problems = []
    if t["read"] != t["loaded"] + t["quarantined"] + t["filtered"]:
        problems.append(
            f"read {t['read']:,} != loaded {t['loaded']:,} + quarantined "
            f"{t['quarantined']:,} + filtered {t['filtered']:,}"
        )
    if t["loaded"] != loaded:
        problems.append(f"the report says {t['loaded']:,} rows loaded, expected {loaded:,}")
    if table_rows != table:
        problems.append(f"the table holds {table_rows:,} rows, expected {table:,}")
    if problems:
        raise RuntimeError("sluice run: " + "; ".join(problems) + f"\ntotals: {json.dumps(t)}")


def run_sluice(
    warehouse: str,
    count: Callable[[], int],
    *,
    loaded: int,
    table: int | None = None,
    project: Path = PROJECT,
    env: dict[str, str] | None = None,
    state: Path,
    timed: bool = True,
) -> dict[str, Any]:
    """``sluice run leads --json`` into ``warehouse``, checked (see :func:`check_report`).

    ``loaded``: the rows the report must say it loaded; ``table``: the rows the table
    must hold afterwards (default ``loaded``). Exit code 3 (rows quarantined: the ~0.5%
    invalid rows, by design) is expected.
    """
    full_env = {
        "SLUICE_WAREHOUSE_URL": warehouse,
        "SLUICE_STATE_URL": f"sqlite:///{state}",
        **(env or {}),
    }
    cmd = [SLUICE_CMD, "run", "leads", "--project", str(project), "--json"]
    r = measure(cmd, env=full_env, ok_codes=(0, 3)) if timed else _run_untimed(cmd, full_env)
    report = json.loads(r["stdout"])
    table_rows = count()
    check_report(report, table_rows, loaded, loaded if table is None else table)
    totals = report["totals"]
    return {
        **r,
        "rows": totals["read"],
        "loaded": totals["loaded"],
        "table_rows": table_rows,
        "status": report["status"],
        "totals": totals,
        "sluice_seconds": report["seconds"],
        "stage_seconds": report["streams"]["source1"]["seconds"],
        "stdout": "",
    }


def _run_untimed(cmd: list[str], env: dict[str, str]) -> dict[str, Any]:
    res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **env}, cwd=ROOT)
    if res.returncode not in (0, 3):
        raise RuntimeError(f"{' '.join(cmd)} exited with {res.returncode}:\n{res.stderr[-3000:]}")
    return {"stdout": res.stdout, "stderr": res.stderr, "returncode": res.returncode}


def pg_count(schema: str) -> Callable[[], int]:
    return lambda: int(psql(f"SELECT count(*) FROM {schema}.leads"))


def sqlite_count(db: Path) -> Callable[[], int]:
    def count() -> int:
        import sqlite3

        conn = sqlite3.connect(db)
        try:
            return int(conn.execute("SELECT count(*) FROM leads").fetchone()[0])
        finally:
            conn.close()

    return count


def duckdb_count(db: Path) -> Callable[[], int]:
    def count() -> int:
        import duckdb

        with duckdb.connect(str(db), read_only=True) as conn:
            row = conn.execute("SELECT count(*) FROM leads").fetchone()
        return int(row[0]) if row else 0

    return count


def _state(tmp: Path) -> Path:
    return tmp / f"state-{time.monotonic_ns()}.db"


def _bench_env(meta: dict[str, Any]) -> dict[str, str]:
    return {"SLUICE_BENCH_ROWS": str(meta["rows"])}


def run_sluice_pg(
    meta: dict[str, Any], schemas: Schemas, tmp: Path, project: Path = PROJECT, name: str = ""
) -> dict[str, Any]:
    """sluice -> a fresh PostgreSQL schema; ``project`` reads ``name`` (the leads file)."""
    schema = schemas.fresh("sluice")
    checkpoint()
    return run_sluice(
        schema_url(schema),
        pg_count(schema),
        loaded=meta["clean_rows"],
        project=project,
        env=_bench_env(meta),
        state=_state(tmp),
    ) | {"input": name or meta["file"]}


def gz_input(meta: dict[str, Any]) -> Path:
    """The leads file gzipped (``gzip -6``, as people publish it), made once and kept
    beside it while it is newer than the CSV."""
    plain = generate_leads.DATA / meta["file"]
    packed = plain.with_name(plain.name + ".gz")
    if not packed.exists() or packed.stat().st_mtime < plain.stat().st_mtime:
        part = packed.with_name(packed.name + ".part")
        with plain.open("rb") as src, gzip.open(part, "wb", compresslevel=6) as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        part.replace(packed)
    return packed


def run_sluice_pg_gz(meta: dict[str, Any], schemas: Schemas, tmp: Path) -> dict[str, Any]:
    """sluice -> PostgreSQL as :func:`run_sluice_pg`, from the gzipped file: the bench
    project with its source's path pointed at it."""
    packed = gz_input(meta)
    project = tmp / "leads-gz"
    project.mkdir(exist_ok=True)
    text = (PROJECT / "sluice.yaml").read_text()
    pointed = re.sub(r"(?m)^(\s+path: ).*$", lambda m: m.group(1) + str(packed), text, count=1)
    assert pointed != text, "bench/leads/sluice.yaml has no source path to point at the .gz"
    (project / "sluice.yaml").write_text(pointed)
    return run_sluice_pg(meta, schemas, tmp, project, packed.name)


def _run_sluice_file(
    meta: dict[str, Any],
    tmp: Path,
    scheme: str,
    suffix: str,
    count: Callable[[Path], Callable[[], int]],
) -> dict[str, Any]:
    """sluice into a fresh warehouse file (SQLite, DuckDB), deleted afterwards."""
    db = tmp / f"warehouse-{time.monotonic_ns()}.{suffix}"
    r = run_sluice(
        f"{scheme}:///{db}",
        count(db),
        loaded=meta["clean_rows"],
        env=_bench_env(meta),
        state=_state(tmp),
    ) | {"input": meta["file"]}
    db.unlink(missing_ok=True)
    return r


def run_sluice_sqlite(meta: dict[str, Any], tmp: Path) -> dict[str, Any]:
    return _run_sluice_file(meta, tmp, "sqlite", "db", sqlite_count)


def run_sluice_mysql(meta: dict[str, Any], schemas: Schemas, tmp: Path) -> dict[str, Any]:
    database = schemas.fresh_mysql("sluice")
    return run_sluice(
        mysql_database_url(database),
        lambda: int(mysql("SELECT COUNT(*) FROM leads", database)),
        loaded=meta["clean_rows"],
        env=_bench_env(meta),
        state=_state(tmp),
    ) | {"input": meta["file"]}


def run_sluice_duckdb(meta: dict[str, Any], tmp: Path) -> dict[str, Any]:
    return _run_sluice_file(meta, tmp, "duckdb", "duckdb", duckdb_count)


# --------------------------------------------------------------------------- floors


def run_copy(meta: dict[str, Any], schemas: Schemas) -> dict[str, Any]:
    clean = generate_leads.DATA / meta["clean_file"]
    schema = schemas.fresh("copy")
    psql(FLOOR_DDL.format(schema=schema))
    checkpoint()
    r = measure(
        [
            "psql",
            PG_URL,
            "-v",
            "ON_ERROR_STOP=1",
            "-qAt",
            "-c",
            "SET datestyle = 'ISO, MDY'",
            "-c",
            f"\\copy {schema}.leads FROM '{clean}' WITH (FORMAT csv, HEADER true)",
        ],
        env={"PGCLIENTENCODING": "UTF8"},
    )
    return _floor_checked(r, meta, pg_count(schema)(), "\\copy")


def _floor_checked(r: dict[str, Any], meta: dict[str, Any], loaded: int, what: str) -> dict:
    if loaded != meta["clean_rows"]:
        raise RuntimeError(f"{what} loaded {loaded} rows, expected {meta['clean_rows']}")
    return {**r, "rows": meta["clean_rows"], "loaded": loaded, "input": meta["clean_file"]}


def run_sqlite_import(meta: dict[str, Any], tmp: Path) -> dict[str, Any]:
    """sqlite3's ``.import --csv --skip 1`` of the clean file into the typed table (made
    before the clock starts). The shell inserts each field as text in one transaction;
    the columns' affinity turns numbers into integers and reals, as it does for sluice's
    rows; the dates stay MM/DD/YYYY text (sluice writes ISO dates)."""
    clean = generate_leads.DATA / meta["clean_file"]
    db = tmp / f"floor-{time.monotonic_ns()}.db"
    subprocess.run(["sqlite3", str(db), SQLITE_FLOOR_DDL], check=True)
    r = measure(["sqlite3", "-bail", str(db), f".import --csv --skip 1 {clean} leads"])
    if r["stderr"].strip():  # .import reports short rows on stderr and goes on
        raise RuntimeError(f"sqlite3 .import complained:\n{r['stderr'][:2000]}")
    out = _floor_checked(r, meta, sqlite_count(db)(), "sqlite3 .import")
    db.unlink(missing_ok=True)
    return out


def run_duckdb_read_csv(meta: dict[str, Any], tmp: Path) -> dict[str, Any]:
    """DuckDB's ``read_csv`` of the clean file into the typed table: bench/duckdb_floor.py
    in a child Python (start-up and ``import duckdb`` included, as sluice's are)."""
    clean = generate_leads.DATA / meta["clean_file"]
    db = tmp / f"floor-{time.monotonic_ns()}.duckdb"
    r = measure(
        [sys.executable, str(BENCH / "duckdb_floor.py"), "--file", str(clean), "--db", str(db)]
    )
    info = json.loads(r["stdout"].strip().splitlines()[-1])
    out = _floor_checked(r, meta, duckdb_count(db)(), "DuckDB read_csv")
    db.unlink(missing_ok=True)
    return {**out, "duckdb_version": info["duckdb_version"], "stdout": ""}


def run_mysql_load_data(meta: dict[str, Any], schemas: Schemas) -> dict[str, Any]:
    clean = generate_leads.DATA / meta["clean_file"]
    database = schemas.fresh_mysql("loaddata")
    mysql(MYSQL_FLOOR_DDL, database)
    r = measure(
        [
            *mysql_args(database),
            "--local-infile=1",
            "--batch",
            "-e",
            MYSQL_FLOOR_LOAD.format(file=str(clean).replace("'", "''")) + "; SHOW WARNINGS",
        ]
    )
    if r["stdout"].strip():
        raise RuntimeError(f"LOAD DATA warned (values changed):\n{r['stdout'][:2000]}")
    return _floor_checked(r, meta, int(mysql("SELECT COUNT(*) FROM leads", database)), "LOAD DATA")


def run_dlt(meta: dict[str, Any], schemas: Schemas, tmp: Path) -> dict[str, Any]:
    clean = generate_leads.DATA / meta["clean_file"]
    schema = f"bench_dlt_{schemas.tag}_{len(schemas.made)}"
    schemas.made.append(schema)  # dlt creates it itself
    workdir = tmp / f"dlt-{time.monotonic_ns()}"
    checkpoint()
    r = measure(
        [
            sys.executable,
            str(BENCH / "dlt_load.py"),
            "--file",
            str(clean),
            "--url",
            PG_URL,
            "--dataset",
            schema,
            "--workdir",
            str(workdir),
        ],
        env={"RUNTIME__DLTHUB_TELEMETRY": "false"},
    )
    info = json.loads(r["stdout"].strip().splitlines()[-1])
    out = _floor_checked(r, meta, pg_count(schema)(), "dlt")
    shutil.rmtree(workdir, ignore_errors=True)
    return {**out, "dlt_version": info["dlt_version"], "stdout": ""}


# --------------------------------------------------------------------------- merge


def run_merge(
    meta: dict[str, Any], merge_meta: dict[str, Any], schemas: Schemas, tmp: Path
) -> dict[str, Any]:
    """The base file loaded (untimed, in merge mode: the table as a merge pipeline makes
    it, primary key on license_number), then the merge file merged, timed.

    Checked: both runs' accounting, the table's rows after the merge (base rows + the
    merge file's valid new keys) and the sample rows' new values."""
    schema = schemas.fresh("merge")
    state = _state(tmp)
    base = str(generate_leads.DATA / meta["file"])
    run_sluice(
        schema_url(schema),
        pg_count(schema),
        loaded=meta["clean_rows"],
        project=MERGE_PROJECT,
        env={"SLUICE_BENCH_FILE": base, "SLUICE_BENCH_MODE": "merge"},
        state=state,
        timed=False,
    )
    checkpoint()
    r = run_sluice(
        schema_url(schema),
        pg_count(schema),
        loaded=merge_meta["clean_rows"],
        table=meta["clean_rows"] + merge_meta["clean_new_rows"],
        project=MERGE_PROJECT,
        env={
            "SLUICE_BENCH_FILE": str(generate_leads.DATA / merge_meta["file"]),
            "SLUICE_BENCH_MODE": "merge",
        },
        state=state,
    )
    check_samples(schema, merge_meta["samples"])
    checked = (
        f"table: {r['table_rows']:,} rows = {meta['clean_rows']:,} loaded before + "
        f"{merge_meta['clean_new_rows']:,} new keys; {len(merge_meta['samples'])} sample "
        "keys hold the merge file's values"
    )
    return {**r, "input": merge_meta["file"], "base_rows": meta["clean_rows"], "checked": checked}


def check_samples(schema: str, samples: list[dict[str, Any]]) -> None:
    """Each sample key's row holds the merge file's values, not the base file's."""
    if not samples:
        raise RuntimeError("the merge file's meta record has no sample rows")
    keys = ", ".join(f"'{s['license_number']}'" for s in samples)
    rows = psql(
        f"SELECT license_number, phone, email, capacity FROM {schema}.leads "
        f"WHERE license_number IN ({keys})"
    )
    found = {}
    for line in rows.splitlines():
        lic, phone, email, capacity = line.split("|")
        found[lic] = (phone, email, int(capacity))
    for s in samples:
        want = (s["phone"], s["email"], s["capacity"])
        got = found.get(s["license_number"])
        if got != want:
            raise RuntimeError(
                f"merge: license {s['license_number']} holds {got}, expected {want} "
                f"(the base file's phone was {s['old_phone']!r})"
            )


def run_merge_append(merge_meta: dict[str, Any], schemas: Schemas, tmp: Path) -> dict[str, Any]:
    """The reference: sluice's append of the same merge file into a fresh empty table."""
    schema = schemas.fresh("mappend")
    checkpoint()
    r = run_sluice(
        schema_url(schema),
        pg_count(schema),
        loaded=merge_meta["clean_rows"],
        project=MERGE_PROJECT,
        env={
            "SLUICE_BENCH_FILE": str(generate_leads.DATA / merge_meta["file"]),
            "SLUICE_BENCH_MODE": "append",
        },
        state=_state(tmp),
    )
    return {**r, "input": merge_meta["file"]}
