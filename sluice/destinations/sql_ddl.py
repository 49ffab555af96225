"""Tables made and evolved from the declared schema, never from text found in a file.

``prepare`` creates a table (and the ``_sluice_loads`` marker table), adds the columns
a schema gained, loosens NOT NULL on columns no longer required, puts a unique index
on the keys of a table loaded under ``merge``, and keeps a snapshot's ``_latest`` view.
A database's module overrides the hooks its dialect needs (``_columns``,
``_add_columns``, ``_drop_not_null``, ``_ensure_unique``, ``_uniques``, ``_retype``,
``_unkey``, ``_ddl_lock``).
"""

from __future__ import annotations

import contextlib
from typing import Any

import sqlalchemy as sa

from sluice.dburl import redact
from sluice.destinations.base import LOADS_TABLE, Mode
from sluice.destinations.found_kept import kept, narrow
from sluice.destinations.found_types import (
    Found,
    Unique,
    accepts,
    converted,
    family,
    shown,
    unique_name,
)
from sluice.destinations.limits import limit_hit
from sluice.destinations.sql_base import SqlBase, snapshot_columns
from sluice.errors import KeysChanged, LimitExceeded, LoadError, Retyped, TypesChanged
from sluice.schema import ColumnSpec, Narrow, TableSpec


class SqlDdl(SqlBase):
    """The DDL of a SQL destination: ``prepare`` and what it takes turns with."""

    #: whether one ALTER TABLE may add several columns (PostgreSQL, MySQL)
    ADD_COLUMNS_AT_ONCE = False

    def __init__(self, url: str) -> None:
        super().__init__(url)
        #: each table's columns as a run found them: (its id, the columns)
        self._found: dict[str, tuple[str, dict[str, Found]]] = {}

    def _limit_error(
        self, exc: Exception, limit: str, table: TableSpec, mode: Mode
    ) -> LimitExceeded:
        said = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        columns = len(table.columns) + len(snapshot_columns(mode))
        return LimitExceeded(
            f"warehouse {redact(self.url)}: table {table.name!r} would have {columns:,} "
            f"columns; {limit} ({said})",
            hint="a limit of the database, not a passing fault: running again will not "
            "help. Load fewer columns: list the ones not needed in the source's ignore",
        )

    def prepare(self, table: TableSpec, mode: Mode) -> list[str]:
        """Create or evolve ``table``. Two processes doing it at once on a new warehouse
        would both find it missing and both create it: the DDL is serialized where the
        database can (:meth:`_ddl_lock`), and a creation that lost such a race anyway
        looks again once (the table is there now)."""
        for attempt in (1, 2):
            try:
                ddl = self.engine.connect().execution_options(sluice_ddl=True)
                with ddl as conn, conn.begin(), self._ddl_lock(conn):
                    return self._prepare(conn, table, mode)
            except sa.exc.SQLAlchemyError as exc:
                if attempt == 1 and _made_meanwhile(exc):
                    continue
                if (limit := limit_hit(exc)) is not None:
                    raise self._limit_error(exc, limit, table, mode) from None
                raise self._connect_error(exc) from None
        raise AssertionError("unreachable")

    def narrow_columns(
        self, table: str, declared: dict[str, str], run_id: str
    ) -> dict[str, Narrow]:
        """The columns of ``declared`` (name -> declared type) whose column in ``table``
        keeps less than its type does (see :class:`~sluice.schema.Narrow`). Read once per
        run: a Celery worker keeps this object across runs, and a column widened since
        the last one must count (the replay its reason names)."""
        if not declared:
            return {}
        cached = self._found.get(table)
        if cached is None or cached[0] != run_id:
            try:
                with self.engine.connect() as conn:
                    exists = sa.inspect(conn).has_table(table)
                    have = self._columns(conn, table)[0] if exists else {}
            except sa.exc.SQLAlchemyError as exc:  # gone since prepare: said as a load's
                raise self._connect_error(exc) from None
            cached = self._found[table] = (run_id, have)
        return narrow(cached[1], declared)

    def _ddl_lock(self, conn: sa.Connection) -> contextlib.AbstractContextManager[object]:
        """Held around the DDL of a prepare, to take turns with other processes where the
        database can (PostgreSQL, MySQL: a named lock)."""
        return contextlib.nullcontext()

    def _prepare(self, conn: sa.Connection, table: TableSpec, mode: Mode) -> list[str]:
        loads = sa.Table(
            LOADS_TABLE,
            sa.MetaData(),
            sa.Column("load_key", sa.String(255), primary_key=True),
            sa.Column("table_name", sa.String(255), nullable=False),
            sa.Column("rows", sa.BigInteger, nullable=False),
            sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        )
        loads.create(conn, checkfirst=True)
        wanted = self._sa_table(table, mode)
        inspector = sa.inspect(conn)
        added: list[str] = []
        if not inspector.has_table(table.name):
            wanted.create(conn)
        else:
            have, primary = self._columns(conn, table.name)
            if mode != "replace":  # a replace's stage, made as declared, takes its place
                self._check_types(table, mode, have)
            uniques = self._uniques(conn, table.name) if mode == "merge" and table.keys else []
            self._check_keys(table, uniques)
            new = [col for col in wanted.columns if col.name not in have]
            if new:
                self._add_columns(conn, table.name, new)
                added = [col.name for col in new]
            # A column no longer `required` (or no longer declared) loses its NOT NULL:
            # a row without it must load, a replayed one for instance. Never the other
            # way: rows already in the table may lack the value. Nor where the database
            # fills what a row leaves out (a default, an identity: PostgreSQL refuses to
            # loosen one, which failed every load into such a table).
            strict = {c.name for c in wanted.columns if not c.nullable}
            loose = [
                name
                for name, found in have.items()
                if not found.nullable
                and not (found.filled and name not in wanted.columns)
                and name not in strict
                and name not in primary
            ]
            if loose:
                self._drop_not_null(conn, table.name, loose)
            if mode == "merge" and table.keys:
                try:
                    self._ensure_unique(conn, table, uniques)
                except sa.exc.IntegrityError as exc:
                    raise self._keys_repeat(exc, table) from None
        if mode == "snapshot" and (added or not inspector.has_table(f"{table.name}_latest")):
            self._latest_view(conn, table.name)
        return added

    def _columns(self, conn: sa.Connection, table: str) -> tuple[dict[str, Found], set[str]]:
        """An existing table's columns and its primary key's columns."""
        inspector = sa.inspect(conn)
        dialect = self.engine.dialect
        columns = {
            c["name"]: Found(
                bool(c["nullable"]),
                shown(c["type"], dialect),
                family(c["type"]),
                kept(c["type"], shown(c["type"], dialect)),
                filled=_filled(c),
            )
            for c in inspector.get_columns(table)
        }
        return columns, set(inspector.get_pk_constraint(table)["constrained_columns"])

    def _check_types(self, table: TableSpec, mode: Mode, have: dict[str, Found]) -> None:
        """Refuse to load into columns made for other declared types than the ones
        ``sluice.yaml`` declares now: the database would convert every value."""
        changed = [
            (c, have[c.name])
            for c in table.columns
            if c.name in have and not accepts(c.type, have[c.name].family)
        ]
        if not changed:
            return
        changes = [Retyped(c.name, found.shown, str(found.family), c.type) for c, found in changed]
        raise TypesChanged(table.name, changes, self._retype(table, mode, changed))

    def _retype(
        self, table: TableSpec, mode: Mode, changed: list[tuple[ColumnSpec, Found]]
    ) -> list[str]:
        """The statements that change ``changed`` columns to their declared types,
        converting the rows in place; none where the database cannot (SQLite)."""
        return []

    def _alter_types(self, table: TableSpec, changed: list[tuple[ColumnSpec, Found]]) -> list[str]:
        """``ALTER COLUMN ... TYPE ... USING`` for each column (PostgreSQL, DuckDB)."""
        q = self.quote
        out = []
        for c, found in changed:
            type_ = self._column_type(table, c).compile(dialect=self.engine.dialect)
            out.append(
                f"ALTER TABLE {q(table.name)} ALTER COLUMN {q(c.name)} TYPE {type_} "
                f"USING {converted(q(c.name), found.family, c.type, type_)}"
            )
        return out

    def _add_columns(self, conn: sa.Connection, table: str, columns: list[sa.Column[Any]]) -> None:
        """Add ``columns`` to ``table``, nullable even when required: the rows already in
        the table have no value for them.

        One ``ALTER TABLE`` per column (SQLite and DuckDB take no more);
        :attr:`ADD_COLUMNS_AT_ONCE` dialects get one statement for them all: a drift that
        brings hundreds of headers is one catalog change, not hundreds."""
        clauses = [
            f"ADD COLUMN {self.quote(c.name)} {c.type.compile(dialect=self.engine.dialect)}"
            for c in columns
        ]
        statements = [", ".join(clauses)] if self.ADD_COLUMNS_AT_ONCE else clauses
        for statement in statements:
            conn.execute(sa.text(f"ALTER TABLE {self.quote(table)} {statement}"))

    def _drop_not_null(self, conn: sa.Connection, table: str, columns: list[str]) -> None:
        for name in columns:
            conn.execute(
                sa.text(
                    f"ALTER TABLE {self.quote(table)} ALTER COLUMN {self.quote(name)} DROP NOT NULL"
                )
            )

    def _check_keys(self, table: TableSpec, uniques: list[Unique]) -> None:
        """Refuse to merge on keys that a unique key of the table (made for other keys)
        does not lie within: a row new by the keys could collide with another on it."""
        keys = set(table.keys)
        for unique in uniques:
            if not set(unique.columns) >= keys:
                named = unique.name and unique.kind != "its primary key"
                what = f"{unique.kind} ({unique.name})" if named else unique.kind
                raise KeysChanged(
                    table.name, unique.columns, what, table.keys, self._unkey(table, unique)
                )

    def _unkey(self, table: TableSpec, unique: Unique) -> list[str]:
        """The statements that drop ``unique`` (and ready the new keys' columns to be
        keys, where a database needs it); none where the database cannot."""
        if unique.kind == "a unique index" and unique.name:
            return [f"DROP INDEX {self.quote(unique.name)}"]
        return []

    def _keys_repeat(self, exc: sa.exc.IntegrityError, table: TableSpec) -> LoadError:
        """The unique index a merge needs on its keys could not be made: rows already in
        the table repeat the keys."""
        said = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        q = self.quote
        keys = ", ".join(q(k) for k in table.keys)
        return LoadError(
            f"table {table.name!r} holds rows with the same merge keys "
            f"[{', '.join(table.keys)}] already, so they cannot be made unique to merge on "
            f"({said}); nothing was loaded",
            hint=f"find them: SELECT {keys}, COUNT(*) FROM {q(table.name)} GROUP BY {keys} "
            "HAVING COUNT(*) > 1; then delete the extra rows, or merge on keys that are "
            "unique, and run again",
        )

    def _ensure_unique(self, conn: sa.Connection, table: TableSpec, uniques: list[Unique]) -> None:
        """A unique index on the keys of a table made under another mode (no primary key).

        A table created for ``merge`` has its primary key on the keys, and nothing more.
        """
        if any(set(u.columns) == set(table.keys) for u in uniques):
            return
        name = self.quote(unique_name(table, uniques, 63))
        keys = ", ".join(self.quote(k) for k in table.keys)
        conn.execute(
            sa.text(
                f"CREATE UNIQUE INDEX IF NOT EXISTS {name} ON {self.quote(table.name)} ({keys})"
            )
        )

    def _uniques(self, conn: sa.Connection, table: str) -> list[Unique]:
        """The primary key, unique constraints and unique indexes of ``table``."""
        inspector = sa.inspect(conn)
        pk = inspector.get_pk_constraint(table)
        found = [Unique("its primary key", pk.get("name"), list(pk["constrained_columns"]))]
        found += [
            Unique("a unique constraint", u["name"], list(u["column_names"]))
            for u in inspector.get_unique_constraints(table)
        ]
        found += [
            Unique("a unique index", ix["name"], [str(c) for c in ix["column_names"]])
            for ix in inspector.get_indexes(table)
            # PostgreSQL lists a unique constraint's index as well
            if ix["unique"] and not ix.get("duplicates_constraint")
        ]
        return [u for u in found if u.columns]

    def _latest_view(self, conn: sa.Connection, table: str) -> None:
        q = self.quote
        view = q(f"{table}_latest")
        conn.execute(sa.text(f"DROP VIEW IF EXISTS {view}"))
        conn.execute(
            sa.text(
                f"CREATE VIEW {view} AS SELECT t.* FROM {q(table)} t JOIN "
                f"(SELECT {q('_source')} AS s, MAX({q('_load_id')}) AS l FROM {q(table)} "
                f"GROUP BY {q('_source')}) m ON t.{q('_source')} = m.s AND t.{q('_load_id')} = m.l"
            )
        )


def _filled(column: Any) -> bool:
    """Whether the database fills this reflected column when a row leaves it out."""
    return bool(
        column.get("default") is not None
        or column.get("identity")
        or column.get("computed")
        or column.get("autoincrement") is True
    )


def _made_meanwhile(exc: sa.exc.SQLAlchemyError) -> bool:
    """Whether DDL failed because another process made the same object just before."""
    text = str(getattr(exc, "orig", exc)).lower()
    return (
        "already exists" in text  # PostgreSQL, SQLite, MySQL (1050), DuckDB
        or "pg_type_typname_nsp_index" in text  # PostgreSQL: a CREATE racing another
        or "duplicate key name" in text  # MySQL 1061: an index
    )
