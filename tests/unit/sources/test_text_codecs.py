"""latin-1 as a CSV's text is read: Python's latin-1, refusing the bytes cp1252 reads
as signs (a Windows export said to be latin-1)."""

from __future__ import annotations

import codecs

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sluice.sources.text_codecs import STRICT_LATIN_1, text_encoding


def _cp1252_sign(byte: int) -> bool:
    """Python's own cp1252 reads the byte, and latin-1 reads it as a C1 control."""
    try:
        bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:
        return False
    return 0x80 <= byte <= 0x9F


@given(st.binary(max_size=200), st.integers(min_value=1, max_value=50))
def test_decodes_as_latin1_or_refuses_the_first_cp1252_sign(data: bytes, chunk: int) -> None:
    signs = [i for i, b in enumerate(data) if _cp1252_sign(b)]
    if not signs:
        assert data.decode(STRICT_LATIN_1) == data.decode("latin-1")
    else:
        with pytest.raises(UnicodeDecodeError) as caught:
            data.decode(STRICT_LATIN_1)
        assert caught.value.start == signs[0]
    # read in pieces, as a file is transcoded: the same text, or the same refusal
    decoder = codecs.getincrementaldecoder(STRICT_LATIN_1)()
    pieces = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    if signs:
        with pytest.raises(UnicodeDecodeError):
            for piece in pieces:
                decoder.decode(piece)
    else:
        assert "".join(decoder.decode(p) for p in pieces) == data.decode("latin-1")


@pytest.mark.parametrize("name", ["latin-1", "latin1", "ISO-8859-1", "iso8859_1", "l1"])
def test_every_name_of_latin1_is_read_strictly(name: str) -> None:
    assert text_encoding(name) == STRICT_LATIN_1


@pytest.mark.parametrize("name", ["utf-8", "cp1252", "iso-8859-15", "utf-16"])
def test_other_encodings_are_read_as_python_reads_them(name: str) -> None:
    assert text_encoding(name) == name
