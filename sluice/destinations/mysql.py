"""MySQL and MariaDB: bulk path ``LOAD DATA LOCAL INFILE`` through PyMySQL.

Each batch is written by Polars as CSV into a named pipe that one statement per table of
a load reads through the client (``local_infile``), batch after batch, while the next
batch is encoded (:mod:`sluice.destinations.mysql_stream`). Fields are ``,``-separated
and ``"``-enclosed with ``""`` for a quote, no escape character (a backslash is just a
backslash, ``\\N`` just two characters), the unquoted word ``NULL`` for NULL and
``"NULL"`` for the string (a batch holding that string is written with every string
quoted; otherwise only fields that need it are, which the server parses ~30% faster). So
NULL and ``""`` stay apart, and commas, quotes, newlines, tabs and any Unicode pass
through unchanged. Booleans go as 0/1, datetimes as UTC wall time (``DATETIME(6)`` has
no time zone), decimals and dates as text, lists as their JSON text.

With ``LOCAL``, MySQL turns every bad value (a NULL for a NOT NULL column, a duplicate
key, a string too long) into a *warning* and goes on; this module turns any warning
into an error, so the load rolls back instead of storing a changed value. When the
server (or the URL, ``?local_infile=0``) refuses local files, rows go by multi-row
``INSERT`` instead (``executemany``), with no message: same data, slower; so do they
on a system without named pipes (Windows) or a temporary directory that cannot hold one.

The session runs in strict SQL mode; every string column is ``utf8mb4`` with a binary
no-pad collation, so values compare as in PostgreSQL and SQLite (``'a' <> 'A'``,
``'a' <> 'a '``); key and foreign-key columns are ``VARCHAR`` (MySQL cannot index
``TEXT``) and a longer value is an error, not a truncation.

What is atomic, given that MySQL commits implicitly before and after every DDL statement:

- ``append`` and ``snapshot``: rows and the load marker (``_sluice_loads``) go in one
  InnoDB transaction with no DDL in it. A crash before the commit leaves nothing and no
  marker, so the run loads again; after it, the marker makes the repeat a no-op.
- ``merge``: the stage is a ``TEMPORARY`` table (its ``CREATE`` and the load into it do
  not commit; it is private to the connection, so two loads never share it). The
  upserts, the replacement of child rows and the marker are one transaction, committed
  together by the final ``DROP TABLE`` of the stage (an implicit commit) or by
  ``COMMIT``: all of them or none.
- ``replace``: the stage is a real table (a temporary one cannot be renamed into place),
  so creating it commits, and so does ``RENAME TABLE t TO old, stage TO t, ...`` (one
  statement for every table of the load: readers see all old tables or all new ones,
  never a mix or half a table). The old tables are dropped, then the marker commits in a
  transaction of its own. *Not* atomic: the swap and the marker. A crash between them
  leaves the new rows in place and no marker, so the next run replaces them again with
  the same rows: harmless. A crash before the swap leaves the table untouched (and a
  stage table that the next load drops).
- ``prepare`` (create table, add columns, unique index, ``_latest`` view): each
  statement commits on its own; running it again finishes what is missing.

Two concurrent ``replace`` loads of one table share the stage name: the second one's
``DROP`` of the stage waits for the first one's transaction, and one of them can fail
(nothing lost, the table keeps its old rows); serialize replaces of one table.
``local_infile`` lets the *server* ask the client for a file: use it with servers you
trust (the warehouse you configured).

The rows pass through the pipe, never a file on disk. A destination's pipes go in a
folder of its own (``sluice-mysql-<pid>-*`` in the temporary directory), each removed
when its statement ends and the folder when the destination closes. A process killed
mid-load cannot clean up: the next MySQL destination opened on the machine removes the
folders of processes that are gone.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import io
import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import polars as pl
import pymysql
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from sluice.destinations.base import LOADS_TABLE, Mode, register
from sluice.destinations.found_kept import TIMESTAMP_SPAN_64
from sluice.destinations.found_types import Found, Unique, unique_name
from sluice.destinations.mysql_stream import LoadStream
from sluice.destinations.sql import SqlDestination
from sluice.destinations.sql_load import STAGE_PREFIX, Writer
from sluice.schema import CHARSET_LACKS, ColumnSpec, Narrow, TableSpec

OLD_PREFIX = "_sluice_old_"
#: Error codes of a server (or client) that refuses ``LOAD DATA LOCAL``: MySQL 5.x
#: 1148, MySQL 8 3948/3950, MariaDB 10.5+ 4166.
LOCAL_INFILE_REFUSED = frozenset({1148, 3948, 3950, 4166})
#: Strict: a value that does not fit is an error, never a silent change.
SQL_MODE = "STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION,ERROR_FOR_DIVISION_BY_ZERO"
#: InnoDB keys hold at most 3072 bytes: 768 utf8mb4 characters over the string keys.
KEY_CHARS = 768
SPOOL_PREFIX = "sluice-mysql-"  # + pid + "-": a folder of a process's pipes
CSV_OPTIONS = (
    "CHARACTER SET utf8mb4 FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' "
    "ESCAPED BY '' LINES TERMINATED BY '\n'"  # a real newline: no backslash escapes
)

#: Declared type -> MySQL type, for types that are not strings (those depend on keys).
MYSQL_TYPES: dict[str, sa.types.TypeEngine[Any]] = {
    "integer": mysql.BIGINT(),
    "float": mysql.DOUBLE(),
    "decimal": mysql.DECIMAL(38, 6),
    "boolean": mysql.BOOLEAN(),
    "date": mysql.DATE(),
    "datetime": mysql.DATETIME(fsp=6),  # UTC; DATETIME has no time zone
    "list": mysql.JSON(),
}


@register("mysql")
class MysqlDestination(SqlDestination):
    #: Load with ``LOAD DATA LOCAL INFILE``; False (or a refusal) uses ``INSERT``.
    local_infile: bool = True
    ADD_COLUMNS_AT_ONCE = True

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._spool: Path | None = None  # the folder of this destination's pipes
        # pipes made, for their names: next() of a count is atomic, so two loads on
        # threads of one process (a worker's kept warehouse) never share a name
        self._streams = itertools.count(1)
        remove_stale_spools()
        if "local_infile" in self.engine.url.query:
            self.local_infile = str(self.engine.url.query["local_infile"]).lower() in (
                "1",
                "true",
                "yes",
            )
        self.quote = quote

    def _engine_options(self) -> dict[str, Any]:
        args: dict[str, Any] = {"init_command": f"SET SESSION sql_mode = '{SQL_MODE}'"}
        if "local_infile" not in sa.engine.make_url(self.url).query:
            args["local_infile"] = True
        return {"pool_pre_ping": True, "pool_recycle": 3600, "connect_args": args}

    # ---------------------------------------------------------------- schema

    def _collation(self) -> str:
        """A binary, no-pad collation: values compare byte for byte, as elsewhere."""
        dialect = self.engine.dialect
        if dialect.server_version_info is None:  # not connected yet: ask the server
            with self.engine.connect():
                pass
        if getattr(dialect, "is_mariadb", False):
            return "utf8mb4_nopad_bin"
        if (dialect.server_version_info or (0,)) >= (8,):
            return "utf8mb4_0900_bin"
        return "utf8mb4_bin"

    def _column_type(self, spec: TableSpec, column: ColumnSpec) -> sa.types.TypeEngine[Any]:
        if column.type != "string":
            return MYSQL_TYPES[column.type]
        if column.name in key_columns(spec):
            return mysql.VARCHAR(key_length(spec), charset="utf8mb4", collation=self._collation())
        return mysql.LONGTEXT(charset="utf8mb4", collation=self._collation())

    def _sa_table(self, spec: TableSpec, mode: Mode, name: str | None = None) -> sa.Table:
        # The base turns AUTO_INCREMENT off: a 0 loaded into a lone integer key would
        # become the next number.
        table = super()._sa_table(spec, mode, name)
        table.dialect_kwargs["mysql_engine"] = "InnoDB"  # transactions need InnoDB
        table.dialect_kwargs["mysql_charset"] = "utf8mb4"
        return table

    def _prepare(self, conn: sa.Connection, table: TableSpec, mode: Mode) -> list[str]:
        # The marker table as the base creates it, but its keys compare exactly: with
        # the server's default (case-insensitive) collation, load keys that differ
        # only in case would pass for one another and a load would be skipped.
        conn.execute(
            sa.text(
                f"CREATE TABLE IF NOT EXISTS {quote(LOADS_TABLE)} ("
                f"load_key VARCHAR(255) CHARACTER SET utf8mb4 COLLATE {self._collation()} "
                "NOT NULL PRIMARY KEY, table_name VARCHAR(255) NOT NULL, "
                "`rows` BIGINT NOT NULL, loaded_at DATETIME(6) NOT NULL"
                ") ENGINE=InnoDB CHARACTER SET utf8mb4"
            )
        )
        return super()._prepare(conn, table, mode)

    @contextlib.contextmanager
    def _ddl_lock(self, conn: sa.Connection) -> Iterator[None]:
        """Every DDL statement commits on its own here: processes preparing the same
        tables (dropping and making a ``_latest`` view) take turns under a named lock."""
        name = f"sluice_ddl:{self.engine.url.database}"[:64]
        conn.execute(sa.text("SELECT GET_LOCK(:k, 60)"), {"k": name})
        try:
            yield
        finally:
            with contextlib.suppress(sa.exc.SQLAlchemyError):
                conn.execute(sa.text("SELECT RELEASE_LOCK(:k)"), {"k": name})

    def _drop_not_null(self, conn: sa.Connection, table: str, columns: list[str]) -> None:
        """``MODIFY`` restates a whole column: its definition as the server shows it
        (type, collation, MariaDB's JSON check), with ``NULL`` for ``NOT NULL``."""
        shown = str(conn.execute(sa.text(f"SHOW CREATE TABLE {quote(table)}")).one()[1])
        lines = {line.strip().rstrip(",") for line in shown.splitlines()}
        changes = []
        for name in columns:
            head = quote(name) + " "
            (line,) = (x for x in lines if x.startswith(head))
            # Type and collation come before NOT NULL, a CHECK after: the first one is it.
            body = line.removeprefix(head).replace(" NOT NULL", " NULL", 1)
            changes.append(f"MODIFY COLUMN {head}{body}")
        conn.execute(sa.text(f"ALTER TABLE {quote(table)} " + ", ".join(changes)))

    def _columns(self, conn: sa.Connection, table: str) -> tuple[dict[str, Found], set[str]]:
        columns, primary = super()._columns(conn, table)
        # MariaDB's JSON is a LONGTEXT with a json_valid check: a list column all the same
        shown = str(conn.execute(sa.text(f"SHOW CREATE TABLE {quote(table)}")).one()[1])
        # A string column whose character set stores fewer characters than Unicode has
        # (a table its owner made in utf8mb3 or latin1): strict mode fails a whole load
        # on one emoji, so the validator refuses such a value first.
        charsets = conn.execute(
            sa.text(
                "SELECT COLUMN_NAME, CHARACTER_SET_NAME FROM information_schema.COLUMNS "
                "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :t"
            ),
            {"t": table},
        )
        lacking = {str(n): str(c) for n, c in charsets if c in CHARSET_LACKS}
        for name, found in columns.items():
            if found.family == "string" and f"CHECK (json_valid({quote(name)}))" in shown:
                columns[name] = Found(found.nullable, "JSON", "list", filled=found.filled)
            elif found.family == "string" and name in lacking:
                keeps = replace(found.keeps or Narrow(found.shown), charset=lacking[name])
                columns[name] = replace(found, keeps=keeps)
            elif found.keeps is not None and found.keeps.span is not None and self._span_64(conn):
                columns[name] = replace(found, keeps=replace(found.keeps, span=TIMESTAMP_SPAN_64))
        return columns, primary

    def _span_64(self, conn: sa.Connection) -> bool:
        """MariaDB 11.5 and later keep a TIMESTAMP to 2106 (on a 64-bit host)."""
        dialect = conn.dialect
        version = dialect.server_version_info or (0,)
        return bool(getattr(dialect, "is_mariadb", False)) and version >= (11, 5)

    def _retype(
        self, table: TableSpec, mode: Mode, changed: list[tuple[ColumnSpec, Found]]
    ) -> list[str]:
        # MODIFY restates the whole column: its NOT NULL too.
        changes = ", ".join(
            f"MODIFY COLUMN {quote(c.name)} "
            f"{self._column_type(table, c).compile(dialect=self.engine.dialect)}"
            + ("" if found.nullable else " NOT NULL")
            for c, found in changed
        )
        return [f"ALTER TABLE {quote(table.name)} {changes}"]

    def _unkey(self, table: TableSpec, unique: Unique) -> list[str]:
        # The new keys' text columns become the bounded VARCHAR a key needs (LONGTEXT
        # cannot be one), then the old key goes.
        t = quote(table.name)
        old = {c.name for c in table.columns if c.name in unique.columns}
        out = [
            f"ALTER TABLE {t} MODIFY COLUMN {quote(c.name)} "
            f"{self._column_type(table, c).compile(dialect=self.engine.dialect)}"
            + ("" if c.nullable else " NOT NULL")
            for c in table.columns
            if c.name in table.keys and c.name not in old and c.type == "string"
        ]
        if unique.kind == "its primary key":
            return [*out, f"ALTER TABLE {t} DROP PRIMARY KEY"]
        return [*out, f"ALTER TABLE {t} DROP INDEX {quote(str(unique.name))}"]

    def _ensure_unique(self, conn: sa.Connection, table: TableSpec, uniques: list[Unique]) -> None:
        """The unique index on the keys, once (MySQL 8 has no ``IF NOT EXISTS`` here)."""
        if any(set(u.columns) == set(table.keys) for u in uniques):
            return
        name = unique_name(table, uniques, 64)
        keys = ", ".join(self.quote(k) for k in table.keys)
        conn.execute(
            sa.text(f"CREATE UNIQUE INDEX {self.quote(name)} ON {self.quote(table.name)} ({keys})")
        )

    # ---------------------------------------------------------------- loading

    def _create_stage(self, cur: Any, table: TableSpec, mode: Mode) -> str:
        """Merge: a ``TEMPORARY`` table (no implicit commit, private to the connection).

        Replace renames its stage into place, so that one is a real table.
        """
        stage = f"{STAGE_PREFIX}{table.name}"[:64]
        temporary = "TEMPORARY " if mode == "merge" else ""
        cur.execute(f"DROP {temporary}TABLE IF EXISTS {self.quote(stage)}")
        ddl = str(
            sa.schema.CreateTable(self._sa_table(table, mode, stage)).compile(
                dialect=self.engine.dialect
            )
        ).strip()
        assert ddl.startswith("CREATE TABLE "), ddl
        # SQLAlchemy wrote each % of a name as %%, for PyMySQL to format away: args=().
        cur.execute(f"CREATE {temporary}TABLE " + ddl.removeprefix("CREATE TABLE "), ())
        return stage

    def _upsert(
        self,
        target: str,
        stage: str,
        columns: list[str],
        keys: list[str],
        as_text: frozenset[str] = frozenset(),
        order: str | None = None,
    ) -> str:
        q = self.quote
        cols = ", ".join(q(c) for c in columns)
        rest = [c for c in columns if c not in keys] or keys[:1]  # keys only: a no-op update
        update = ", ".join(f"{q(c)} = VALUES({q(c)})" for c in rest)
        # Key order: InnoDB keeps rows in their primary key's order, so sorted rows
        # update and insert page after page instead of all over the table.
        order = order or ", ".join(q(k) for k in keys)
        return (
            f"INSERT INTO {q(target)} ({cols}) SELECT {cols} FROM {q(stage)} "
            f"ORDER BY {order} ON DUPLICATE KEY UPDATE {update}"
        )

    def _swap(self, cur: Any, swaps: list[tuple[str, str]]) -> None:
        """Every stage takes its table's place in one ``RENAME TABLE``; then drop the olds.

        Referencing tables are dropped first (foreign keys follow a renamed table).
        """
        q = self.quote
        old = {table: f"{OLD_PREFIX}{table}"[:64] for _, table in swaps}
        for _, table in reversed(swaps):  # left over by a crash between rename and drop
            cur.execute(f"DROP TABLE IF EXISTS {q(old[table])}")
        pairs = [f"{q(t)} TO {q(old[t])}, {q(s)} TO {q(t)}" for s, t in swaps]
        cur.execute("RENAME TABLE " + ", ".join(pairs))
        for _, table in reversed(swaps):
            cur.execute(f"DROP TABLE {q(old[table])}")

    def _now(self) -> Any:
        return super()._now().replace(tzinfo=None)  # UTC wall time, like every DATETIME

    @contextlib.contextmanager
    def _writing(self, conn: Any, tables: list[str]) -> Iterator[Writer]:
        """Batches streamed into one ``LOAD DATA`` per table (see
        :mod:`sluice.destinations.mysql_stream`), by ``INSERT`` once local files are
        refused. A batch for another table (or other columns) ends the statement under
        way, once the batch is encoded: one statement at a time on a connection."""
        with concurrent.futures.ThreadPoolExecutor(1, "sluice-load-data") as pool:
            stream: LoadStream | None = None
            key: tuple[str, tuple[str, ...]] | None = None

            def end() -> None:
                nonlocal stream
                if stream is not None:
                    done, stream = stream, None
                    done.finish()

            def write(table: str, columns: list[str], data: pl.DataFrame) -> int:
                nonlocal stream, key
                data = for_mysql(data)
                if not self.local_infile:
                    end()
                    return self._insert(conn, table, columns, data)
                payload = self._csv(data)
                if stream is None or key != (table, tuple(columns)):
                    end()
                    stream = self._stream(conn, table, columns, pool)
                    key = (table, tuple(columns))
                    if stream is None:  # refused just now: INSERT from now on
                        return self._insert(conn, table, columns, data)
                stream.send(payload, data.height)
                return data.height

            try:
                yield write
                end()
            except BaseException:
                if stream is not None:
                    stream.abort()  # the rows sent so far are rolled back with the load
                raise

    def _stream(
        self, conn: Any, table: str, columns: list[str], pool: concurrent.futures.Executor
    ) -> LoadStream | None:
        """A ``LOAD DATA`` into ``table`` reading a new pipe, open; None (and
        ``local_infile`` off) if the server refuses local files."""
        if not hasattr(os, "mkfifo"):  # no named pipes (Windows): INSERT
            self.local_infile = False
            return None
        if self._spool is None or not self._spool.is_dir():
            self._spool = Path(tempfile.mkdtemp(prefix=f"{SPOOL_PREFIX}{os.getpid()}-"))
        path = self._spool / f"load-{next(self._streams)}.csv"
        cols = ", ".join(self.quote(c) for c in columns)
        sql = f"INTO TABLE {self.quote(table)} {CSV_OPTIONS} ({cols})"

        def statement(name: str) -> int:
            literal = "'" + pymysql.converters.escape_string(name) + "'"
            with conn.cursor() as cur:
                loaded = int(cur.execute(f"LOAD DATA LOCAL INFILE {literal} {sql}"))
                if cur.warning_count:
                    raise refused_values(cur, table)
            return loaded

        try:
            stream = LoadStream(path, statement, pool, table)
        except OSError:  # a temporary directory that holds no pipes (some network mounts)
            self.local_infile = False
            return None
        try:
            opened = stream.open()
        except BaseException:
            # Ctrl-C while waiting: the statement must not be left waiting for a writer
            # of its pipe (the pool waits for the statement as the load unwinds).
            stream.abort()
            raise
        if opened:
            return stream
        exc = stream.statement.exception()
        if isinstance(exc, pymysql.err.OperationalError) and exc.args[0] in LOCAL_INFILE_REFUSED:
            self.local_infile = False
            return None
        stream.statement.result()  # another error: the load's
        raise pymysql.err.OperationalError(0, f"{table}: LOAD DATA ended before reading its rows")

    def _csv(self, data: pl.DataFrame) -> memoryview:
        """``data`` as CSV for ``LOAD DATA`` (see the module's docstring)."""
        out = io.BytesIO()
        data.write_csv(
            out,
            include_header=False,
            null_value="NULL",
            quote_style=quote_style(data),
            datetime_format="%Y-%m-%d %H:%M:%S%.6f",
            line_terminator="\n",
        )
        return out.getbuffer()

    def close(self) -> None:
        super().close()
        if self._spool is not None:
            shutil.rmtree(self._spool, ignore_errors=True)
            self._spool = None

    def _insert(self, conn: Any, table: str, columns: list[str], data: pl.DataFrame) -> int:
        # PyMySQL formats the statement with %: a % in a column name is doubled.
        cols = ", ".join(self.quote(c).replace("%", "%%") for c in columns)
        marks = ", ".join(["%s"] * len(columns))
        sql = f"INSERT INTO {self.quote(table).replace('%', '%%')} ({cols}) VALUES ({marks})"
        with conn.cursor() as cur:
            for part in data.iter_slices(10_000):
                cur.executemany(sql, part.rows())  # one multi-row INSERT per ~1 MB
        return data.height


def remove_stale_spools() -> None:
    """Remove the pipe folders of processes on this machine that no longer exist
    (killed mid-load: they would stay in the temporary directory for good)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{SPOOL_PREFIX}*-*"):
        pid = folder.name.removeprefix(SPOOL_PREFIX).split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def quote(name: str) -> str:
    """Any name as a MySQL identifier: in backticks, a backtick doubled.

    Always quoted (a word the dialect does not know as reserved would otherwise go
    bare), and a ``%`` kept as is: statements are run without parameters (those with
    parameters double it themselves), and ``sa.text`` doubles it for PyMySQL.
    """
    return "`" + name.replace("`", "``") + "`"


def key_columns(spec: TableSpec) -> set[str]:
    """Columns in an index: the keys and the columns of foreign keys."""
    return set(spec.keys) | {c for fk in spec.foreign_keys for c in fk.columns}


def key_length(spec: TableSpec) -> int:
    """``VARCHAR`` length of a key column: 255, less when many string keys share an index."""
    strings = sum(1 for c in spec.columns if c.name in spec.keys and c.type == "string")
    return min(255, KEY_CHARS // max(strings, 1))


def for_mysql(data: pl.DataFrame) -> pl.DataFrame:
    """Booleans as 0/1; datetimes as UTC wall time (naive), as DATETIME stores them."""
    exprs = []
    for name, dtype in data.schema.items():
        if dtype == pl.Boolean:
            exprs.append(pl.col(name).cast(pl.Int8))
        elif isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
            exprs.append(pl.col(name).dt.convert_time_zone("UTC").dt.replace_time_zone(None))
    return data.with_columns(exprs) if exprs else data


def quote_style(data: pl.DataFrame) -> Literal["necessary", "non_numeric"]:
    """Quote only what needs it, unless a string is the word ``NULL`` (then quote all).

    An unquoted ``NULL`` is NULL to ``LOAD DATA``; quoting every string would keep the
    word a string always, but makes the server's parse ~30% slower.
    """
    texts = [c for c, t in data.schema.items() if t == pl.String]
    if texts and data.select(pl.any_horizontal(pl.col(texts) == "NULL").any()).item():
        return "non_numeric"
    return "necessary"


def refused_values(cur: Any, table: str) -> pymysql.err.DataError:
    """The first warnings of a ``LOAD DATA`` as an error (LOCAL only warns, then goes on)."""
    count = cur.warning_count
    cur.execute("SHOW WARNINGS LIMIT 3")
    shown = "; ".join(f"{msg} ({code})" for _level, code, msg in cur.fetchall())
    return pymysql.err.DataError(
        0, f"{count} value(s) refused loading {table}: {shown or 'see SHOW WARNINGS'}"
    )
