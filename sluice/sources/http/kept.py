"""A pull kept for the dead letter: the spool of what a pull read, and its JSON Lines copy.

While a pull runs under ``drift: quarantine``, every item it hands over (a page's
records, or payloads that were not records) is spooled to a temporary file: if the
pull is set aside, nothing of it has to be fetched again. The copy written from the
spool has one record a line, ``{"page": url, "record": {...}}``, or one payload that
was not a record, ``{"bad": payload, "reason": why}``; :func:`read` gives the items
back as the pull handed them over, one per page, for a replay.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from sluice.sources.base import HideRaw, HideRecords


class Spool:
    """Items of a pull, in order, on disk (closed by :meth:`close`)."""

    def __init__(self) -> None:
        self._file: IO[str] | None = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115

    def add(self, kind: str, payload: Any) -> None:
        if self._file is not None:
            self._file.write(_line([kind, payload]))

    def items(self) -> Iterator[tuple[str, Any]]:
        if self._file is None:
            return
        self._file.flush()
        self._file.seek(0)
        for text in self._file:
            kind, payload = json.loads(text)
            yield kind, payload

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def write(
    dest: Path,
    items: Iterator[tuple[str, Any]],
    hide: HideRecords | None = None,
    hide_raw: HideRaw | None = None,
) -> None:
    """The copy at ``dest``: ``hide`` applied to each page's records, ``hide_raw`` to
    each payload that was not a record (the engine's PII policies)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest, "w", encoding="utf-8") as out:
        for kind, payload in items:
            if kind == "bad":
                for raw, reason in payload:
                    raw = hide_raw(raw) if hide_raw is not None else raw
                    out.write(_line({"bad": raw, "reason": reason}))
                continue
            where, records = payload
            for r in hide(records) if hide is not None else records:
                out.write(_line({"page": where, "record": r}))


def read(path: Path) -> Iterator[tuple[str, Any]]:
    """A kept pull's items, as the pull handed them over: one per page, bad ones apart."""
    where: str | None = None
    records: list[dict[str, Any]] = []
    with open(path, encoding="utf-8") as f:
        for text in f:
            if not text.strip():
                continue
            item = json.loads(text)
            if "bad" in item or item.get("page") != where:
                if records:
                    yield "records", (where, records)
                where, records = None, []
            if "bad" in item:
                yield "bad", [(item["bad"], item.get("reason", ""))]
                continue
            where = item["page"]
            records.append(item["record"])
    if records:
        yield "records", (where, records)


def _line(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str) + "\n"
