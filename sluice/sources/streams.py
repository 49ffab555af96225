"""Byte streams the file source reads through: decompression under a size limit, bytes
put back in front of a stream, and transcoding to UTF-8.

Compressed files (``.gz``, ``.bz2``, ``.xz``, ``.zst``) are told by their first bytes
and read as streams, never inflated whole in memory or on disk; what they inflate to is
capped by ``max_unzipped_bytes``, as for zip members. A file whose name says one codec
but whose bytes say another (or none) is refused rather than guessed at.

Every stream here reads *fully*: ``read(n)`` returns ``n`` bytes unless the stream ends.
PyArrow's CSV reader takes each read as one block, and a short block would make a long
row straddle more blocks than the block size promises.
"""

from __future__ import annotations

import bz2
import codecs
import io
import lzma
from pathlib import PurePosixPath
from typing import IO, cast

import zstandard
from isal import igzip, isal_zlib

from sluice.errors import SourceError, Where

#: the compression suffixes read as streams, and the codec each names
SUFFIXES = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zst": "zstd"}
#: how many first bytes tell a codec
HEAD = 10
#: ISA-L's error for a broken deflate stream (its stubs type it as an instance)
_ISAL_ERROR = cast(type[Exception], isal_zlib.error)


def sniff(head: bytes) -> str | None:
    """The codec the first bytes of a file are written in, or None (not compressed)."""
    if head.startswith(b"\x1f\x8b\x08"):
        return "gzip"
    # 'BZh', a block size digit, then the magic of a first block (pi) or of the end (sqrt pi)
    if head[:3] == b"BZh" and head[3:4].isdigit() and head[4:10] in (b"1AY&SY", b"\x17rE8P\x90"):
        return "bz2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return "zstd"
    return None


def named_codec(name: str) -> str | None:
    """The codec a file's name says (``x.csv.gz``: gzip), or None."""
    return SUFFIXES.get(PurePosixPath(name).suffix.lower())


def plain_name(name: str) -> str:
    """The name without its compression suffix: ``x.csv.gz`` -> ``x.csv``."""
    return name[: -len(PurePosixPath(name).suffix)] if named_codec(name) else name


class ByteReader(io.RawIOBase):
    """A read-only, forward-only stream built on ``_chunk``, which returns some bytes,
    or ``b""`` at the end only."""

    def __init__(self, raw: IO[bytes] | None) -> None:
        self.raw = raw
        self._rest = b""

    def _chunk(self, n: int) -> bytes:
        raise NotImplementedError

    def read(self, n: int | None = -1) -> bytes:
        parts = [self._rest] if self._rest else []
        got = len(self._rest)
        self._rest = b""
        while n is None or n < 0 or got < n:
            chunk = self._chunk(1 << 20 if n is None or n < 0 else n - got)
            if not chunk:
                break
            parts.append(chunk)
            got += len(chunk)
        data = b"".join(parts)
        if n is not None and 0 <= n < len(data):
            data, self._rest = data[:n], data[n:]
        return data

    def readinto(self, buf: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buf))
        buf[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        if not self.closed and self.raw is not None:
            self.raw.close()
        super().close()


class Prefixed(ByteReader):
    """``head`` followed by the rest of ``raw``: bytes read to look ahead, put back."""

    def __init__(self, head: bytes, raw: IO[bytes]) -> None:
        super().__init__(raw)
        self.head = head

    def _chunk(self, n: int) -> bytes:
        if self.head:
            data, self.head = self.head, b""
            return data
        assert self.raw is not None
        return self.raw.read(n)


class Limited(ByteReader):
    """Refuses to yield more than ``limit`` bytes (zip and compression bombs)."""

    def __init__(self, raw: IO[bytes], limit: int, name: str, what: str) -> None:
        super().__init__(raw)
        self.limit, self.name, self.what, self.seen = limit, name, what, 0

    def _chunk(self, n: int) -> bytes:
        assert self.raw is not None
        data = self.raw.read(n)
        self.seen += len(data)
        if self.seen > self.limit:
            raise SourceError(
                f"{self.what} inflates past {self.limit:,} bytes (max_unzipped_bytes)",
                where=Where(file=self.name),
                hint=(
                    f"raise max_unzipped_bytes on the source (now {self.limit:,}) if the "
                    "file is trusted"
                ),
            )
        return data


class Decompressed(ByteReader):
    """The inflated bytes of ``raw``; a corrupt or truncated stream is a SourceError."""

    def __init__(self, raw: IO[bytes], codec: str, name: str) -> None:
        super().__init__(raw)
        self.codec, self.name = codec, name
        self.inner: IO[bytes]
        if codec == "gzip":
            # ISA-L's inflate behind the standard library's interface: 178 MB of CSV in
            # 0.14 CPU-s against gzip.GzipFile's 0.56, on the thread that paces the load.
            self.inner = cast(IO[bytes], igzip.GzipFile(fileobj=raw, mode="rb"))
        elif codec == "bz2":
            self.inner = cast(IO[bytes], bz2.BZ2File(raw))
        elif codec == "xz":
            self.inner = cast(IO[bytes], lzma.LZMAFile(raw))  # noqa: SIM115 (closed in close)
        else:
            self.inner = cast(IO[bytes], _Zstd(raw))

    def _chunk(self, n: int) -> bytes:
        try:
            return self.inner.read(n)
        except (
            OSError,
            EOFError,
            _ISAL_ERROR,
            lzma.LZMAError,
            zstandard.ZstdError,
        ) as exc:
            raise SourceError(
                f"corrupt or truncated {self.codec} data: {exc}",
                where=Where(file=self.name),
                hint="download or export the file again",
            ) from None

    def close(self) -> None:
        if not self.closed:
            self.inner.close()
        super().close()


class _Zstd(ByteReader):
    """zstd frames, one after another. Not ``ZstdDecompressor.stream_reader``: it ends
    quietly where a truncated frame ends. Input goes in by small pieces, since one zstd
    byte may inflate to 32 KiB: a piece yields at most 128 MiB before the limit sees it."""

    PIECE = 4096

    def __init__(self, raw: IO[bytes]) -> None:
        super().__init__(None)  # the raw stream is closed by Decompressed
        self.source, self.dctx = raw, zstandard.ZstdDecompressor()
        self.frame = self.dctx.decompressobj()
        self.fed = False  # whether the current frame has had any input

    def _chunk(self, n: int) -> bytes:
        while True:
            piece = self.source.read(self.PIECE)
            if not piece:
                if self.fed:
                    raise EOFError("the data ends inside a frame")
                return b""
            out = self._feed(piece)
            if out:
                return out

    def _feed(self, data: bytes) -> bytes:
        parts = []
        while data:
            self.fed = True
            parts.append(self.frame.decompress(data))
            data = b""
            if self.frame.eof:  # the next frame, if any, starts in what is left
                data = self.frame.unused_data
                self.frame, self.fed = self.dctx.decompressobj(), False
        return b"".join(parts)


class Transcoded(ByteReader):
    """The text of ``raw`` (in ``encoding``) as UTF-8 bytes; undecodable bytes raise
    UnicodeDecodeError, as they would in PyArrow's own transcoding."""

    def __init__(self, raw: IO[bytes], encoding: str) -> None:
        super().__init__(raw)
        self.decoder = codecs.getincrementaldecoder(encoding)()
        self.done = False

    def _chunk(self, n: int) -> bytes:
        assert self.raw is not None
        while not self.done:
            data = self.raw.read(max(n, 1 << 16))
            self.done = not data
            text = self.decoder.decode(data, final=self.done)
            if text:
                return text.encode("utf-8")
        return b""


def read_full(raw: IO[bytes], n: int) -> bytes:
    """Up to ``n`` bytes: fewer only at the end of the stream."""
    parts, got = [], 0
    while got < n:
        chunk = raw.read(n - got)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def content(raw: IO[bytes], name: str, limit: int) -> IO[bytes]:
    """What ``raw`` holds: inflated, under ``limit`` bytes, when its first bytes say it
    is compressed; ``name`` (its file or member name) must not say otherwise."""
    try:
        head = read_full(raw, HEAD)
        codec, named = sniff(head), named_codec(name)
        if named is not None and codec != named:
            found = f"{codec} data" if codec else "not compressed"
            raise SourceError(
                f"named as {named} data ({PurePosixPath(name).suffix}) but is {found}",
                where=Where(file=name),
                hint="rename the file to what it holds, or export it again",
            )
    except BaseException:
        raw.close()
        raise
    stream: IO[bytes] = cast(IO[bytes], Prefixed(head, raw))
    if codec is None:
        return stream
    inflated = cast(IO[bytes], Decompressed(stream, codec, name))
    return cast(IO[bytes], Limited(inflated, limit, name, f"{codec} data"))
