"""How ``--help`` shows commands: a flag by its name alone, a summary as one paragraph.

Typer shows every option's type beside it, a flag's as ``<bool>`` (older releases left a
flag's out): a flag takes no value, so the column would only mislead. The app, the
``quarantine`` group and every command are made with these classes (``cls=``), which
give each flag, ``--help`` and ``--install-completion`` included, an empty metavar.

Typer keeps the line breaks of a command's docstring, which are the source file's (wrapped
at 100 columns), not the reader's terminal's: a paragraph of prose is joined into one line
(the first one is the summary in the list of commands).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Sequence
from typing import Any

import typer.core

#: a line that is laid out by hand: indented (an example), or an item of a list
_LAID_OUT = re.compile(r"^(\s|[-*] |\d+\. )", re.M)


def _bare_flags(params: Sequence[Any]) -> None:
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""  # shown as is: nothing


class Group(typer.core.TyperGroup):
    """The app and its command groups: their own options (``--version``, ``--help``)."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        _bare_flags(params)
        return params


def _unwrapped(text: str | None) -> str | None:
    """Each paragraph of prose on one line (the terminal wraps it); an indented example
    or a list keeps its lines."""
    if not text:
        return text
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(p if _LAID_OUT.search(p) else " ".join(p.split()) for p in paragraphs)


class Command(typer.core.TyperCommand):
    """One command: its flags and ``--help``, its summary."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help = _unwrapped(self.help)

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        _bare_flags(params)
        return params
