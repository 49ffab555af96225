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


def json_text(expr: pl.Expr) -> pl.Expr:
    """A nested value (list, struct) as its JSON text; null stays null.

    Polars' own rendering of nested values is lossy (``{1,"x"}`` drops the keys), and
    bulk paths take text: this is the one place nested values become JSON.
    """
    text = pl.struct(expr.alias("v")).struct.json_encode()
    return pl.when(expr.is_not_null()).then(text.str.strip_prefix('{"v":').str.strip_suffix("}"))
