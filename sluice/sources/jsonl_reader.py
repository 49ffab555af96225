"""JSON Lines: blocks of whole lines parsed by Polars, nested objects flattened, all text.

Every value comes out as text, like a CSV field, and the table's declared types are
applied by the same casts as for CSV: a field that is a number in one record and a
string in the next (``postcode``) never breaks a batch. Nested objects become
``parent_child`` columns when ``flatten`` is on, else their JSON text; lists are kept
as JSON text (a normalized layout turns them into child tables). Line numbers are the
file's own, blank lines included.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import IO

import numpy as np
import polars as pl

from sluice.batch import LINE, Batch
from sluice.errors import SourceError, Where
from sluice.schema import json_text

Opener = Callable[[], IO[bytes]]


def _blocks(f: IO[bytes], size: int) -> Iterator[bytes]:
    """Blocks of about ``size`` bytes that end at a line end."""
    rest = b""
    while True:
        chunk = f.read(size)
        if not chunk:
            if rest:
                yield rest
            return
        data = rest + chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            rest = data
            continue
        yield data[: cut + 1]
        rest = data[cut + 1 :]


def flat_text(frame: pl.DataFrame, *, flatten: bool, sep: str = "_") -> pl.DataFrame:
    """Every column as text; struct columns unnested into ``parent_child`` columns."""
    exprs: list[pl.Expr] = []

    def walk(expr: pl.Expr, name: str, dtype: pl.DataType) -> None:
        if isinstance(dtype, pl.Struct) and flatten and dtype.fields:
            for f in dtype.fields:
                walk(
                    expr.struct.field(f.name),
                    f"{name}{sep}{f.name}",
                    f.dtype() if isinstance(f.dtype, type) else f.dtype,
                )
        elif isinstance(dtype, (pl.Struct, pl.List, pl.Array)):
            exprs.append(json_text(expr).alias(name))
        elif dtype == pl.Boolean:
            text = pl.when(expr).then(pl.lit("true")).otherwise(pl.lit("false"))
            exprs.append(pl.when(expr.is_not_null()).then(text).alias(name))
        else:
            exprs.append(expr.cast(pl.String).alias(name))

    for name, dtype in frame.schema.items():
        walk(pl.col(name), name, dtype)
    return frame.select(exprs)


def read_jsonl(
    open_bytes: Opener, *, stream: str, unit: str, block_size: int, flatten: bool
) -> tuple[list[str], Callable[[], Iterator[Batch]]]:
    def parse(block: bytes, first_line: int) -> pl.DataFrame:
        lines = block.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        numbers = [first_line + i for i, line in enumerate(lines) if line.strip()]
        if not numbers:
            return pl.DataFrame({LINE: pl.Series([], dtype=pl.Int64)})
        try:
            frame = pl.read_ndjson(io.BytesIO(block), infer_schema_length=None)
        except (pl.exceptions.PolarsError, ValueError) as exc:
            raise SourceError(
                f"cannot parse JSON Lines: {str(exc).splitlines()[0]}",
                where=Where(file=unit, line=numbers[0]),
                hint="every line must be one JSON object",
            ) from None
        if frame.height != len(numbers):
            raise SourceError(
                f"cannot parse JSON Lines: {len(numbers)} lines gave {frame.height} records",
                where=Where(file=unit, line=numbers[0]),
                hint="every line must be one JSON object",
            )
        text = flat_text(frame, flatten=flatten)
        return text.with_columns(pl.Series(LINE, np.asarray(numbers, dtype=np.int64)))

    def frames() -> Iterator[pl.DataFrame]:
        line = 1
        with open_bytes() as f:
            for block in _blocks(f, block_size):
                yield parse(block, line)
                line += block.count(b"\n")

    first = next((f for f in frames() if f.height), None)
    columns = [c for c in first.columns if c != LINE] if first is not None else []

    def batches() -> Iterator[Batch]:
        for frame in frames():
            if not frame.height:
                continue
            # Fields a later block adds are kept (their rows show them in quarantine);
            # fields it lacks are null.
            missing = [pl.lit(None, pl.String).alias(c) for c in columns if c not in frame.columns]
            yield Batch(stream, unit, frame.with_columns(missing) if missing else frame)

    return columns, batches
