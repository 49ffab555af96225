"""Cron expressions (UTC): the one adapter around ``croniter``.

``croniter`` is kept by pallets-eco; its errors are translated here into ``ValueError``
with a readable message, so that ``config.py`` can report them with the file and line.

    >>> c = Cron("0 * * * *")
    >>> c.next_after(datetime(2026, 1, 1, 10, 0, tzinfo=UTC))
    datetime.datetime(2026, 1, 1, 11, 0, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from croniter import CroniterBadDateError, CroniterError, croniter

ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
FIELDS = "minute hour day-of-month month day-of-week"


class Cron:
    """A five-field cron expression (or an alias such as ``@hourly``), read in UTC."""

    def __init__(self, expression: str) -> None:
        text = " ".join(expression.split())
        spec = ALIASES.get(text.lower(), text)
        if len(spec.split()) != 5:
            raise ValueError(
                f"schedule {expression!r} is not a cron expression: it needs 5 fields "
                f"({FIELDS}), e.g. '0 * * * *' for every hour, or @hourly / @daily"
            )
        try:
            croniter(spec, datetime(2000, 1, 1, tzinfo=UTC)).get_next(datetime)
        except CroniterBadDateError:
            raise ValueError(
                f"schedule {expression!r} never fires (no such date, e.g. 31 February)"
            ) from None
        except (CroniterError, ValueError, KeyError) as exc:
            raise ValueError(
                f"schedule {expression!r} is not a valid cron expression ({FIELDS}): "
                f"{str(exc) or type(exc).__name__}"
            ) from None
        self.expression = text
        self._spec = spec

    def next_after(self, moment: datetime) -> datetime:
        """The first slot strictly after ``moment``."""
        found: datetime = croniter(self._spec, _utc(moment)).get_next(datetime)
        return found.astimezone(UTC)

    def latest_at_or_before(self, moment: datetime) -> datetime:
        """The newest slot at or before ``moment``."""
        # Slots fall on whole minutes; a second later makes "at" count as "before".
        found: datetime = croniter(self._spec, _utc(moment) + timedelta(seconds=1)).get_prev(
            datetime
        )
        return found.astimezone(UTC)

    def __repr__(self) -> str:
        return f"Cron({self.expression!r})"


def check(expression: str) -> str:
    """``expression`` if it parses (whitespace normalised); ``ValueError`` otherwise."""
    return Cron(expression).expression


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
