"""A page served again byte for byte skips the tokenizer (`page_memo.py`): its output must
be exactly what the tokenizer gives, with this response's own snippets, for any page and
any chunking; a page served once is never kept; and the memo must stay within its bytes."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consent_middleware.gating import TagGate
from consent_middleware.html import HtmlRewriter
from consent_middleware.page_memo import MAX_PAGE, PageMemo

from .chunks import feed_in_chunks
from .conftest import AppSpec, Site, make_config
from .test_fuzz import PAGES, examples

HEADS = [b"", b"<script>h1()</script>", b"<script>h2(2)</script> "]
BODIES = [b"", b"</svg></form><div id=b1>one</div>", b"</svg></form><section>two</section> "]
PAGE = (
    b"<!doctype html><html><head><title>t</title></head><body><p>x</p>"
    b"<script>var s = '</body>';</script><!-- </body> --><div title='</body>'></div>"
    b"</body></html>\n"
)


def plain(page: bytes, head: bytes, body: bytes, cuts: Any = ()) -> bytes:
    """What the tokenizer gives, no memo."""
    return feed_in_chunks(HtmlRewriter(head_snippet=head, body_snippet=body), page, cuts)


def through(memo: PageMemo, page: bytes, head: bytes, body: bytes, cuts: Any = ()) -> bytes:
    rewriter = HtmlRewriter(head_snippet=head, body_snippet=body, memo=memo)
    return feed_in_chunks(rewriter, page, cuts)


def twice(memo: PageMemo, page: bytes, head: bytes, body: bytes, cuts: Any = ()) -> None:
    """Serve `page` twice: the memo learns it on the second time."""
    for _ in range(2):
        through(memo, page, head, body, cuts)


@examples(400)
@given(
    page=PAGES,
    first=st.sampled_from([(h, b) for h in HEADS for b in BODIES if h or b]),
    second=st.sampled_from([1, 2]),
    cuts=st.lists(st.integers(0, 400), max_size=3),
)
def test_a_page_seen_before_gets_what_the_tokenizer_gives(
    page: bytes, first: tuple[bytes, bytes], second: int, cuts: list[int]
) -> None:
    """The first response notes the page, the second teaches the memo; the next (other
    snippets of the same kinds, whole or in chunks) gets the tokenizer's own output for its
    snippets."""
    memo = PageMemo(1 << 20, 64)
    head, body = first
    assert through(memo, page, head, body) == plain(page, head, body)
    assert through(memo, page, head, body) == plain(page, head, body)
    head2 = HEADS[second] if head else b""
    body2 = BODIES[second] if body else b""
    assert through(memo, page, head2, body2) == plain(page, head2, body2)
    assert through(memo, page, head2, body2, cuts) == plain(page, head2, body2, cuts)


def test_the_replay_reads_no_markup(monkeypatch: pytest.MonkeyPatch) -> None:
    """The second time, the tokenizer does not run, and the banner still goes at the real
    `</body>` (not in the script's string, the comment or the attribute)."""
    memo = PageMemo(1 << 20, 64)
    twice(memo, PAGE, b"", BODIES[1])
    runs: list[bytes] = []
    tokenize = HtmlRewriter._run

    def counted(self: HtmlRewriter, data: bytes) -> None:
        runs.append(data)
        tokenize(self, data)

    monkeypatch.setattr(HtmlRewriter, "_run", counted)
    out = through(memo, PAGE, b"", BODIES[2])
    assert out == PAGE.replace(b"</body></html>", BODIES[2] + b"</body></html>")
    assert runs == []
    # One byte more is another page: read by the tokenizer.
    assert through(memo, PAGE + b" ", b"", BODIES[2]) == plain(PAGE + b" ", b"", BODIES[2])
    assert runs == [PAGE + b" ", PAGE + b" "]


def test_a_page_served_once_is_not_kept() -> None:
    """Pages that differ on every response (a CSRF token, a visitor's name) are never held
    in memory: only a page's second serving teaches the memo."""
    memo = PageMemo(1 << 22, 4096)
    for n in range(200):
        through(memo, PAGE.replace(b"<p>x</p>", b"<p>token %d</p>" % n), b"", BODIES[1])
    assert all(len(table) == 0 for table in memo._tables.values())
    through(memo, PAGE, b"", BODIES[1])
    assert memo.get(False, True, PAGE) is None
    through(memo, PAGE, b"", BODIES[1])
    assert memo.get(False, True, PAGE) is not None


def test_what_the_memo_does_not_keep() -> None:
    """A page without a `</body>` in its first chunk (its snippet waits for a later one),
    a page longer than MAX_PAGE, and any page under script gating (what a gate writes
    depends on the visitor's grant) are not remembered."""
    memo = PageMemo(1 << 22, 64)
    twice(memo, PAGE, b"", BODIES[1], cuts=[20])
    assert memo.get(False, True, PAGE) is None
    big = PAGE.replace(b"<p>x</p>", b"<p>" + b"x" * MAX_PAGE + b"</p>")
    twice(memo, big, b"", BODIES[1])
    assert memo.get(False, True, big) is None
    for _ in range(2):
        gated = HtmlRewriter(body_snippet=BODIES[1], tags=TagGate(frozenset()), memo=memo)
        gated.feed(PAGE)
        gated.finish()
    assert memo.get(False, True, PAGE) is None
    twice(memo, PAGE, b"", BODIES[1])
    assert memo.get(False, True, PAGE) is not None
    assert memo.get(True, True, PAGE) is None  # another set of snippets: learned apart


def test_the_memo_stays_within_its_bytes() -> None:
    budget = 600_000
    memo = PageMemo(budget, 100_000)
    for n in range(400):
        twice(memo, PAGE.replace(b"<p>x</p>", b"<p>%d</p>" % n + b"y" * 8000), b"", BODIES[1])
    tables = memo._tables.values()
    held = sum(table.size for table in tables)
    assert 0 < held <= budget
    assert sum(len(page) for table in tables for page in table) <= budget


@pytest.mark.parametrize("adapter", ["asgi", "wsgi"])
def test_each_visitor_gets_their_own_banner_in_a_repeated_page(adapter: str) -> None:
    """Through the middleware: the same page to an undecided visitor twice, to one who
    accepted and to the undecided one again: each gets the snippet of their own state, at
    the real `</body>`, however often the page was seen."""
    site = Site(adapter, AppSpec(body=PAGE), make_config())
    accepted = site.consent_cookie({"action": "accept_all"})
    pages = [site.get().content, site.get().content]
    pages += [site.get(cookie=accepted).content, site.get().content]
    first, _, decided, again = pages
    for page in pages:
        assert page.startswith(PAGE[: PAGE.index(b"</body></html>")])
        assert page.endswith(b"</body></html>\n")
    assert b'id="consent-banner"' in first and b'id="consent-banner"' in again
    assert b'"decided":true' in decided and b'"decided":true' not in again
    # The last two came from the memo.
    assert site.middleware.core._page_memo.get(False, True, PAGE) is not None
    site.client.close()
