"""Algorithmic complexity: pages and requests a real server accepts are handled in time
linear in their size. Each test sends one page (or request) through the middleware and
checks that it is answered well within a second, as a visitor waiting for the page would.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from consent_middleware import ConsentWSGIMiddleware

from .conftest import AppSpec, make_config, raw_wsgi_app
from .raw import RawAnswer, wsgi_request

#: Far above what these pages take when handled in linear time (a few tens of ms).
BUDGET = 1.0


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
