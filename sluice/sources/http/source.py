"""The ``http`` source: one pull of a REST JSON API is one unit, loaded atomically.

How a pull is made and read is in :mod:`sluice.sources.http.pull` (the requests) and
:mod:`sluice.sources.http.reader` (columns, batches, drift between pages). Records whose
body is not what the source declares (not an object, a missing detail) become rejects
with their raw payload: quarantined, counted, never dropped.

A pull set aside (``drift: quarantine``) is kept whole: every item read is spooled to a
temporary file, the rest of the pull is read when it is set aside, and
:meth:`HttpUnit.keep_records` writes it as JSON Lines (one record, or one rejected
payload, a line) into the dead letter. A replay reads that copy (:meth:`HttpSource.kept`)
through the same reader, pages and all, and never calls the API.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sluice.config import HttpSourceConfig
from sluice.httpclient import HttpStats, HttpStatsRecord, secret_values
from sluice.redact import redact_text
from sluice.sources.base import HideRaw, HideRecords, RecordCopy, SourceContext, register
from sluice.sources.http import kept
from sluice.sources.http.reader import HttpReader


class HttpUnit:
    """One pull of the API: a new unit each time (see :meth:`fingerprint`)."""

    size = 0

    def __init__(
        self,
        stream: str,
        cfg: HttpSourceConfig,
        context: SourceContext,
        kept: Path | None = None,
    ) -> None:
        self.stream, self.cfg, self.context = stream, cfg, context
        #: a replay: the dead-letter copy of an earlier pull, read instead of the API
        self.kept = kept
        self._reader: HttpReader | None = None
        # the unit's name is shown everywhere (report, log, quarantine): secrets masked
        query_key = [cfg.auth.name] if cfg.auth and cfg.auth.location == "query" else []
        self.name = redact_text(
            cfg.base_url + (cfg.endpoint or "/"), query_key, secret_values(cfg.auth)
        )
        if cfg.page_range is not None:
            first, end = cfg.page_range
            self.name += f" (pages {first + 1}-{end})"
        self.stats = HttpStats()
        self.checkpoint: str | None = None  # the new incremental cursor, once read
        #: fields the API stopped sending after its first page -> the page it stopped at
        self.vanished: dict[str, str] = {}
        self._token = uuid.uuid4().hex

    def http_stats(self) -> HttpStatsRecord | None:
        return self.stats.as_dict()

    def fingerprint(self) -> str:
        # An API answers differently every time: each pull is a new unit for the ledger
        # (incremental state lives in the cursor, not in content hashes).
        return hashlib.sha256(f"{self.name}:{self._token}".encode()).hexdigest()

    def open(self) -> HttpReader:
        self._reader = HttpReader(self)
        return self._reader

    def copy_to(self, dest: Path) -> None:
        self.keep_records(dest)

    def record_copy(self) -> RecordCopy | None:
        return self  # a pull is kept as its records: the API cannot be asked again

    def keep_records(
        self, dest: Path, hide: HideRecords | None = None, hide_raw: HideRaw | None = None
    ) -> bool:
        """Write the pull as JSON Lines at ``dest`` (what was not read yet is read now;
        see :mod:`sluice.sources.http.kept`); ``hide`` and ``hide_raw``: the engine's
        PII policies. Whether the copy holds the whole pull (False: it stopped early)."""
        reader = self._reader
        if reader is None:
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text("")
            return False
        whole = reader.drain()
        kept.write(dest, reader.spooled(), hide, hide_raw)
        reader.discard_spool()
        return whole


class HttpSource:
    def __init__(self, stream: str, config: HttpSourceConfig, context: SourceContext) -> None:
        self.stream, self.config, self.context = stream, config, context

    def units(self) -> Iterator[HttpUnit]:
        yield HttpUnit(self.stream, self.config, self.context)

    def kept(self, copy: Path, name: str) -> HttpUnit:
        """The records of an earlier pull, read from its dead-letter copy."""
        unit = HttpUnit(self.stream, self.config, self.context, kept=copy)
        unit.name = name
        return unit


@register("http")
def _http(stream: str, config: Any, root: Path, context: SourceContext) -> HttpSource:
    return HttpSource(stream, config, context)
