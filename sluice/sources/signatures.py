"""What a file that is not text is, by its first bytes: a workbook, an image, a PDF.

A CSV source that meets one (an Excel workbook renamed ``.csv``, a PDF saved in its
place, a file compressed twice) said "line 1 is not valid utf-8" and that the file
might be cp1252, which would have read the bytes as text. The reader says what the file
is instead, and what to put in its place.
"""

from __future__ import annotations

_PLACE = "in its place (the next `sluice run` loads it as a new file)"
_CLOSE = (
    ", then close this entry with `sluice quarantine discard ID` (`sluice quarantine list` "
    "shows its ID)"
)
_ONCE = f"decompress it once and put the result {_PLACE}{_CLOSE}"
#: (first bytes, what they make the file, what to do)
SIGNATURES: list[tuple[bytes, str, str]] = [
    (
        b"PK\x03\x04",
        "a zip archive (an Excel .xlsx workbook is one)",
        f"save the sheet as CSV {_PLACE}{_CLOSE}",
    ),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "an Excel 97-2003 workbook (.xls)",
        f"save the sheet as CSV {_PLACE}{_CLOSE}",
    ),
    (b"%PDF-", "a PDF document", f"export its data as CSV {_PLACE}{_CLOSE}"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image", f"put the data {_PLACE}{_CLOSE}"),
    (b"\xff\xd8\xff", "a JPEG image", f"put the data {_PLACE}{_CLOSE}"),
    (b"GIF8", "a GIF image", f"put the data {_PLACE}{_CLOSE}"),
    (b"SQLite format 3\x00", "a SQLite database", f"export its table as CSV {_PLACE}{_CLOSE}"),
    (
        b"PAR1",
        "a Parquet file",
        "set format: parquet on the source, then `sluice quarantine replay`",
    ),
    (b"\x1f\x8b\x08", "gzip data (compressed twice?)", _ONCE),
    (b"BZh", "bzip2 data (compressed twice?)", _ONCE),
    (b"\xfd7zXZ\x00", "xz data (compressed twice?)", _ONCE),
    (b"\x28\xb5\x2f\xfd", "zstd data (compressed twice?)", _ONCE),
]
#: how many first bytes tell them apart
HEAD = 16


def binary_kind(head: bytes) -> tuple[str, str] | None:
    """(what the file is, what to do) when its first bytes are a known binary format."""
    for magic, kind, fix in SIGNATURES:
        if head.startswith(magic):
            return kind, fix
    return None
