"""The codec a CSV file's text is decoded with: the one its source names, except that
``latin-1`` refuses the bytes Windows' cp1252 reads as signs.

Latin-1 decodes every byte, so a cp1252 export (Excel's on Windows) read as latin-1 has
no byte that fails: its euro sign, curly quotes and dashes (0x80-0x9f) became invisible
C1 control characters in the table, without a word. Such files are far more common than
latin-1 text that means those controls, so a byte cp1252 defines there does not decode
under latin-1 here: the file is set aside, its line and byte named, and the hint names
cp1252. The five bytes cp1252 leaves undefined (0x81, 0x8d, 0x8f, 0x90, 0x9d) have no
other reading and still decode as latin-1 has them.
"""

from __future__ import annotations

import codecs
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing_extensions import Buffer  # collections.abc's from Python 3.12

#: the name :func:`text_encoding` gives latin-1; registered below
STRICT_LATIN_1 = "sluice_latin_1"
#: 0x80-0x9f as latin-1 reads them, those cp1252 defines (its signs)
_CP1252_SIGNS = re.compile("[\x80\x82-\x8c\x8e\x91-\x9c\x9e\x9f]")
#: why such a byte did not decode (a UnicodeDecodeError's reason)
REASON = "a control character in latin-1, a sign in cp1252"


def _decode(data: Buffer, errors: str = "strict", /) -> tuple[str, int]:
    text, n = codecs.latin_1_decode(data, errors)
    found = _CP1252_SIGNS.search(text)
    if found is not None:
        at = found.start()  # latin-1 is one byte a character: the byte's offset
        raise UnicodeDecodeError("latin-1", bytes(data), at, at + 1, REASON)
    return text, n


class _IncrementalDecoder(codecs.IncrementalDecoder):
    def decode(self, input: Buffer, final: bool = False) -> str:
        return _decode(input, self.errors)[0]


_INFO = codecs.CodecInfo(
    name=STRICT_LATIN_1,
    encode=codecs.latin_1_encode,
    decode=_decode,
    incrementaldecoder=_IncrementalDecoder,
)


def _search(name: str) -> codecs.CodecInfo | None:
    return _INFO if name == STRICT_LATIN_1 else None


codecs.register(_search)


def is_latin_1(encoding: str) -> bool:
    return codecs.lookup(encoding).name == "iso8859-1"


def text_encoding(encoding: str) -> str:
    """The codec to decode a CSV file's text with, for the source's ``csv.encoding``."""
    return STRICT_LATIN_1 if is_latin_1(encoding) else encoding
