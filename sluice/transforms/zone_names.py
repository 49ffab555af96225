"""A time that names its zone by an abbreviation: the offset it stands for, in a step.

US agencies' and mail servers' exports write ``2024-01-05 10:00:00 EST``; Python's
``%z`` reads an offset (``-05:00``), not a name, so such a value is refused. Its reason
names the step that writes the offset in the name's place, for the name and its summer
or winter twin (``EDT`` beside ``EST``: one file holds both), as the zone's own
abbreviations mean in the region that writes them. Three are written for more than one
zone (``CST``: US Central and China, ``IST``: India and Ireland, ``BST``: British
Summer and Bangladesh); their reason says which offset the step writes and the other.
UTC and GMT have a note of their own (:data:`sluice.transforms.cast.ZONE_NAMED_NOTE`).
"""

from __future__ import annotations

import polars as pl

#: zones by their abbreviations, each group a region's standard and summer time
GROUPS: tuple[dict[str, str], ...] = (
    {"EST": "-05:00", "EDT": "-04:00"},
    {"CST": "-06:00", "CDT": "-05:00"},
    {"MST": "-07:00", "MDT": "-06:00"},
    {"PST": "-08:00", "PDT": "-07:00"},
    {"AKST": "-09:00", "AKDT": "-08:00"},
    {"HST": "-10:00"},
    {"AST": "-04:00", "ADT": "-03:00"},
    {"NST": "-03:30", "NDT": "-02:30"},
    {"WET": "+00:00", "WEST": "+01:00"},
    {"CET": "+01:00", "CEST": "+02:00"},
    {"EET": "+02:00", "EEST": "+03:00"},
    {"MSK": "+03:00"},
    {"IST": "+05:30"},
    {"BST": "+01:00"},
    {"JST": "+09:00"},
    {"KST": "+09:00"},
    {"AWST": "+08:00"},
    {"ACST": "+09:30", "ACDT": "+10:30"},
    {"AEST": "+10:00", "AEDT": "+11:00"},
    {"NZST": "+12:00", "NZDT": "+13:00"},
)
#: names more than one zone writes: what else the name may mean
AMBIGUOUS = {
    "CST": "China's CST is +08:00",
    "CDT": "Cuba's CDT is -04:00",
    "IST": "Ireland's IST is +01:00, Israel's +02:00",
    "BST": "Bangladesh's BST is +06:00",
}
#: a time's end: a zone's name after its seconds or minutes
ABBREVIATED = r"[0-9]:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)? ?([A-Z]{3,4})$"


def zone_note(name: str, text: pl.Expr) -> pl.Expr:
    """The note for each value of ``text`` (column ``name``, stripped) that ends in a
    zone's abbreviation (empty for any other)."""
    notes = {abbr: _note(name, abbr, group) for group in GROUPS for abbr in group}
    found = text.str.extract(ABBREVIATED, 1)
    return found.replace_strict(notes, default="", return_dtype=pl.String).fill_null("")


def _note(name: str, abbr: str, group: dict[str, str]) -> str:
    sql = name
    for each, offset in group.items():
        # after the time's digit, so EST is not the end of CEST; the backslashes are
        # YAML's, in the double quotes the step is pasted in (SQL gets \1)
        sql = f"regexp_replace({sql}, '([0-9]) ?{each}$', '\\\\1{offset}')"
    named = " and ".join(f"{a} as {o}" for a, o in group.items())
    said = (
        f"; it names its zone {abbr}, which %z does not read: to write {named}, add the "
        f'step derive: {{column: {name}, sql: "{sql}"}}, then `sluice quarantine replay`'
    )
    if abbr in AMBIGUOUS:
        said += f" ({AMBIGUOUS[abbr]}: write that offset in the step where the file is from there)"
    return said
