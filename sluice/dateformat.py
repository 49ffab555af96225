"""Date formats as Python's ``datetime.strptime`` reads them, compiled to one regex each.

A format in ``sluice.yaml`` means what it means to Python: ``%Y`` is exactly four
digits, ``%y`` two, ``%f`` one to six digits of a fraction (``.5`` is half a second),
``%b`` an English month abbreviation in any case, whitespace in the format matches any
run of whitespace, and the whole value must be used. The regex of each directive is the
one CPython's ``_strptime`` uses (C locale), so the match is the one Python finds; the
transform (:mod:`sluice.transforms.dates`) then turns the groups into values with
Python's rules. A directive we do not read (week numbers, locale forms, ``%Z``) is a
config error naming it, not a guess.

Pure Python with no data-plane import: the config layer checks formats with it.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass

_MONTHS = ["january", "february", "march", "april", "may", "june", "july"]
_MONTHS += ["august", "september", "october", "november", "december"]
_DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]

#: Month names (full and abbreviated, lower case) -> month number.
MONTH_NUMBERS: dict[str, int] = {m: i for i, m in enumerate(_MONTHS, start=1)}
MONTH_NUMBERS.update({m[:3]: i for i, m in enumerate(_MONTHS, start=1)})


def _names(names: list[str]) -> str:
    # Longest first, as CPython orders them, so "may" cannot shadow a longer name.
    return "|".join(sorted(names, key=len, reverse=True))


#: Directive -> the regex CPython's _strptime gives it (digits limited to ASCII).
DIRECTIVES: dict[str, str] = {
    "d": r"3[0-1]|[1-2][0-9]|0[1-9]|[1-9]| [1-9]",
    "f": r"[0-9]{1,6}",
    "H": r"2[0-3]|[0-1][0-9]|[0-9]",
    "I": r"1[0-2]|0[1-9]|[1-9]",
    "m": r"1[0-2]|0[1-9]|[1-9]",
    "M": r"[0-5][0-9]|[0-9]",
    "S": r"6[0-1]|[0-5][0-9]|[0-9]",
    "y": r"[0-9][0-9]",
    "Y": r"[0-9][0-9][0-9][0-9]",
    "z": r"[+-][0-9][0-9]:?[0-5][0-9](?::?[0-5][0-9](?:\.[0-9]{1,6})?)?|(?-i:Z)",
    "A": _names(_DAYS),
    "a": _names([d[:3] for d in _DAYS]),
    "B": _names(_MONTHS),
    "b": _names([m[:3] for m in _MONTHS]),
    "p": "am|pm",
}

#: Directives Python knows that sluice refuses, and why.
UNSUPPORTED: dict[str, str] = {
    "j": "day of the year",
    "U": "week number",
    "W": "week number",
    "V": "ISO week number",
    "G": "ISO year",
    "u": "weekday number",
    "w": "weekday number",
    "c": "the locale's date and time",
    "x": "the locale's date",
    "X": "the locale's time",
    "Z": "a zone name (its meaning depends on the machine)",
}

# Forms from other libraries that people paste into formats, with what Python writes.
_FOREIGN: dict[str, str] = {
    "%.f": "chrono's optional fraction: write .%f (and list the format without it too)",
    "%#z": "chrono's offset-or-Z: Python's %z already takes Z",
    "%:z": "use %z (it takes +02:00 and +0200)",
    "%-": "platform-specific padding flag: Python's %d, %m, %H... already take one digit",
    "%e": "use %d (it takes ' 5' and '5')",
    "%F": "write %Y-%m-%d",
    "%T": "write %H:%M:%S",
    "%s": "for numbers since 1970 use the format epoch_s, epoch_ms or epoch_us",
}

#: the formats that read numbers: seconds, milliseconds or microseconds since 1970, and
#: Excel's day numbers (days since 1899-12-30, a fraction for the time of day)
EPOCH_FORMATS = ("epoch_s", "epoch_ms", "epoch_us", "excel")
#: Groups that carry a time zone offset.
ZONED = "z"


class FormatError(ValueError):
    """A format sluice cannot read the way Python would."""


@dataclass(frozen=True)
class DateFormat:
    """A compiled format: the text the user wrote, its regex and the directives used."""

    text: str
    #: anchored at the start; the group ``rest`` holds what the format did not use
    regex: str
    directives: frozenset[str]
    #: anchored at both ends, seconds up to 59: a cheap test (no captures) that every
    #: value Python reads passes
    full: str
    #: the same format for chrono (Polars' parser) where, for values that pass ``full``,
    #: chrono reads what Python reads or nothing; None where it may read otherwise
    chrono: str | None = None

    @property
    def zoned(self) -> bool:
        return ZONED in self.directives

    @property
    def two_digit_year(self) -> bool:
        return "y" in self.directives and "Y" not in self.directives


def compile_format(fmt: str) -> DateFormat:
    """The regex Python's ``strptime`` would match ``fmt`` with; FormatError if refused."""
    for foreign, advice in _FOREIGN.items():
        if foreign in fmt.replace("%%", ""):
            raise FormatError(f"format {fmt!r}: {foreign} is not a Python strptime code ({advice})")
    out: list[str] = ["(?i)^"]
    used: list[str] = []
    i = 0
    while i < len(fmt):
        ch = fmt[i]
        if ch != "%":
            j = i
            while j < len(fmt) and fmt[j] != "%":
                j += 1
            out.append(_literal(fmt[i:j]))
            i = j
            continue
        if i + 1 >= len(fmt):
            raise FormatError(f"format {fmt!r} ends with a stray %")
        d = fmt[i + 1]
        i += 2
        if d == "%":
            out.append("%")
            continue
        if d in UNSUPPORTED:
            raise FormatError(
                f"format {fmt!r}: %{d} ({UNSUPPORTED[d]}) is not supported; "
                "supported: " + " ".join(f"%{k}" for k in DIRECTIVES) + " %%"
            )
        if d not in DIRECTIVES:
            raise FormatError(f"format {fmt!r}: %{d} is not a strptime directive")
        if d in used:
            raise FormatError(f"format {fmt!r} uses %{d} twice")
        used.append(d)
        out.append(f"(?P<{d}_>{DIRECTIVES[d]})")
    if not used:
        raise FormatError(f"format {fmt!r} has no directive (like %Y, %m, %d)")
    if "I" in used and "H" in used:
        raise FormatError(f"format {fmt!r} has both %H and %I")
    body = "".join(out)
    strict = body.replace(f"(?P<S_>{DIRECTIVES['S']})", r"(?P<S_>[0-5][0-9]|[0-9])")
    regex = body + "(?s:(?P<rest>.*))"
    return DateFormat(fmt, regex, frozenset(used), strict + "$", _chrono(fmt, used))


_NUMERIC = set("YmdHIMSf")


def _chrono(fmt: str, used: list[str]) -> str | None:
    """``fmt`` in chrono's words, if chrono cannot read a value otherwise than Python.

    Refused: %y (chrono's century rule differs), %f not right after a dot (chrono's %f
    counts nanoseconds), and a number directly followed by a digit or another directive
    (Python splits packed digits by trying alternatives; chrono takes two digits) other
    than %z, which starts with a sign or Z (ISO 8601's ``...05.123Z``: no split to try).
    """
    if "y" in used or ("f" in used and ".%f" not in fmt):
        return None
    tokens = re.findall(r"%.|[^%]", fmt)
    for tok, nxt in zip(tokens, [*tokens[1:], ""], strict=True):
        packed = nxt.isdigit() or (nxt.startswith("%") and nxt not in ("%%", "%z"))
        if tok[0] == "%" and tok[1] in _NUMERIC and packed:
            return None
    return fmt.replace(".%f", "%.f").replace("%z", "%#z")


def _literal(text: str) -> str:
    # As CPython: whitespace matches any run of whitespace, the rest literally.
    parts = re.split(r"(\s+)", text)
    return "".join(r"\s+" if p and p.isspace() else _escape(p) for p in parts)


def _escape(text: str) -> str:
    # The meta characters of Rust's regex (Polars' engine), each of which it may escape.
    return "".join("\\" + c if c in _META else c for c in text)


_META = set("\\.+*?()|[]{}^$#&-~")


def known_zone(name: str) -> str:
    """``name`` if it is an IANA time zone (America/New_York, UTC); ValueError otherwise."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA name like America/New_York or UTC"
        ) from None
    return name


def check_formats(formats: list[str] | None, *, allow_epoch: bool = True) -> list[str] | None:
    """Each format compiled once, so ``sluice validate`` names the one that is wrong."""
    for fmt in formats or []:
        if allow_epoch and fmt in EPOCH_FORMATS:
            continue
        compile_format(fmt)
    return formats


__all__ = [
    "DIRECTIVES",
    "EPOCH_FORMATS",
    "MONTH_NUMBERS",
    "UNSUPPORTED",
    "DateFormat",
    "FormatError",
    "check_formats",
    "compile_format",
    "known_zone",
]
