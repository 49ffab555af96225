"""The run log, mirrored to Python's :mod:`logging`: sluice inside Airflow, Dagster, a notebook.

Every event a run writes to its log in the state store (what ``sluice show`` and the
dashboard read) is also a record of the logger ``sluice.run`` (:func:`mirror`), at the
event's level, with its context as attributes of the record (``extra``): ``run_id``,
``pipeline``, ``stream``, ``event`` (``log`` for a line of the run log, ``stage`` for a
stream's rows and seconds in a stage) and the event's data (``read``, ``loaded``,
``load_id``, ``error``...; a key that is already an attribute of every record, such as
``message``, is kept as ``data_message``). The whole of it is also in ``record.sluice``.

Imported as a library, sluice configures nothing: the logger ``sluice`` has a
:class:`logging.NullHandler` and the root logger is left alone, so records go wherever the
host application sends them. The CLI adds a handler of its own (``--log-level``,
``--log-format``, see :func:`to_stderr`); :class:`JsonLines` is its JSON format, usable
by any application::

    import logging, sluice
    logging.basicConfig(level=logging.INFO)  # the run log joins the application's
    sluice.run_pipeline(sluice.load_project("."), "leads")
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

__all__ = ["RUN_LOGGER", "JsonLines", "level_of", "mirror", "to_stderr"]

#: the logger every run event goes to
RUN_LOGGER = "sluice.run"
_run_log = logging.getLogger(RUN_LOGGER)
logging.getLogger("sluice").addHandler(logging.NullHandler())

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}
#: the attributes every LogRecord has (an event's data may not overwrite them)
_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "sluice"}


def level_of(name: str) -> int:
    """A run log level (``info``, ``warning``...) as a :mod:`logging` level."""
    return _LEVELS.get(name.lower(), logging.INFO)


def enabled(level: int) -> bool:
    """Whether a record at ``level`` would go anywhere (so its context is worth finding)."""
    return _run_log.isEnabledFor(level)


def mirror(
    level: int,
    message: str,
    *,
    run_id: str,
    pipeline: str | None,
    event: str = "log",
    stream: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """One run event as a record of ``sluice.run`` (its secrets already masked)."""
    if not _run_log.isEnabledFor(level):
        return
    context: dict[str, Any] = {
        "run_id": run_id,
        "pipeline": pipeline,
        "event": event,
        "stream": stream if stream is not None else (data or {}).get("stream"),
    }
    for key, value in (data or {}).items():
        if key == "stream":
            continue
        context[key] = value
    extra = {(f"data_{k}" if k in _RESERVED else k): v for k, v in context.items()}
    extra["sluice"] = context
    _run_log.log(level, message, extra=extra)


class JsonLines(logging.Formatter):
    """One JSON document per record: ``ts`` (ISO 8601, UTC offset), ``level``, ``logger``,
    ``message``, and the sluice context of a run event (``run_id``, ``pipeline``,
    ``stream``, ``event``, its data)."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = getattr(record, "sluice", None)
        if isinstance(context, dict):
            doc.update((k, v) for k, v in context.items() if k not in doc and v is not None)
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str)


class _Text(logging.Formatter):
    """``2026-12-01T00:50:00.123+00:00 info sluice.run: message [run_id pipeline/stream]``."""

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        line = f"{ts} {record.levelname.lower()} {record.name}: {record.getMessage()}"
        context = getattr(record, "sluice", None)
        if isinstance(context, dict) and context.get("run_id"):
            where = "/".join(str(context[k]) for k in ("pipeline", "stream") if context.get(k))
            line += f" [{context['run_id']}{' ' + where if where else ''}]"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class _Stderr(logging.StreamHandler[Any]):
    """Writes to the ``sys.stderr`` of the moment (a live display may have redirected it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


class _NotTheRunLog(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith(RUN_LOGGER)


def to_stderr(level: str = "warning", fmt: str = "text", *, run_log: bool = True) -> None:
    """Send the records of the logger ``sluice`` at ``level`` and up to stderr, as
    ``text``, ``json`` (JSON Lines) or ``plain`` (the message alone); ``run_log`` False:
    sluice's own messages but not the run log (the CLI's default: its summary says what
    the run log would). The root logger is not touched; calling it again replaces the
    handler it added."""
    logger = logging.getLogger("sluice")
    for h in list(logger.handlers):
        if getattr(h, "_sluice_cli", False):
            logger.removeHandler(h)
    handler = _Stderr()
    handler._sluice_cli = True  # type: ignore[attr-defined]
    plain = logging.Formatter("%(message)s")  # as Python prints a record no handler took
    handler.setFormatter({"json": JsonLines(), "text": _Text()}.get(fmt, plain))
    if not run_log:
        handler.addFilter(_NotTheRunLog())
    logger.addHandler(handler)
    logger.setLevel(level_of(level))
