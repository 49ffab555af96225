"""The Rich console of every command, which escapes what it prints (see
:mod:`sluice.cli.terminal`); made by :func:`sluice.cli.terminal.console`."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.segment import Segment

from sluice.cli.terminal import printable


class SafeConsole(Console):
    """A Rich console that never writes a control character it did not make itself:
    the text of every segment is escaped (:func:`printable`), the segments Rich uses
    to move the cursor (a live display) are left alone."""

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        return super()._render_buffer(
            seg if seg.control else Segment(printable(seg.text), seg.style, seg.control)
            for seg in buffer
        )
