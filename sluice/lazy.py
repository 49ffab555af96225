"""Names a package exports but imports only when first used (PEP 562).

``import sluice`` and ``import sluice.httpclient`` should not load Polars, SQLAlchemy or
httpx for a command that never touches them: the package lists where each public name
lives and hands this module's functions to Python as its ``__getattr__``/``__dir__``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(
    package: str, homes: dict[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``, whose public ``name`` is defined in
    the module ``homes[name]``; ``namespace`` is the package's ``globals()``."""

    def getattr_(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        namespace[name] = value  # once: later lookups skip this function
        return value

    def dir_() -> list[str]:
        return sorted({*namespace, *homes})

    return getattr_, dir_
