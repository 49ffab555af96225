"""The Polars dtype of each declared column type, and nested values as JSON text.

Kept apart from :mod:`sluice.schema` so that reading a project file (``load_project``,
``sluice --help``, the service's views of it) never imports Polars, about 0.15 s of
start-up. ``sluice validate`` still does: it runs the steps on an empty frame.
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
