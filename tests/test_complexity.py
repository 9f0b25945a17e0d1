"""Algorithmic complexity: pages and requests a real server accepts are handled in time
linear in their size. Each test sends one page (or request) through the middleware and
checks that it is answered in seconds, not the minutes that quadratic time took: the
budgets sit far above the linear time (under coverage, on a busy machine) and far below
the quadratic one, so that neither a slow machine nor a regression goes unnoticed.
"""

from __future__ import annotations

import io
import random
import socket
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import brotli
import pytest
from backports import zstd

from consent_middleware import ConsentWSGIMiddleware

from .conftest import AppSpec, make_config, raw_wsgi_app
from .raw import RawAnswer, wsgi_environ, wsgi_request
from .servers import running, server_command

#: Far above what these pages take in linear time (0.25 s; 1.3 s seen under coverage on a
#: busy machine), far below the quadratic time (about 60 s).
BUDGET = 10.0
#: The same for 80,000 header lines: linear about 0.3 s, quadratic about 11 s.
HEADER_LINES_BUDGET = 4.0


def _page_through(body: bytes) -> tuple[RawAnswer, float]:
    spec = AppSpec(body=body)
    app = ConsentWSGIMiddleware(raw_wsgi_app(spec), config=make_config())
    started = time.perf_counter()
    answer = wsgi_request(app, "GET", "/")
    return answer, time.perf_counter() - started


PAGES: dict[str, Callable[[int], bytes]] = {
    # A <noscript> left open (or closed only at the end) holding many tags: every step of
    # the tokenizer looked for "</noscript" again, to the end of the page.
    "noscript-titles": lambda n: b"<html><body><noscript>" + b"<title>t</title>" * n,
    "noscript-scripts": lambda n: b"<html><body><noscript>" + b"<script></script>" * n,
    "noscript-svg": lambda n: b"<html><body><noscript><svg>" + b"<a>" * n,
    # Deeply nested inline SVG, then end tags that close nothing: each end tag walked every
    # open element.
    "nested-svg": lambda n: b"<html><body>" + b"<svg>" * n + b"</g>" * n + b"</body></html>",
}


@pytest.mark.parametrize("shape", list(PAGES))
def test_a_page_of_a_few_hundred_kilobytes_is_rewritten_in_time(shape: str) -> None:
    body = PAGES[shape](25_000)
    assert 70_000 < len(body) < 1_000_000
    answer, took = _page_through(body)
    assert answer.status == 200
    assert b"consent" in answer.body  # the banner went in
    assert took < BUDGET, f"{shape}: {len(body)} bytes took {took:.1f} s"


def _port_in_range() -> int:
    """A free TCP port in 18000-18999 (the range these probes may use)."""
    for port in random.sample(range(18000, 19000), 1000):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 18000-18999")


def _get_with_headers(port: int, lines: bytes) -> tuple[bytes, float]:
    request = b"GET / HTTP/1.1\r\nHost: localhost\r\n" + lines + b"Connection: close\r\n\r\n"
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer, time.perf_counter() - started


@pytest.mark.server
@pytest.mark.parametrize("header", [b"Cookie: c%d=1\r\n", b'If-None-Match: "t%d"\r\n'])
def test_a_request_with_many_header_lines_is_answered_in_time(
    header: bytes, tmp_path: Path
) -> None:
    """uvicorn with httptools takes any number of header lines (HTTP/2 servers send every
    cookie as a line of its own): 80,000 Cookie lines, 1.4 MB. The bare app answers them in
    a fraction of a second; the middleware joined them one by one, in quadratic time (11 s)."""
    lines = b"".join(header % i for i in range(80_000))
    port = _port_in_range()
    command = server_command("uvicorn-httptools", "tests.fixtures.wire_apps:asgi", port)
    with running(command, port, tmp_path / "server.log"):
        answer, took = _get_with_headers(port, lines)
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert took < HEADER_LINES_BUDGET, f"{len(lines)} bytes of {header[:6]!r} lines: {took:.1f} s"


def _streamed(body: bytes, chunk: int) -> tuple[int, float]:
    """`body` from a WSGI app in `chunk`-byte pieces through the middleware: the most bytes
    the middleware held back at any point (made by the app, not yet given to the server),
    and the time the whole took."""
    sent = held = 0

    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        nonlocal held
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        for at in range(0, len(body), chunk):
            held = max(held, at - sent)
            yield body[at : at + chunk]

    middleware = ConsentWSGIMiddleware(app, config=make_config(gate_scripts=True))
    environ = wsgi_environ("/")
    environ["wsgi.input"] = io.BytesIO()
    started = time.perf_counter()
    for out in middleware(environ, lambda status, headers, exc_info=None: None):
        sent += len(out)
    return held, time.perf_counter() - started


def test_a_long_tag_name_in_inline_svg_streams() -> None:
    """Inside `<svg>` every tag name was held back whole until it ended (and joined to
    each next chunk again): a 300 KB name in 64-byte chunks took seconds, all in memory."""
    body = b"<html><body><svg><a" + b"a" * 300_000 + b"></a></svg></body></html>"
    held, took = _streamed(body, 64)
    assert held < 70_000, f"{held} bytes held back"
    assert took < BUDGET, f"took {took:.1f} s"


def _compressed(page: bytes, encoding: str) -> bytes:
    if encoding == "br":
        return bytes(brotli.compress(page, quality=5))
    if encoding == "zstd":
        return bytes(zstd.compress(page))
    wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    return compressor.compress(page) + compressor.flush()


def _decompressed(body: bytes, encoding: str) -> bytes:
    if encoding == "br":
        return bytes(brotli.decompress(body))
    if encoding == "zstd":
        return bytes(zstd.decompress(body))
    return zlib.decompress(body, 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd"])
def test_a_compressed_page_is_not_expanded_whole_in_memory(encoding: str) -> None:
    """A page of 40 MB of blank lines compresses to 40 KB, sent by the app in one
    message: the middleware inflated it whole (and rewrote it whole) before compressing
    it again, 1,000 times the memory of what it was given."""
    page = b"<html><body>" + b"\n" * 40_000_000 + b"<p>end</p></body></html>"
    body = _compressed(page, encoding)
    del page
    assert len(body) < 100_000
    spec = AppSpec(body=body, extra_headers=[("Content-Encoding", encoding)])
    app = ConsentWSGIMiddleware(raw_wsgi_app(spec), config=make_config())
    tracemalloc.start()
    try:
        answer = wsgi_request(app, "GET", "/")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert answer.status == 200
    shown = _decompressed(answer.body, encoding)
    assert shown.startswith(b"<html><body>\n\n") and shown.endswith(b"</body></html>")
    assert b"<p>end</p>" in shown[-20_000:] and b"consent-banner" in shown[-20_000:]
    assert peak < 8_000_000, f"{peak / 1e6:.0f} MB at the peak for {len(body)} bytes"


def test_whitespace_in_cookie_values_is_read_in_linear_time() -> None:
    """A run of spaces in a Set-Cookie's value or a Cookie pair (the request's is the
    visitor's to choose): reading the names `http.cookies` finds after a space tried every
    space of the run again, 0.2 s for 4,000 spaces, about 3 s for the 16,000 here."""
    from consent_middleware.cookies import spaced_names
    from consent_middleware.policy import ConsentPolicy

    run = " " * 16_000
    policy = ConsentPolicy(make_config())
    started = time.perf_counter()
    assert spaced_names(f"lang=a{run}x; Path=/") == ()
    assert spaced_names(f"lang=a{run}_fbp{run}=1") == ("_fbp",)
    request = policy.read_request(f"lang=a{run}x; _ga=a{run}b", https=False)
    assert request.refused == ("lang", "_ga")
    assert time.perf_counter() - started < 0.5
