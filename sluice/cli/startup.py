"""When the cyclic garbage collector runs in the ``sluice`` command.

Start-up allocates some 200,000 objects that live as long as the process (modules,
classes, Pydantic's validators, SQLAlchemy's tables) and the cyclic GC walked them
again and again while they loaded: ~0.1 s of the ~0.9 s a ``sluice run`` takes to
start. So ``main`` starts with the GC off; a command that goes on working turns it back
on with :func:`working`, everything loaded so far frozen out of its walks. A short
command exits first.
"""

from __future__ import annotations

import gc
from typing import Any

#: Commands that keep the GC off while they start: the short ones, and ``run``, which
#: calls :func:`working` when its first stream reports (see :class:`Begun`).
DEFERRED = frozenset({"init", "validate", "schema", "run", "runs", "show", "preview"})


def working() -> None:
    """The command's work begins: the GC runs again, over what the work allocates."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


class Begun:
    """A run's progress display, passed on, whose first report means start-up is over.

    The display's other methods (``planned``, ``bytes_read``) are its own; with no
    display (``--progress none``) the run sees none of them.
    """

    def __init__(self, display: Any) -> None:
        self._display = display

    def __call__(self, stream: str, stage: str, rows: int) -> None:
        working()
        if self._display is not None:
            self._display(stream, stage, rows)

    def __getattr__(self, name: str) -> Any:
        if self._display is None:
            raise AttributeError(name)
        return getattr(self._display, name)
