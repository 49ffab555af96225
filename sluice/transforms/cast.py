"""Casting text to declared types as Polars expressions, with the reason a value failed.

A cast never turns a bad value into a silent null: :func:`cast` returns the typed
value and an expression that is a readable reason where the input was present but
could not be converted, for the row's quarantine entry.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Literal

import polars as pl

from sluice.schema import POLARS_TYPES, json_text

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


EPOCHS: dict[str, Literal["s", "ms", "us"]] = {"epoch_s": "s", "epoch_ms": "ms", "epoch_us": "us"}


def _epoch(text: pl.Series, fmt: str) -> pl.Series:
    """Numbers since 1970 (APIs love epoch milliseconds) as UTC datetimes."""
    number = text.str.strip_chars().cast(pl.Int64, strict=False)
    unit = EPOCHS[fmt]
    return pl.from_epoch(number, time_unit=unit).dt.replace_time_zone("UTC")


def _date(text: pl.Series, fmt: str) -> pl.Series:
    if fmt in EPOCHS:
        return _epoch(text, fmt).dt.date()
    return text.str.strptime(pl.Date, fmt, strict=False, exact=True)


def _datetime(text: pl.Series, fmt: str) -> pl.Series:
    if fmt in EPOCHS:
        return _epoch(text, fmt)
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


def _items(text: pl.Series, separator: str) -> pl.Series:
    """``"a, b"`` -> ``["a", "b"]``; a JSON array (``'["a","b"]'``) is read as JSON.

    Blank items are dropped, so ``""`` is the empty list; null stays null.
    """
    is_json = text.str.starts_with("[").fill_null(False)
    index = pl.int_range(0, len(text), eager=True)
    split = (
        text.filter(~is_json)
        .str.split(separator)
        .list.eval(pl.element().str.strip_chars())
        .list.eval(pl.element().filter(pl.element().str.len_chars() > 0))
    )
    parts = [pl.DataFrame({"i": index.filter(~is_json), "v": split})]
    if is_json.any():
        arrays = text.filter(is_json)
        try:
            decoded = arrays.str.json_decode(pl.List(pl.String))
        except pl.exceptions.PolarsError:  # one bad array: value by value, bad ones null
            decoded = pl.Series([_json_list(v) for v in arrays], dtype=pl.List(pl.String))
        parts.append(pl.DataFrame({"i": index.filter(is_json), "v": decoded}))
    return pl.concat(parts).sort("i").get_column("v").alias(text.name)


def _json_list(value: str) -> list[str] | None:
    try:
        parsed = json.loads(value)
    except ValueError:
        return None
    return [str(v) for v in parsed] if isinstance(parsed, list) else None


def cast_value(
    expr: pl.Expr,
    source: pl.DataType,
    to: str,
    formats: list[str] | None = None,
    separator: str = ",",
) -> pl.Expr:
    target = POLARS_TYPES[to]
    if to == "list":
        if isinstance(source, pl.List):
            return expr.cast(target, strict=False)
        text = expr.cast(pl.String) if source != pl.String else expr
        return text.map_batches(lambda s: _items(s, separator), return_dtype=target)
    if source != pl.String:
        if to == "string" and isinstance(source, (pl.Struct, pl.List, pl.Array)):
            return json_text(expr)
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
        if len(fmts) == 1 and fmts[0] not in EPOCHS:
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
    name: str,
    source: pl.DataType,
    to: str,
    formats: list[str] | None = None,
    separator: str = ",",
) -> tuple[pl.Expr, pl.Expr]:
    """(typed value, reason where the value could not be cast else null) for column ``name``."""
    col = pl.col(name)
    value = cast_value(col, source, to, formats, separator)
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
