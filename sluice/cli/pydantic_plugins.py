"""Pydantic's plugin scan, skipped by the ``sluice`` command unless asked for.

The first model Pydantic builds looks for its plugins in the entry points of every
installed distribution: 13-14 ms of each command's start-up in a venv of 148 of them
(the bench's; cProfile of ``sluice validate``), more in larger ones, for plugins
(observability hooks such as Logfire's) that sluice's own models have no use for.
``PYDANTIC_DISABLE_PLUGINS=1`` skips the scan. A value the user exported wins:
``PYDANTIC_DISABLE_PLUGINS=`` (empty) loads them all.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

VARIABLE = "PYDANTIC_DISABLE_PLUGINS"


def skip(environ: MutableMapping[str, str] = os.environ) -> None:
    """Set the default in ``environ``, before the first Pydantic model is built."""
    environ.setdefault(VARIABLE, "1")
