"""Spans of time written as people write them: ``30d``, ``12h``, ``2w``, ``90m``."""

from __future__ import annotations

import re
from datetime import timedelta

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_SPAN = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")


def parse_duration(text: str) -> timedelta:
    """``30d`` -> 30 days. A ValueError says what is accepted."""
    found = _SPAN.match(str(text).lower())
    if found is None or int(found.group(1)) == 0:
        raise ValueError(
            f"not a span of time: {text!r} (write a whole number and a unit: 30d, 12h, 2w, "
            "90m, 45s)"
        )
    return timedelta(seconds=int(found.group(1)) * UNITS[found.group(2)])
