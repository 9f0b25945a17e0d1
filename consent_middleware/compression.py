"""Compressed pages: a gzip or deflate HTML body is decompressed, rewritten and compressed
again as it streams, so the banner and gating work behind GZipMiddleware or Flask-Compress
placed inside ConsentMiddleware. Every chunk is flushed on its own: nothing waits for the
end of the body.
"""

from __future__ import annotations

import logging
import zlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .core import BodyFilter

__all__ = ["decoder_for"]

logger = logging.getLogger("consent_middleware")

_GZIP = 16 + zlib.MAX_WBITS
_ZLIB = zlib.MAX_WBITS
_RAW = -zlib.MAX_WBITS


def decoder_for(encoding: str, inner: BodyFilter) -> BodyFilter | None:
    """`inner` wrapped for a body in `encoding` (a Content-Encoding value), or None when the
    middleware cannot read that encoding (br, zstd, several codings)."""
    if encoding in ("gzip", "x-gzip"):
        return _Recompressing(inner, gzip=True)
    if encoding == "deflate":
        return _Recompressing(inner, gzip=False)
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
        try:
            data = self._decoder.decompress(chunk)
        except zlib.error:
            return self._give_up()
        return self._compress(self._inner.feed(data), zlib.Z_SYNC_FLUSH)

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


def _looks_zlib(data: bytes) -> bool:
    """A zlib header (RFC 1950): deflate method, and the two bytes a multiple of 31."""
    return (data[0] & 0x0F) == 8 and (data[0] << 8 | data[1]) % 31 == 0
