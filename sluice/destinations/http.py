"""The ``http`` destination: POST records as JSON arrays, every key delivered once.

A delivery ledger holds each record key's fate (the engine keeps it in the state store
and hands it over as a :class:`~sluice.destinations.base.DeliveryLedger`). A key is marked
``sending`` before its batch goes out and ``acked`` once the API answers 2xx, so a run
that dies is followed by one that sends only what was not acknowledged. The one window
no client can close is between the API accepting a batch and the ledger hearing of it:
keys caught there stay ``sending`` and ``sluice audit`` reports them as in doubt.

A batch the API refuses with 400/422 is split in halves until the bad records are
alone; each of those is quarantined with the API's answer, the rest are delivered.
Frames may carry each row's line (``_line``): it is never posted, and it comes back
with a refused record so the engine can quarantine the row as it was read.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import polars as pl

from sluice.batch import LINE
from sluice.config import HttpDestinationConfig
from sluice.destinations.base import (
    Capabilities,
    DeliveryLedger,
    LoadMeta,
    LoadResult,
    Mode,
    Warehouse,
)
from sluice.errors import FetchError, LoadError, Where
from sluice.httpclient import HttpClient, HttpStats, HttpStatsRecord, blocking
from sluice.schema import TableSpec
from sluice.status import DeliveryOutcome, DeliveryStatus

Log = Callable[[str, str, dict[str, Any]], None]
REFUSED = {400, 409, 413, 422}


class HttpDestination:
    """Delivers to ``cfg.url``; ``key``: the field that names a record in the ledger."""

    # The API may refuse single records: each is quarantined as it was read.
    capabilities = Capabilities(keeps_raw=True)

    def __init__(
        self,
        cfg: HttpDestinationConfig,
        *,
        key: str,
        ledger: DeliveryLedger,
        log: Log | None = None,
    ) -> None:
        self.cfg, self.key, self.ledger = cfg, key, ledger
        self.log = log or (lambda level, message, data: None)
        self._stats = HttpStats()

    def is_loaded(self, load_key: str) -> bool:
        # No load markers: the ledger answers per record key, and a new run sends
        # nothing it acknowledged.
        return False

    def delivery_stats(self) -> HttpStatsRecord | None:
        return self._stats.as_dict()

    def warehouse(self) -> Warehouse | None:
        return None  # an API keeps no tables: nothing to prepare or preview

    def close(self) -> None:
        pass

    def load(
        self,
        table: TableSpec,
        mode: Mode,
        load_key: str,
        batches: Iterable[pl.DataFrame],
        meta: LoadMeta | None = None,
    ) -> LoadResult:
        return blocking.run(self._deliver(iter(batches)))

    async def _deliver(self, batches: Iterator[pl.DataFrame]) -> LoadResult:
        client = HttpClient(self.cfg, where=self.cfg.url, on_event=self.log)
        self._stats = client.stats
        outcomes: dict[str, DeliveryOutcome] = {}
        rejected: list[tuple[dict[str, Any], str]] = []
        pending: set[asyncio.Task[None]] = set()
        rows = skipped = 0
        error: BaseException | None = None

        async def send(chunk: list[tuple[str, dict[str, Any], Any]]) -> None:
            keys = [k for k, _, _ in chunk]

            async def sending() -> None:  # on record the moment the batch leaves, not before
                await asyncio.to_thread(self.ledger.mark, keys, DeliveryStatus.SENDING)

            try:
                await client.request(
                    "POST", self.cfg.url, json_body=[r for _, r, _ in chunk], before_send=sending
                )
            except FetchError as exc:
                if exc.status not in REFUSED:
                    raise
                if len(chunk) > 1:  # find the bad records: halves until they are alone
                    half = len(chunk) // 2
                    await asyncio.gather(send(chunk[:half]), send(chunk[half:]))
                    return
                await asyncio.to_thread(self.ledger.mark, keys, DeliveryStatus.REJECTED)
                outcomes[keys[0]] = DeliveryOutcome.REJECTED
                await asyncio.to_thread(self.ledger.record, {keys[0]: DeliveryOutcome.REJECTED})
                _, record, line = chunk[0]
                back = record if line is None else {**record, LINE: line}
                rejected.append((back, f"{self.cfg.url} refused it: {exc.message}"))
                return
            await asyncio.to_thread(self.ledger.mark, keys, DeliveryStatus.ACKED)
            for k in keys:
                resent = outcomes.get(k) == DeliveryOutcome.RESENT
                outcomes[k] = DeliveryOutcome.RESENT if resent else DeliveryOutcome.DELIVERED
            await asyncio.to_thread(self.ledger.record, {k: outcomes[k] for k in keys})

        try:
            while True:
                frame = await asyncio.to_thread(next, batches, None)
                if frame is None:
                    break
                rows += frame.height
                lines: list[Any] = [None] * frame.height
                if LINE in frame.columns:
                    lines = frame.get_column(LINE).to_list()
                    frame = frame.drop(LINE)
                records = json.loads(frame.write_json()) if frame.height else []
                keys = [str(r[self.key]) for r in records]
                done = await asyncio.to_thread(self.ledger.status, keys)
                todo: list[tuple[str, dict[str, Any], Any]] = []
                for k, r, line in zip(keys, records, lines, strict=True):
                    if done.get(k) == DeliveryStatus.ACKED:
                        outcomes[k] = DeliveryOutcome.ALREADY
                        skipped += 1
                    else:
                        # "sending" left by a run that died: the target may have it already.
                        outcomes.setdefault(
                            k,
                            DeliveryOutcome.RESENT
                            if done.get(k) == DeliveryStatus.SENDING
                            else DeliveryOutcome.PENDING,
                        )
                        todo.append((k, r, line))
                # What this run owes is on record before anything is sent: an audit of a
                # run that dies still knows every key it had.
                await asyncio.to_thread(self.ledger.record, {k: outcomes[k] for k in keys})
                for i in range(0, len(todo), self.cfg.batch_size):
                    # Bounded: a slow API holds the reader back instead of filling memory.
                    while len(pending) >= 2 * self.cfg.max_concurrency:
                        done_tasks, _ = await asyncio.wait(
                            pending, return_when=asyncio.FIRST_COMPLETED
                        )
                        for t in done_tasks:
                            pending.discard(t)
                            t.result()
                    task = asyncio.create_task(send(todo[i : i + self.cfg.batch_size]))
                    pending.add(task)
            if pending:
                await asyncio.gather(*pending)
        except BaseException as exc:
            error = exc
            for t in pending:
                t.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        finally:
            await client.close()
        if error is not None:
            if isinstance(error, FetchError):
                raise LoadError(
                    f"delivery to {self.cfg.url} stopped: {error.message}",
                    where=Where(file=self.cfg.url),
                    hint=(
                        "what was acknowledged is in the delivery ledger; run again to send "
                        "the rest (`sluice audit RUN_ID` lists both)"
                    ),
                ) from None
            raise error
        return LoadResult(rows=rows, skipped=skipped, rejected=rejected)
