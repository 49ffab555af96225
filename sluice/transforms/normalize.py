"""Normalize: one validated record frame -> the related tables of the layout.

The record (``table``) is validated as one flat row; :class:`Layout` then says which of
its columns stay in the root table and which go to child, lookup, list and restricted
tables, with their keys and foreign keys. :meth:`Splitter.split` does it per batch with
Polars expressions (select, unique, explode), never a Python loop per record.

Keys: the root's declared ``keys``, else ``_key``, a hash of the whole record, so a
re-run of the same data gives the same keys. A lookup without natural keys gets ``id``,
a hash of its columns, and the root a ``<lookup>_id`` column pointing to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from sluice.batch import LINE
from sluice.config import ChildTable, PipelineConfig
from sluice.schema import ColumnSpec, ForeignKey, TableSpec
from sluice.transforms.cast import cast
from sluice.transforms.hashing import sha256_hex
from sluice.transforms.steps import ENGINE

RECORD_KEY = "_key"
POSITION = "position"
_SEP = "\x1f"  # between values of a hashed key; cannot occur in a sane value
_NULL = "\x00"


def hash_key(columns: list[str]) -> pl.Expr:
    """A deterministic key from ``columns`` (nulls and empty strings differ)."""
    parts = [pl.col(c).cast(pl.String).fill_null(_NULL) for c in columns]
    return sha256_hex(pl.concat_str(parts, separator=_SEP)).str.slice(0, 32)


@dataclass
class Part:
    """One table of the layout and where its columns come from."""

    spec: TableSpec
    kind: str  # root | child | lookup | list | restricted
    source: dict[str, str] = field(default_factory=dict)  # table column -> record column
    list_column: str | None = None
    item_types: dict[str, str] = field(default_factory=dict)  # list: column -> type


class Layout:
    """The tables one pipeline's records are loaded into (one, unless normalized)."""

    def __init__(self, pipe: PipelineConfig, extra: list[str] | None = None) -> None:
        self.pipe = pipe
        #: the root's columns ``drift: evolve`` added (text, nullable)
        self.extra = list(extra or [])
        types: dict[str, str] = {n: c.type for n, c in pipe.table.columns.items()}
        types.update(dict.fromkeys(self.extra, "string"))
        self.types = types
        # `required` columns are NOT NULL (validation quarantines a record without the
        # value before it is loaded). Columns added by `evolve` are not declared: nullable.
        self.required = {n for n, c in pipe.table.columns.items() if c.required}
        policies = {n: c.pii for n, c in pipe.table.columns.items()}
        self.root_name = pipe.table.name
        linked = (
            any(not t.lookup for t in pipe.tables.values()) or "restricted" in policies.values()
        )
        # Tables that point back to the record need a key: the declared one or a hash.
        self.keys = list(pipe.table.keys) or ([RECORD_KEY] if linked else [])
        key_types: dict[str, str] = {k: types.get(k, "string") for k in self.keys}
        merge = pipe.destination.mode == "merge"
        parent_fk = (
            [ForeignKey(tuple(self.keys), self.root_name, tuple(self.keys))] if merge else []
        )
        lookups: list[Part] = []
        children: list[Part] = []
        moved: set[str] = {n for n, p in policies.items() if p in ("drop", "restricted")}
        refs: dict[str, tuple[str, str]] = {}  # root column -> (lookup, its key column)
        hashed_refs: dict[str, tuple[str, list[str]]] = {}  # root column -> (lookup, sources)

        for name, t in pipe.tables.items():
            if t.lookup:
                lookups.append(self._lookup(name, t, refs, hashed_refs, moved))
            elif t.list_of:
                children.append(self._list(name, t, key_types, parent_fk))
                moved.add(t.list_of)
            else:
                children.append(self._child(name, t, key_types, parent_fk, t.restricted))
                moved |= {c.source for c in t.columns.values()} - set(self.keys)
        placed = {
            c.source for t in pipe.tables.values() if t.restricted for c in t.columns.values()
        }
        leftover = [n for n, p in policies.items() if p == "restricted" and n not in placed]
        if leftover:
            name = pipe.restricted_table or f"{self.root_name}_restricted"
            table = ChildTable.model_validate({"columns": {c: c for c in leftover}})
            children.append(self._child(name, table, key_types, parent_fk, True))

        root_cols = [ColumnSpec(k, "string", False) for k in self.keys if k == RECORD_KEY]
        root_cols += [
            ColumnSpec(n, t, n not in self.required) for n, t in types.items() if n not in moved
        ]
        root_cols += [ColumnSpec(c, "string") for c in hashed_refs]
        fks = [ForeignKey((col,), lookup, (key,)) for col, (lookup, key) in refs.items()]
        fks += [ForeignKey((c,), lk, ("id",)) for c, (lk, _) in hashed_refs.items()]
        root = TableSpec(self.root_name, root_cols, list(pipe.table.keys), fks if merge else [])
        self.hashed_refs = hashed_refs
        self.parts = [*lookups, Part(root, "root"), *children]

    # ------------------------------------------------------------------ building

    def _lookup(
        self,
        name: str,
        t: ChildTable,
        refs: dict[str, tuple[str, str]],
        hashed: dict[str, tuple[str, list[str]]],
        moved: set[str],
    ) -> Part:
        source = {c: col.source for c, col in t.columns.items()}
        cols = [
            ColumnSpec(c, self.types[s], c not in t.keys and s not in self.required)
            for c, s in source.items()
        ]
        if t.keys:
            for k in t.keys:
                refs[source[k]] = (name, k)
            moved |= {s for c, s in source.items() if c not in t.keys}
            return Part(TableSpec(name, cols, list(t.keys)), "lookup", source)
        hashed[f"{name}_id"] = (name, list(source.values()))
        moved |= set(source.values())
        spec = TableSpec(name, [ColumnSpec("id", "string", False), *cols], ["id"])
        return Part(spec, "lookup", source)

    def _child(
        self,
        name: str,
        t: ChildTable,
        key_types: dict[str, str],
        fks: list[ForeignKey],
        restricted: bool,
    ) -> Part:
        source = {k: k for k in self.keys}
        source.update({c: col.source for c, col in t.columns.items()})
        cols = [ColumnSpec(k, key_types[k], False) for k in self.keys]
        cols += [
            ColumnSpec(c, self.types[s], s not in self.required)
            for c, s in source.items()
            if c not in self.keys
        ]
        spec = TableSpec(name, cols, list(self.keys), list(fks))
        return Part(spec, "restricted" if restricted else "child", source)

    def _list(
        self, name: str, t: ChildTable, key_types: dict[str, str], fks: list[ForeignKey]
    ) -> Part:
        cols = [ColumnSpec(k, key_types[k], False) for k in self.keys]
        cols.append(ColumnSpec(POSITION, "integer", False))
        item_types: dict[str, str] = {c: col.type or "string" for c, col in t.columns.items()}
        cols += [ColumnSpec(c, ty) for c, ty in item_types.items()]
        spec = TableSpec(name, cols, [*self.keys, POSITION], list(fks))
        source = {c: col.source for c, col in t.columns.items()}
        return Part(spec, "list", source, t.list_of, item_types)

    # ------------------------------------------------------------------ using

    @property
    def split_up(self) -> bool:
        """Whether records go to more than one table (else the plain one-table path)."""
        return len(self.parts) > 1

    @property
    def root(self) -> TableSpec:
        return next(p.spec for p in self.parts if p.kind == "root")

    def splitter(self) -> Splitter:
        return Splitter(self)


class Splitter:
    """Splits record batches of one load; lookup rows are sent once per load."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.seen: dict[str, pl.DataFrame] = {}

    def keyed(self, wide: pl.DataFrame) -> pl.DataFrame:
        """The records with their key and hashed lookup references."""
        lay = self.layout
        adds: list[pl.Expr] = []
        if lay.keys == [RECORD_KEY]:
            record = [c for c in lay.types if c in wide.columns]
            adds.append(hash_key(record).alias(RECORD_KEY))
        for col, (_, sources) in lay.hashed_refs.items():
            present = pl.any_horizontal(pl.col(s).is_not_null() for s in sources)
            adds.append(pl.when(present).then(hash_key(sources)).alias(col))
        return wide.with_columns(adds) if adds else wide

    def items(self, wide: pl.DataFrame, part: Part) -> tuple[pl.DataFrame, pl.DataFrame]:
        """A list table's rows, typed, and (line, reason) of records whose items fail."""
        assert part.list_column is not None
        dtype = _item_dtype(list(part.source.values()))
        keys = self.layout.keys
        wide, broken = _decodable(wide, part.list_column, dtype)
        rows = (
            wide.select(*keys, LINE, pl.col(part.list_column).str.json_decode(dtype).alias("_i"))
            .with_columns(pl.int_ranges(pl.col("_i").list.len()).alias(POSITION))
            .explode("_i", POSITION)
            .filter(pl.col(POSITION).is_not_null())
        )
        fields = {c: _item_expr(pl.col("_i"), s).alias(c) for c, s in part.source.items()}
        rows = rows.select(*keys, LINE, pl.col(POSITION).cast(pl.Int64), *fields.values())
        typed, reasons = [], []
        for c, ty in part.item_types.items():
            value, reason = cast(c, pl.String(), ty)
            typed.append(value.alias(c))
            reasons.append(reason)
        checked = rows.with_columns(pl.concat_list(reasons).list.drop_nulls().alias("_reasons"))
        bad = checked.filter(pl.col("_reasons").list.len() > 0).select(LINE, "_reasons")
        bad = pl.concat([broken, bad]) if broken.height else bad
        good = checked.with_columns(typed).select(*keys, POSITION, *part.item_types)
        return good, bad

    def split(self, wide: pl.DataFrame) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
        """(rows per table, in the layout's order; records refused: ``_line``, ``_reasons``).

        ``wide`` holds validated records with their ``_line``.
        """
        lay = self.layout
        data = self.keyed(wide)
        lists = {p.spec.name: self.items(data, p) for p in lay.parts if p.kind == "list"}
        bad = (
            pl.concat(
                [b for _, b in lists.values()],
                how="vertical",
            )
            if lists
            else pl.DataFrame(schema={LINE: pl.Int64, "_reasons": pl.List(pl.String)})
        )
        if bad.height:
            bad = bad.group_by(LINE, maintain_order=True).agg(pl.col("_reasons").explode())
            refused = bad.get_column(LINE)
            data = data.filter(~pl.col(LINE).is_in(refused.implode()))
        out: dict[str, pl.DataFrame] = {}
        for p in lay.parts:
            name = p.spec.name
            if p.kind == "list":
                good = lists[name][0]
                if bad.height:
                    keep = data.select(lay.keys)
                    good = good.join(keep, on=lay.keys, how="semi")
                out[name] = good
            elif p.kind == "root":
                # A column `evolve` added once this load's first records were validated
                # (a later file brought it) is null for those records.
                out[name] = data.select(
                    pl.lit(None, pl.String).alias(c)
                    if c in lay.extra and c not in data.columns
                    else pl.col(c)
                    for c in p.spec.column_names
                )
            elif p.kind == "lookup":
                out[name] = self._lookup_rows(data, p)
            else:
                cols = [pl.col(s).alias(c) for c, s in p.source.items()]
                rows = data.select(cols)
                values = [c for c in p.source if c not in lay.keys]
                # A record without any of the child's values has no child row; nor one
                # whose restricted values are all empty (nothing there to keep apart).
                kept = _restricted_value if p.kind == "restricted" else _value
                out[name] = rows.filter(pl.any_horizontal(kept(c, rows.schema[c]) for c in values))
        return out, bad

    def _lookup_rows(self, data: pl.DataFrame, part: Part) -> pl.DataFrame:
        keys = part.spec.keys
        values = list(part.source)
        # One query per batch (each eager step cost ~1 ms of set-up, 0.7 s of the
        # normalize bench's 55 batches): few distinct values, so deduplicate first and
        # the rest works on a handful.
        rows = data.lazy().select(pl.col(s).alias(c) for c, s in part.source.items())
        rows = rows.filter(pl.any_horizontal(pl.col(c).is_not_null() for c in values))
        if keys == ["id"]:
            rows = rows.unique(maintain_order=True)
            rows = rows.select(hash_key(list(part.source)).alias("id"), *values)
        else:
            rows = rows.filter(pl.all_horizontal(pl.col(k).is_not_null() for k in keys))
            rows = rows.unique(subset=keys, keep="first", maintain_order=True)
        seen = self.seen.get(part.spec.name)
        if seen is not None:
            rows = rows.join(seen.lazy(), on=keys, how="anti", maintain_order="left")
        fresh = rows.collect(engine=ENGINE)
        self.seen[part.spec.name] = (
            fresh.select(keys) if seen is None else pl.concat([seen, fresh.select(keys)])
        )
        return fresh


def _value(column: str, _dtype: pl.DataType) -> pl.Expr:
    """Whether a child row's column holds a value: not null."""
    return pl.col(column).is_not_null()


def _restricted_value(column: str, dtype: pl.DataType) -> pl.Expr:
    """Whether a restricted column holds a value: not null, and text not blank."""
    if dtype != pl.String:
        return pl.col(column).is_not_null()
    return pl.col(column).str.strip_chars().str.len_chars().fill_null(0) > 0


def _decodable(
    wide: pl.DataFrame, column: str, dtype: pl.DataType
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``wide`` with the column's broken JSON nulled, and (line, reason) of those records.

    Polars refuses a whole column for one bad value: only then is each value tried.
    """
    empty = pl.DataFrame(schema={LINE: pl.Int64, "_reasons": pl.List(pl.String)})
    try:
        wide.select(pl.col(column).str.json_decode(dtype))
        return wide, empty
    except pl.exceptions.PolarsError:
        pass
    ok = []
    for value in wide.get_column(column).to_list():
        try:
            pl.Series([value], dtype=pl.String).str.json_decode(dtype)
            ok.append(True)
        except pl.exceptions.PolarsError:
            ok.append(False)
    good = pl.Series(ok, dtype=pl.Boolean)
    bad = wide.filter(~good).select(
        LINE,
        pl.concat_list(pl.lit(f"{column}: not a JSON array of the declared items")).alias(
            "_reasons"
        ),
    )
    return wide.with_columns(pl.when(good).then(pl.col(column)).alias(column)), bad


def _item_dtype(paths: list[str]) -> pl.DataType:
    """The JSON dtype that reads every ``path`` of a list's items as text."""
    if any(p in (".", "") for p in paths):
        return pl.List(pl.String)
    tree: dict[str, Any] = {}
    for path in paths:
        node = tree
        parts = path.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node.setdefault(parts[-1], None)

    def build(node: dict[str, Any]) -> pl.DataType:
        return pl.Struct({k: pl.String if v is None else build(v) for k, v in node.items()})

    return pl.List(build(tree))


def _item_expr(item: pl.Expr, path: str) -> pl.Expr:
    if path in (".", ""):
        return item
    for part in path.split("."):
        item = item.struct.field(part)
    return item


__all__ = ["RECORD_KEY", "Layout", "Part", "Splitter", "hash_key"]
