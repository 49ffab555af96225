"""JSON documents: a list of records (``[{...}, {...}]``), or one inside an object.

A JSON document has no lines to stream by: it is parsed whole, by Python's ``json``
(numbers keep every digit written: :mod:`sluice.jsonnumbers`), and its records become
text columns as an HTTP source's do (:mod:`sluice.sources.http.records`): nested objects
flattened when ``flatten`` is on, else kept as JSON text, lists as JSON text. A record's
``_line`` is its place in the list (``data.json:3`` is the third record), as for an
API's records. Large data belongs in JSON Lines, which is streamed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import IO, Any, NoReturn

import polars as pl

from sluice import jsonnumbers
from sluice.batch import LINE, Batch, Reject
from sluice.errors import SourceError, Where
from sluice.jsonnumbers import twice_named
from sluice.sources.http.records import flatten as flattened
from sluice.sources.http.records import frame, pick

Opener = Callable[[], IO[bytes]]

#: records per batch: a document is in memory already; this bounds each frame
BATCH_RECORDS = 20_000


def read_json(
    open_bytes: Opener, *, stream: str, unit: str, records: str, flatten: bool
) -> tuple[list[str], Callable[[], Iterator[Batch]]]:
    """The document's columns (every record's keys, in the order first seen) and its
    records in batches."""
    found = _records(open_bytes, stream, unit, records)
    # A record whose object names a key twice is set aside with its place in the list
    # (JSON readers keep either value); it still counts as a record read.
    twice = {i: why for i, r in enumerate(found, start=1) if (why := twice_named(r))}
    rows = [flattened(r, nested=flatten) for r in found]
    columns = list(dict.fromkeys(k for i, r in enumerate(rows, 1) if i not in twice for k in r))

    def batches() -> Iterator[Batch]:
        for start in range(0, len(rows), BATCH_RECORDS):
            chunk = rows[start : start + BATCH_RECORDS]
            data = frame(chunk, start + 1, columns)
            lines = [i for i in twice if start < i <= start + BATCH_RECORDS]
            rejects = [Reject(i, json.dumps(found[i - 1], default=str), twice[i]) for i in lines]
            if lines:
                data = data.filter(~pl.col(LINE).is_in(lines))
            yield Batch(stream, unit, data, rejects)

    return columns, batches


def _records(open_bytes: Opener, stream: str, unit: str, path: str) -> list[dict[str, Any]]:
    with open_bytes() as f:
        data = f.read()
    try:
        # A UTF-8 byte order mark is skipped, as in a CSV or JSON Lines file.
        body = jsonnumbers.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"cannot read JSON: byte {exc.start + 1} is not UTF-8",
            where=Where(file=unit),
            hint="JSON is UTF-8: convert the file (iconv -f cp1252 -t utf-8)",
        ) from None
    except json.JSONDecodeError as exc:
        raise SourceError(
            f"cannot parse JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
            where=Where(file=unit, line=exc.lineno),
            hint=f"the file must be one JSON document; if it holds one object a line, set "
            f"format: jsonl on source {stream!r}, then `sluice quarantine replay`",
        ) from None
    found = pick(body, path) if path else body
    if isinstance(found, list) and all(isinstance(r, dict) for r in found):
        return found
    at = f"at records {path!r}" if path else "at its top"
    kind = (
        "an object"
        if isinstance(found, dict)
        else "a list of values"
        if isinstance(found, list)
        else json.dumps(found)[:40]
    )
    _refused(found, at, kind, stream, unit, path)


def _refused(found: Any, at: str, kind: str, stream: str, unit: str, path: str) -> NoReturn:
    """A document whose records are not where the source looks: the hint names the
    path of a list of objects in it, where there is one."""
    lists = _record_lists(found if isinstance(found, dict) else {}, path)
    if lists:
        hint = f"set records: {lists[0]} on source {stream!r} (its list of objects)"
    else:
        hint = f"set records on source {stream!r} to the path of the list of records (a.b)"
    raise SourceError(
        f"the JSON document holds {kind} {at}, not a list of records",
        where=Where(file=unit),
        hint=hint + ", then `sluice quarantine replay`",
    )


def _record_lists(obj: dict[str, Any], prefix: str) -> list[str]:
    """Dotted paths under ``obj`` (two levels) that hold a non-empty list of objects."""
    out: list[str] = []
    for key, value in obj.items():
        here = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            out.append(here)
        elif isinstance(value, dict) and "." not in prefix:
            out += _record_lists(value, here)
    return out
