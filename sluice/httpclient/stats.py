"""What a client counts of its requests, and how a run report records it.

Apart from the client so that the report (which records these counts, and is read by
commands that never send a request) can name :class:`HttpStatsRecord` without loading
httpx.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# typing's TypedDict is not one Pydantic reads before Python 3.12
from typing_extensions import TypedDict


class HttpStatsRecord(TypedDict):
    """A client's counts as a run report records them: a stream's ``http`` (an API pull)
    and the run's ``delivery`` (an http destination). Written by :meth:`HttpStats.as_dict`
    in this order, the order of every stored report."""

    requests: int
    retries: int
    statuses: dict[str, int]  # answers per HTTP status ("200", "429", ...)
    max_concurrency: int  # the most requests on the wire at once


@dataclass
class HttpStats:
    requests: int = 0
    retries: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    max_concurrency: int = 0

    def as_dict(self) -> HttpStatsRecord:
        return {
            "requests": self.requests,
            "retries": self.retries,
            "statuses": dict(sorted(self.statuses.items())),
            "max_concurrency": self.max_concurrency,
        }


def summed(a: HttpStatsRecord | None, b: HttpStatsRecord) -> HttpStatsRecord:
    """The counts of two clients (two parts of a run) together: numbers added, statuses
    merged per status (``a``'s first)."""
    if a is None:
        return {**b, "statuses": dict(b["statuses"])}
    statuses = dict(a["statuses"])
    for status, n in b["statuses"].items():
        statuses[status] = statuses.get(status, 0) + n
    return {
        "requests": a["requests"] + b["requests"],
        "retries": a["retries"] + b["retries"],
        "statuses": statuses,
        "max_concurrency": a["max_concurrency"] + b["max_concurrency"],
    }
