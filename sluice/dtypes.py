"""The Polars dtype of each declared column type, and nested values as JSON text.

Kept apart from :mod:`sluice.schema` so that reading a project file (``load_project``)
never imports Polars: 0.39 -> 0.18-0.25 s for a script that only reads one. ``sluice
validate`` still imports it: it runs the steps on an empty frame.
"""

from __future__ import annotations

import polars as pl

#: Declared type -> Polars dtype.
POLARS_TYPES: dict[str, pl.DataType] = {
    "string": pl.String(),
    "integer": pl.Int64(),
    "float": pl.Float64(),
    "decimal": pl.Decimal(38, 6),
    "boolean": pl.Boolean(),
    "date": pl.Date(),
    "datetime": pl.Datetime("us", "UTC"),
    "list": pl.List(pl.String()),
}


def repeated(value: object, length: int, dtype: pl.DataType, name: str = "") -> pl.Series:
    """``length`` copies of ``value`` (None: nulls) as a Series of ``dtype``.

    ``pl.repeat(..., eager=True)`` and ``extend_constant`` each run a query: 0.39-0.43
    CPU-ms for a 19,000-row batch, where copying one value's slot takes 0.014-0.018
    (several a batch, in the date and decimal casts)."""
    return pl.Series(name, [value], dtype=dtype).new_from_index(0, length)


def json_text(expr: pl.Expr) -> pl.Expr:
    """A nested value (list, struct) as its JSON text; null stays null.

    Polars' own rendering of nested values is lossy (``{1,"x"}`` drops the keys), and
    bulk paths take text: this is the one place nested values become JSON.
    """
    text = pl.struct(expr.alias("v")).struct.json_encode()
    return pl.when(expr.is_not_null()).then(text.str.strip_prefix('{"v":').str.strip_suffix("}"))


def json_ready(frame: pl.DataFrame, keep: frozenset[str] = frozenset()) -> pl.DataFrame:
    """``frame`` with the values JSON cannot hold as text: dates, times, decimals,
    durations, bytes and nested values. A quarantine entry's payload is JSON (a Parquet
    row with a date made the state store's write fail the run), and a replay reads the
    text back as it reads a CSV field: dates and times in ISO form, which the default
    formats take. ``keep``: columns left as they are."""
    exprs: list[pl.Expr] = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if name in keep:
            continue
        if isinstance(dtype, pl.Datetime):
            fmt = "%Y-%m-%dT%H:%M:%S%.f" + ("%:z" if dtype.time_zone else "")
            exprs.append(col.dt.to_string(fmt).alias(name))
        elif isinstance(dtype, pl.Duration):
            exprs.append(col.dt.total_microseconds().cast(pl.String).alias(name))
        elif isinstance(dtype, (pl.List, pl.Array, pl.Struct)):
            exprs.append(json_text(col).alias(name))
        elif isinstance(dtype, pl.Binary):
            exprs.append(col.bin.encode("hex").alias(name))
        elif isinstance(dtype, (pl.Date, pl.Time, pl.Decimal, pl.Categorical, pl.Enum)):
            exprs.append(col.cast(pl.String).alias(name))
        elif isinstance(dtype, pl.Object):
            exprs.append(col.map_elements(str, return_dtype=pl.String).alias(name))
    return frame.with_columns(exprs) if exprs else frame
