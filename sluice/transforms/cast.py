"""Casting text to declared types as Polars expressions, with the reason a value failed.

A cast never turns a bad value into a silent null: :func:`cast` returns the typed
value and an expression that is a readable reason where the input was present but
could not be converted, for the row's quarantine entry.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from sluice.schema import POLARS_TYPES

DEFAULT_FORMATS = {
    "date": ["%Y-%m-%d"],
    "datetime": [
        # %#z takes "Z" as well as +02:00 / +0200 (APIs mostly send Z).
        "%Y-%m-%dT%H:%M:%S%.f%#z",
        "%Y-%m-%d %H:%M:%S%.f%#z",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d",
    ],
}
TRUE = ["true", "t", "yes", "y", "1"]
FALSE = ["false", "f", "no", "n", "0"]


def _date(text: pl.Series, fmt: str) -> pl.Series:
    return text.str.strptime(pl.Date, fmt, strict=False, exact=True)


def _datetime(text: pl.Series, fmt: str) -> pl.Series:
    if any(z in fmt for z in ("%z", "%#z", "%:z")):
        return text.str.strptime(pl.Datetime("us", "UTC"), fmt, strict=False, exact=True)
    naive = text.str.strptime(pl.Datetime("us"), fmt, strict=False, exact=True)
    return naive.dt.replace_time_zone("UTC")


def _first_format(
    text: pl.Series, formats: list[str], parse: Callable[[pl.Series, str], pl.Series]
) -> pl.Series:
    """Each value parsed with the first format that fits it.

    A later format only sees the values the earlier ones left unparsed: a column in one
    format costs one parse, where trying every format on every value cost one per format.
    """
    out = parse(text, formats[0])
    for fmt in formats[1:]:
        todo = out.is_null() & text.is_not_null()
        if not todo.any():
            break
        rest = parse(text.filter(todo), fmt)
        out = out.scatter(todo.arg_true(), rest)
    return out


def cast_value(
    expr: pl.Expr, source: pl.DataType, to: str, formats: list[str] | None = None
) -> pl.Expr:
    target = POLARS_TYPES[to]
    if source != pl.String:
        if to == "string" and isinstance(source, (pl.Struct, pl.List, pl.Array)):
            # Nested values (JSON objects and arrays) are kept as JSON text, not as
            # Polars' lossy rendering ('{1,"x"}' drops the keys).
            text = pl.struct(expr.alias("v")).struct.json_encode()
            text = text.str.strip_prefix('{"v":').str.strip_suffix("}")
            return pl.when(expr.is_null()).then(None).otherwise(text)
        if to == "string":
            return expr.cast(pl.String)
        if to == "date" and isinstance(source, pl.Datetime):
            return expr.dt.date()
        return expr.cast(target, strict=False)
    text = expr.str.strip_chars()
    if to == "string":
        return expr
    if to == "date":
        fmts = formats or DEFAULT_FORMATS["date"]
        if len(fmts) == 1:
            return text.str.strptime(pl.Date, fmts[0], strict=False, exact=True)
        return text.map_batches(lambda s: _first_format(s, fmts, _date), return_dtype=pl.Date)
    if to == "datetime":
        fmts = formats or DEFAULT_FORMATS["datetime"]
        dtype = pl.Datetime("us", "UTC")
        return text.map_batches(lambda s: _first_format(s, fmts, _datetime), return_dtype=dtype)
    if to == "boolean":
        lower = text.str.to_lowercase()
        return (
            pl.when(lower.is_in(TRUE))
            .then(True)
            .when(lower.is_in(FALSE))
            .then(False)
            .otherwise(None)
        )
    if to == "integer":
        # "1,200" and "12.0" are common in exports; "12.5" is not an integer. Parsed as
        # text, not through a float, so integers past 2**53 stay exact.
        clean = text.str.replace_all(",", "", literal=True).str.replace(r"\.0*$", "")
        return clean.cast(pl.Int64, strict=False)
    if to in ("float", "decimal"):
        return text.str.replace_all(",", "", literal=True).cast(target, strict=False)
    raise ValueError(f"unknown type {to}")


def cast(
    name: str, source: pl.DataType, to: str, formats: list[str] | None = None
) -> tuple[pl.Expr, pl.Expr]:
    """(typed value, reason where the value could not be cast else null) for column ``name``."""
    col = pl.col(name)
    value = cast_value(col, source, to, formats)
    what = f"a valid {to}"
    if to in ("date", "datetime") and source == pl.String:
        what += " (formats tried: " + ", ".join(formats or DEFAULT_FORMATS[to]) + ")"
    reason = (
        pl.when(col.is_not_null() & value.is_null())
        .then(
            pl.concat_str([pl.lit(f"{name}: '"), col.cast(pl.String), pl.lit(f"' is not {what}")])
        )
        .otherwise(None)
    )
    return value, reason
