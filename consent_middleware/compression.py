"""Compressed pages: a gzip, deflate, br or zstd HTML body is decompressed, rewritten and
compressed again as it streams, so the banner and gating work behind GZipMiddleware,
Flask-Compress or brotli-asgi placed inside ConsentMiddleware. Every chunk is flushed on its
own: nothing waits for the end of the body.

gzip and deflate need nothing more. br is read when `brotli` (Google's binding, which
Flask-Compress and brotli-asgi install) or `brotlicffi` is installed, and zstd with Python
3.14's `compression.zstd` or `backports.zstd` (which Flask-Compress installs): an app can only
compress with them when they are there.
"""

from __future__ import annotations

import functools
import importlib
import logging
import zlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .core import BodyFilter

__all__ = ["READERS", "decoder_for", "shown_raw"]

#: The encodings that need a library to be read, and the package to install for each.
READERS = {"br": "brotli", "zstd": "backports.zstd (or Python 3.14)"}

logger = logging.getLogger("consent_middleware")

_GZIP = 16 + zlib.MAX_WBITS
_ZLIB = zlib.MAX_WBITS
_RAW = -zlib.MAX_WBITS
#: A chunk is inflated, rewritten and compressed again this many bytes at a time: a
#: chunk of a page that compresses 1000:1 must not stand in memory whole.
_SLICE = 65536


#: Brotli's quality when a page is compressed again: 4, Flask-Compress's default (brotli's
#: own default, 11, costs tens of milliseconds per page).
_BROTLI_QUALITY = 4


#: Content codings (HTTP's registry, the ones in use): a body in one of them is not HTML as
#: it is. Chromium decodes all but compress; with any other name in a Content-Encoding
#: (`UTF-8`, a common mix-up with the charset, `none`, `binary`) it shows the body as it came.
_CODINGS = frozenset({"gzip", "x-gzip", "deflate", "br", "zstd", "compress", "x-compress"})


def shown_raw(encoding: str) -> bool:
    """Whether browsers show a body of this Content-Encoding as it came: it names no content
    coding, so the page is read as it is (and must be gated as it is)."""
    codings = [c.strip(" \t").lower() for c in encoding.split(",")]
    return any(c and c not in _CODINGS for c in codings)


def decoder_for(encoding: str, inner: BodyFilter) -> BodyFilter | None:
    """`inner` wrapped for a body in `encoding` (a Content-Encoding value), or None when the
    middleware cannot read that encoding (several codings, or br or zstd without their
    library)."""
    if encoding in ("gzip", "x-gzip"):
        return _Recompressing(inner, gzip=True)
    if encoding == "deflate":
        return _Recompressing(inner, gzip=False)
    if encoding == "br":
        brotli = _module("brotli", "brotlicffi")
        return None if brotli is None else _Restreaming(inner, _Brotli(brotli))
    if encoding == "zstd":
        zstd = _module("compression.zstd", "backports.zstd")
        return None if zstd is None else _Restreaming(inner, _Zstd(zstd))
    return None


@functools.cache
def _module(*names: str) -> Any:
    """The first of `names` that imports, or None (looked up once per process)."""
    for name in names:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


class _Recompressing:
    """Decompress, filter, compress: the same encoding in and out."""

    __slots__ = ("_inner", "_gzip", "_decoder", "_encoder", "_broken", "_head")

    def __init__(self, inner: BodyFilter, *, gzip: bool) -> None:
        self._inner = inner
        self._gzip = gzip
        self._decoder: zlib._Decompress | None = zlib.decompressobj(_GZIP) if gzip else None
        self._encoder: zlib._Compress | None = (
            zlib.compressobj(6, zlib.DEFLATED, _GZIP) if gzip else None
        )
        self._broken = False
        self._head = b""  # deflate: the first bytes tell zlib-wrapped from raw

    def feed(self, chunk: bytes) -> bytes:
        if self._broken or not chunk:
            return b""
        if self._decoder is None:
            self._head += chunk
            if len(self._head) < 2:
                return b""
            chunk, self._head = self._head, b""
            wbits = _ZLIB if _looks_zlib(chunk) else _RAW
            self._decoder = zlib.decompressobj(wbits)
            self._encoder = zlib.compressobj(6, zlib.DEFLATED, wbits)
        decoder, encoder = self._decoder, self._encoder
        assert encoder is not None
        out: list[bytes] = []
        while True:
            try:
                data = decoder.decompress(chunk, _SLICE)
            except zlib.error:
                return b"".join(out) + self._give_up()
            if data:
                out.append(encoder.compress(self._inner.feed(data)))
            chunk = decoder.unconsumed_tail
            if not chunk and len(data) < _SLICE:
                break
        out.append(encoder.flush(zlib.Z_SYNC_FLUSH))
        return b"".join(out)

    def finish(self) -> bytes:
        if self._broken:
            return b""
        if self._decoder is None:  # a body of less than 2 bytes: not even a header
            if not self._head:
                return b""
            self._decoder = zlib.decompressobj(_RAW)
            self._encoder = zlib.compressobj(6, zlib.DEFLATED, _RAW)
            chunk, self._head = self._head, b""
            try:
                data = self._decoder.decompress(chunk)
            except zlib.error:
                return self._give_up()
        else:
            data = b""
        try:
            data += self._decoder.flush()
        except zlib.error:
            return self._give_up()
        return self._compress(self._inner.feed(data) + self._inner.finish(), zlib.Z_FINISH)

    def _compress(self, data: bytes, mode: int) -> bytes:
        assert self._encoder is not None
        return self._encoder.compress(data) + self._encoder.flush(mode)

    def _give_up(self) -> bytes:
        # The app's own compressed stream is corrupt: what was sent cannot be taken back,
        # and a raw rest would not decompress either. End the stream cleanly.
        logger.warning("consent-middleware: the app's compressed page is corrupt; ending it")
        self._broken = True
        if self._encoder is None:
            return b""
        return self._encoder.flush(zlib.Z_FINISH)


class _Brotli:
    """One br stream in, one out (Google's `brotli` or `brotlicffi`: the same calls)."""

    __slots__ = ("_decoder", "_encoder")

    def __init__(self, brotli: Any) -> None:
        self._decoder = brotli.Decompressor()
        self._encoder = brotli.Compressor(quality=_BROTLI_QUALITY)

    def decompress(self, data: bytes) -> Iterator[bytes]:
        """The output, `_SLICE` bytes at a time where the library can limit it (brotli
        1.1 and later), else whole."""
        decoder = self._decoder
        if not hasattr(decoder, "can_accept_more_data"):
            yield bytes(decoder.process(data))
            return
        out = bytes(decoder.process(data, output_buffer_limit=_SLICE))
        yield out
        # A full slice may leave output inside even when more input could be taken.
        while len(out) >= _SLICE or not decoder.can_accept_more_data():
            out = bytes(decoder.process(b"", output_buffer_limit=_SLICE))
            yield out

    def add(self, data: bytes) -> bytes:
        """Compressed, not flushed yet."""
        return bytes(self._encoder.process(data)) if data else b""

    def compress(self, data: bytes, *, last: bool) -> bytes:
        out = self._encoder.process(data) if data else b""
        return bytes(out + (self._encoder.finish() if last else self._encoder.flush()))


class _Zstd:
    """One zstd stream in (of one or more frames), one out (`compression.zstd`'s calls)."""

    __slots__ = ("_zstd", "_decoder", "_encoder")

    def __init__(self, zstd: Any) -> None:
        self._zstd = zstd
        self._decoder = zstd.ZstdDecompressor()
        self._encoder = zstd.ZstdCompressor()

    def decompress(self, data: bytes) -> Iterator[bytes]:
        """The output, `_SLICE` bytes at a time."""
        while data:
            yield self._decoder.decompress(data, _SLICE)
            while not self._decoder.eof and not self._decoder.needs_input:
                yield self._decoder.decompress(b"", _SLICE)
            if not self._decoder.eof:
                break
            # A frame ended: what follows is the next frame, if any.
            data = self._decoder.unused_data
            self._decoder = self._zstd.ZstdDecompressor()

    def add(self, data: bytes) -> bytes:
        """Compressed, not flushed yet."""
        return bytes(self._encoder.compress(data)) if data else b""

    def compress(self, data: bytes, *, last: bool) -> bytes:
        mode = (
            self._zstd.ZstdCompressor.FLUSH_FRAME if last else self._zstd.ZstdCompressor.FLUSH_BLOCK
        )
        return bytes(self._encoder.compress(data, mode))


class _Restreaming:
    """Decompress, filter, compress again, with a br or zstd codec: the same encoding in
    and out, each chunk flushed (and inflated a slice at a time, see `_SLICE`)."""

    __slots__ = ("_inner", "_codec", "_broken")

    def __init__(self, inner: BodyFilter, codec: _Brotli | _Zstd) -> None:
        self._inner = inner
        self._codec = codec
        self._broken = False

    def feed(self, chunk: bytes) -> bytes:
        if self._broken or not chunk:
            return b""
        out: list[bytes] = []
        try:
            for data in self._codec.decompress(chunk):
                out.append(self._codec.add(self._inner.feed(data)))
        except Exception:  # each library has its own error type
            return b"".join(out) + self._give_up()
        out.append(self._codec.compress(b"", last=False))
        return b"".join(out)

    def finish(self) -> bytes:
        if self._broken:
            return b""
        return self._codec.compress(self._inner.finish(), last=True)

    def _give_up(self) -> bytes:
        logger.warning("consent-middleware: the app's compressed page is corrupt; ending it")
        self._broken = True
        return self._codec.compress(b"", last=True)


def _looks_zlib(data: bytes) -> bool:
    """A zlib header (RFC 1950): deflate method, and the two bytes a multiple of 31."""
    return (data[0] & 0x0F) == 8 and (data[0] << 8 | data[1]) % 31 == 0
