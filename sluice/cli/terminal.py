"""What the CLI prints, made safe for the operator's terminal.

File names, column names, reasons and error messages come from input: a file dropped
as ``evil\\x1b]8;;http://x\\x07.csv`` would otherwise send its escape sequence to the
terminal (clear the screen, forge a link, retitle the window), and a bidi override
(U+202E) would show a name reversed. So every control character (C0 but the line
end and tab Rich lays out with, DEL, C1) and every bidi embedding, override and
isolate is shown as its escape (``\\x1b``, ``\\u202e``), never sent.

Two places do it. :class:`~sluice.cli.safeconsole.SafeConsole`, the console of every
command (:func:`console`), escapes the text of whatever it renders, after Rich's layout
and before its own styling codes are added: nothing reaches the terminal unescaped,
whoever built the text.
:func:`safe` is for a value put into Rich markup: it escapes the markup too (a file
named ``[red]x[/red].csv`` prints as itself, not red) and, before Rich drops them
silently, ``\\r`` and ``\\b``; it also escapes line ends unless told the value has
lines, so a name cannot forge a line of output.

Rich is imported when something is printed, not with this module: ``sluice --version``
prints with Typer alone.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sluice.cli.safeconsole import SafeConsole

_BIDI = "\u202a-\u202e\u2066-\u2069"
#: control characters but the newline and the tab, DEL, C1, bidi controls
UNSAFE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}]")
#: the same, newline and tab too: for a value that is one line
UNSAFE_IN_LINE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}]")


def _shown(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: str, *, lines: bool = True) -> str:
    """``text`` with each unsafe character shown as its escape; with ``lines`` False,
    line ends and tabs too."""
    return (UNSAFE if lines else UNSAFE_IN_LINE).sub(_shown, text)


def safe(value: Any, *, lines: bool = False) -> str:
    """``value`` as text to put into Rich markup: markup and control characters
    escaped (line ends too, unless ``lines``)."""
    from rich.markup import escape as escape_markup

    return escape_markup(printable(str(value), lines=lines))


@functools.cache
def console(*, stderr: bool = False, soft_wrap: bool = False) -> SafeConsole:
    """The console commands print on (stdout, or stderr), made on first use."""
    from sluice.cli.safeconsole import SafeConsole

    return SafeConsole(stderr=stderr, highlight=False, soft_wrap=soft_wrap)
