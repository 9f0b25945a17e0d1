"""br and zstd pages (Flask-Compress's first choices for a browser that offers them) are
read, rewritten and compressed again as they stream, like gzip and deflate ones."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import brotli  # Flask-Compress's dependencies, as the test dependencies install them
import pytest

try:
    from compression import zstd  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # before Python 3.14
    from backports import zstd  # type: ignore[no-redef,unused-ignore]

from consent_middleware import compression
from consent_middleware.compression import decoder_for
from consent_middleware.html import HtmlRewriter

PAGE = (
    b"<!doctype html><html><head><title>Shop</title></head><body>"
    + b"<p>Long enough to be worth compressing. </p>" * 40
    + b"<script>/* </body> in a script is no end */</script></body></html>"
)
SNIPPET = b"<section id=consent-banner></section>"
EXPECTED = PAGE.replace(b"</body></html>", SNIPPET + b"</body></html>")

Codec = tuple[Callable[[bytes], bytes], Callable[[bytes], bytes], Callable[[], Any]]
CODECS: dict[str, Codec] = {
    # compress, decompress, a streaming decompressor with .decompress or .process
    "br": (brotli.compress, brotli.decompress, brotli.Decompressor),
    "zstd": (zstd.compress, zstd.decompress, zstd.ZstdDecompressor),
}


def rewrite(encoding: str, body: bytes, size: int) -> list[bytes]:
    body_filter = decoder_for(encoding, HtmlRewriter(body_snippet=SNIPPET))
    assert body_filter is not None
    out = [body_filter.feed(body[i : i + size]) for i in range(0, len(body), size)]
    return [*out, body_filter.finish()]


@pytest.mark.parametrize("encoding", sorted(CODECS))
@pytest.mark.parametrize("size", [1, 7, 64, 100_000])
def test_a_compressed_page_gets_the_banner_at_its_real_end(encoding: str, size: int) -> None:
    compress, decompress, _ = CODECS[encoding]
    out = rewrite(encoding, compress(PAGE), size)
    assert decompress(b"".join(out)) == EXPECTED


def streamed(encoding: str, first: bytes, rest: bytes) -> tuple[bytes, bytes]:
    """`first` and `rest` compressed as a streaming app sends them: `first` flushed."""
    if encoding == "br":
        encoder = brotli.Compressor()
        return encoder.process(first) + encoder.flush(), encoder.process(rest) + encoder.finish()
    encoder = zstd.ZstdCompressor()
    return (
        encoder.compress(first, zstd.ZstdCompressor.FLUSH_BLOCK),
        encoder.compress(rest, zstd.ZstdCompressor.FLUSH_FRAME),
    )


@pytest.mark.parametrize("encoding", sorted(CODECS))
def test_every_chunk_is_flushed(encoding: str) -> None:
    """What the middleware sends for a chunk decompresses at once: a streamed page is not
    held back until its end."""
    _, decompress, streaming = CODECS[encoding]
    half = len(PAGE) // 2
    chunks = streamed(encoding, PAGE[:half], PAGE[half:])
    body_filter = decoder_for(encoding, HtmlRewriter(body_snippet=SNIPPET))
    assert body_filter is not None
    first = body_filter.feed(chunks[0])
    reader = streaming()
    read = getattr(reader, "process", None) or reader.decompress
    seen = read(first)
    assert len(seen) > half - 16  # at most a possible end marker waits
    assert EXPECTED.startswith(seen)
    rest = body_filter.feed(chunks[1]) + body_filter.finish()
    assert decompress(first + rest) == EXPECTED


def test_zstd_frames_one_after_another_are_all_read() -> None:
    half = len(PAGE) // 2
    body = zstd.compress(PAGE[:half]) + zstd.compress(PAGE[half:])
    for size in (5, len(body)):
        assert zstd.decompress(b"".join(rewrite("zstd", body, size))) == EXPECTED


@pytest.mark.parametrize("encoding", sorted(CODECS))
def test_a_corrupt_stream_is_ended_cleanly(encoding: str, caplog: pytest.LogCaptureFixture) -> None:
    compress, decompress, _ = CODECS[encoding]
    body = compress(PAGE)
    broken = body[: len(body) // 2] + b"\xff" * 64 + body[len(body) // 2 :]
    out = b"".join(rewrite(encoding, broken, 16))
    decompress(out)  # a complete stream: what was sent before the damage, then its end
    assert "compressed page is corrupt" in caplog.text


@pytest.mark.parametrize("encoding", sorted(CODECS))
def test_without_its_library_an_encoding_is_left_alone(
    encoding: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compression, "_module", lambda *names: None)
    assert decoder_for(encoding, HtmlRewriter(body_snippet=SNIPPET)) is None
    assert decoder_for("gzip", HtmlRewriter(body_snippet=SNIPPET)) is not None


@pytest.mark.parametrize("encoding", ["compress", "gzip, br", "identity, zstd", "dcb"])
def test_other_codings_are_not_read(encoding: str) -> None:
    assert decoder_for(encoding, HtmlRewriter(body_snippet=SNIPPET)) is None


def test_a_page_it_cannot_read_passes_as_it_is_with_what_to_do_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from consent_middleware.core import ConsentCore

    from .conftest import make_config

    monkeypatch.setattr(compression, "_module", lambda *names: None)
    core = ConsentCore(make_config())
    ctx = core.begin("", False)
    for encoding in (b"br", b"br", b"compress"):
        headers = [(b"content-type", b"text/html"), (b"content-encoding", encoding)]
        sent, page_filter = core.plan_response(ctx, 200, headers, True)
        assert page_filter is None  # the page leaves as the app wrote it
        assert sent == headers
    assert caplog.text.count("br-encoded page without banner or gating") == 1  # once
    assert "install brotli" in caplog.text
    assert "compress-encoded page without banner or gating" in caplog.text
