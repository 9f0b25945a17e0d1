"""Feeding a page to the streaming HTML rewriter in chunks, as a server would send it."""

from __future__ import annotations

from collections.abc import Iterable

from consent_middleware.html import HtmlRewriter


def feed_in_chunks(rewriter: HtmlRewriter, page: bytes, cuts: Iterable[int]) -> bytes:
    """The rewriter's whole output for `page` cut at `cuts` (past the end: at the end); the
    rewriter must not have fallen back to passing the page through (a bug)."""
    points = sorted({min(cut, len(page)) for cut in cuts})
    chunks = [page[a:b] for a, b in zip([0, *points], [*points, len(page)], strict=True)]
    out = b"".join(rewriter.feed(chunk) for chunk in chunks) + rewriter.finish()
    assert not rewriter._failed
    return out
