"""The Source interface: a source lists units of work (files, API pulls) and reads each as batches.

A unit is the smallest thing loaded atomically and recorded in the file ledger. Its
``fingerprint`` (a content hash) lets the engine skip a file it has already loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sluice.batch import Batch
from sluice.httpclient.stats import HttpStatsRecord


class Reader(Protocol):
    """An open unit: its header and its rows, in bounded batches."""

    columns: list[str]

    @property
    def may_be_empty(self) -> bool:
        """Whether no columns means an empty, successful read (an API with nothing new),
        not a file without a header."""
        ...

    def batches(self) -> Iterator[Batch]: ...


#: the engine's PII policies for a kept copy: one for a page's records, one for a
#: payload that was not a record
HideRecords = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]
HideRaw = Callable[[Any], Any]


class RecordCopy(Protocol):
    """A unit the dead letter keeps as its records (an API pull), not as its bytes:
    records pass the engine's PII policies on their way into the copy."""

    def keep_records(
        self, dest: Path, hide: HideRecords | None = None, hide_raw: HideRaw | None = None
    ) -> bool:
        """Write the records at ``dest`` as JSON Lines (what was not read yet is read
        now); whether the copy holds the whole unit (False: it stopped early)."""
        ...


class Unit(Protocol):
    """One thing read atomically: a file, a zip member, one pull of an API.

    ``checkpoint``, ``vanished`` and ``http_stats`` are what a unit learned while it was
    read (a file learns none of them); the engine reads them once its batches are done.
    """

    name: str
    size: int

    @property
    def checkpoint(self) -> Any:
        """The incremental cursor the pull reached (None: none), saved with its ledger entry."""
        ...

    @property
    def vanished(self) -> dict[str, Any]:
        """Fields the API stopped sending mid-pull -> where they stopped ({}: none)."""
        ...

    def http_stats(self) -> HttpStatsRecord | None:
        """Requests, retries and statuses of the pull (None: not an API)."""
        ...

    def fingerprint(self) -> str: ...

    def open(self) -> Reader: ...

    def copy_to(self, dest: Path) -> None:
        """Keep a copy of the unit's bytes (for the dead letter)."""
        ...

    def record_copy(self) -> RecordCopy | None:
        """How to keep the unit as records (an API pull: itself); None: it is kept as
        its bytes, with :meth:`copy_to`."""
        ...


@dataclass
class SourceContext:
    """What the engine hands a source for one run: where to log, saved state."""

    log: Callable[[str, str, dict[str, Any]], None] = lambda level, message, data: None
    cursor: str | None = None  # the saved incremental cursor of this source
    #: something the user should know though nothing failed (message, hint): it goes
    #: to the run report's ``warnings``, the log and the CLI summary
    warn: Callable[[str, str | None], None] = lambda message, hint: None
    pipeline: str = "PIPELINE"  # for hints that name a command


class Source(Protocol):
    """List the units this source holds now; read one set aside earlier again."""

    def units(self) -> Iterator[Unit]: ...

    def kept(self, copy: Path, name: str) -> Unit:
        """The unit set aside earlier as ``name``, read from its dead-letter ``copy`` (a
        replay): never fetched again, as upstream may have moved on since."""
        ...


SourceFactory = Callable[..., Source]
_REGISTRY: dict[str, SourceFactory] = {}
#: Built-in kinds registered when first used: the http source imports httpx, which
#: a run of local files does not need.
_BUILT_IN = {"http": "sluice.sources.http.source"}


def register(kind: str) -> Callable[[SourceFactory], SourceFactory]:
    def deco(factory: SourceFactory) -> SourceFactory:
        _REGISTRY[kind] = factory
        return factory

    return deco


def create_source(
    stream: str, config: Any, root: Path, context: SourceContext | None = None
) -> Source:
    """Build the source for ``config.type``; ``root`` resolves relative paths."""
    from sluice import sources  # noqa: F401  (registers the built-in kinds)

    if config.type not in _REGISTRY and config.type in _BUILT_IN:
        import importlib

        importlib.import_module(_BUILT_IN[config.type])
    return _REGISTRY[config.type](stream, config, root, context or SourceContext())
