"""Gating's second look (`latent_tags.py`): once a gated page has opened SVG or MathML, a
refused `<script` or `<iframe` is made inert wherever it stands, since browsers and the
tokenizer may read text and markup differently from there on. Chromium runs each page of
`tests/browser/test_hostile_pages.py` that this covers; here, what the bytes become."""

from __future__ import annotations

import random
import time
from collections.abc import Iterable

import pytest

from consent_middleware.gating import TagGate
from consent_middleware.html import HtmlRewriter
from consent_middleware.latent_tags import INERT, LatentTagGuard
from consent_middleware.start_tags import MAX_TAG

from .chunks import feed_in_chunks
from .test_complexity import BUDGET

REFUSED = b"<script data-consent-category=marketing src=/t.js></script>"
ALLOWED = b"<script data-consent-category=necessary src=/n.js></script>"
INERT_SCRIPT = b"<script" + INERT[b"script"] + REFUSED[len(b"<script") :]


def gate() -> TagGate:
    return TagGate(frozenset({"necessary"}))


def gated(page: bytes, cuts: Iterable[int] = ()) -> bytes:
    return feed_in_chunks(HtmlRewriter(tags=gate()), page, cuts)


@pytest.mark.parametrize(
    "where",
    [
        b"<!--%s-->",  # a comment
        b"<![CDATA[%s]]>",  # text in SVG, a bogus comment in HTML
        b"<style>%s</style>",  # raw text in HTML, an element in SVG
        b"<title>%s</title>",
        b"<script>document.write('%s')</script>",  # a script's string
        b'<a title="%s">',  # an attribute value
    ],
)
def test_after_svg_a_refused_tag_is_inert_wherever_it_stands(where: bytes) -> None:
    page = b"<svg></svg>" + where.replace(b"%s", REFUSED)
    assert gated(page) == b"<svg></svg>" + where.replace(b"%s", INERT_SCRIPT)


@pytest.mark.parametrize(
    ("tag", "opens"),
    [
        (b"<svg>", True),
        (b"<svg/>", False),
        (b"<svg />", False),
        (b'<svg a="b"/>', False),
        (b"<svg a=b />", False),
        (b"<svg a=b/>", True),  # the "/" is the value's: the tag does not close itself
        (b"<svg a=/>", True),
        (b"<svg width=24 height=24/>", True),
        (b"<svg a=b/ >", True),
    ],
)
def test_a_slash_in_an_unquoted_value_does_not_close_the_tag(tag: bytes, opens: bool) -> None:
    """Whether SVG opened decides whether a `<style>` after it is raw text: in SVG it is
    not, and a refused script in it runs (Chromium ran `<svg a=b/><style><script …>`)."""
    page = tag + b"<style>" + REFUSED
    for cuts in ((), range(len(page))):
        out = gated(page, cuts)
        assert (INERT[b"script"] in out or b'type="text/plain"' in out) is opens, (tag, cuts)


def test_after_a_select_too() -> None:
    """Browsers that follow the older select parser ignore some tags in a `<select>`."""
    page = b"<select><style></select>" + REFUSED + b"</style>"
    assert gated(page) == b"<select><style></select>" + INERT_SCRIPT + b"</style>"


def test_before_any_svg_text_is_left_as_it_is() -> None:
    """A `<textarea>` showing a tagged script (a site's editor) keeps its text: before
    foreign content the tokenizer's reading is the browser's."""
    page = b"<textarea>" + REFUSED + b"</textarea><math></math><!--" + REFUSED + b"-->"
    assert gated(page) == (
        b"<textarea>" + REFUSED + b"</textarea><math></math><!--" + INERT_SCRIPT + b"-->"
    )


def test_allowed_and_already_gated_tags_are_left_alone() -> None:
    page = b"<svg></svg><!--" + ALLOWED + b"-->" + REFUSED + b'<script type="text/plain">'
    out = gated(page)
    assert out.count(INERT[b"script"]) == 0  # the refused one was gated by the tokenizer
    assert b"<!--" + ALLOWED + b"-->" in out
    assert b'<script type="text/plain" data-consent-category=marketing' in out


def test_a_refused_iframe_gets_an_empty_srcdoc_hidden_and_empty_handlers() -> None:
    page = (
        b"<math></math><!--<iframe data-consent-category=marketing src=/ad onload=t()></iframe>-->"
    )
    out = gated(page)
    assert out.startswith(b"<math></math><!--<iframe srcdoc hidden onabort ")
    # Before the tag's own: the first of duplicate attributes wins.
    own = b" data-consent-category=marketing src=/ad onload=t()>"
    assert out.index(b" onload ") < out.index(own)
    assert out.endswith(own + b"</iframe>-->")


def test_a_tag_inside_another_tags_attributes_is_judged_too() -> None:
    """`<script title="</style><script …>">`: in a `<style>`, the first is text and the
    second a tag; its bytes are judged on their own."""
    page = b'<svg></svg><script title="' + REFUSED + b'">'
    assert gated(page).count(INERT[b"script"]) == 1


def test_without_gating_nothing_is_changed() -> None:
    page = b"<svg></svg><!--" + REFUSED + b"-->"
    rewriter = HtmlRewriter()
    assert rewriter.feed(page) + rewriter.finish() == page


def test_any_chunking_gives_the_same_page() -> None:
    rnd = random.Random(20261203)
    pieces = [REFUSED, ALLOWED, b"<svg>", b"<!--", b"-->", b"<style>", b'"', b"'", b"x", b"<"]
    for _ in range(300):
        page = b"".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 25)))
        whole = gated(page)
        cuts = sorted(rnd.sample(range(1, len(page)), min(len(page) - 1, rnd.randint(0, 8))))
        assert gated(page, cuts) == whole, page
        assert gated(page, range(len(page))) == whole, page


def test_a_tag_cut_off_by_the_end_of_the_page_is_inert() -> None:
    guard = LatentTagGuard(gate())
    out = guard.feed(b'<p>x<script data-consent-category=marketing title="') + guard.finish()
    assert out == b'<p>x<script type=text/plain data-consent-category=marketing title="'
    # ...and a whole tag inside it too: another reading may see it.
    guard = LatentTagGuard(gate())
    out = guard.feed(b'<script title="' + REFUSED) + guard.finish()
    assert out.count(INERT[b"script"]) == 2


def test_a_tag_longer_than_max_tag_is_inert() -> None:
    guard = LatentTagGuard(gate())
    out = guard.feed(b"<!--<script data-x=" + b"y" * (MAX_TAG + 10)) + guard.feed(b">-->")
    assert out.startswith(b"<!--<script type=text/plain data-x=yyy")
    assert out.endswith(b">-->")


def test_a_partial_name_at_a_chunk_end_waits_for_the_next() -> None:
    guard = LatentTagGuard(gate())
    out = guard.feed(b"a<scr") + guard.feed(b"ipt data-consent-category=ads>") + guard.finish()
    assert out == b"a<script type=text/plain data-consent-category=ads>"


def test_countless_unfinished_tags_are_read_in_linear_time() -> None:
    """A page of 250,000 unfinished tags: each would be read to the end of the page."""
    page = b"<svg></svg>" + b'<script a="' * 250_000
    started = time.perf_counter()
    out = gated(page, range(0, len(page), 65536))
    took = time.perf_counter() - started
    assert out.count(INERT[b"script"]) == 250_000
    assert took < BUDGET, f"{took:.1f} s"


def test_a_long_tag_fed_byte_by_byte_is_read_once() -> None:
    tag = b"<script data-consent-category=ads data-x=" + b"y" * 40_000 + b">"
    guard = LatentTagGuard(gate())
    started = time.perf_counter()
    out = b"".join(guard.feed(tag[i : i + 1]) for i in range(len(tag))) + guard.finish()
    took = time.perf_counter() - started
    assert out == b"<script type=text/plain" + tag[len(b"<script") :]
    assert took < BUDGET, f"{took:.1f} s"
