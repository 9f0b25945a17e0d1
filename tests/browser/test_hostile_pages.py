"""Markup in every text the banner and the preferences page show, in the page's own URL and
in the Referer, rendered by real Chromium through uvicorn and waitress: nothing injected runs
(`window.__pwned` stays unset), and the texts show as the text they are."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, Page, expect

from ..fixtures.hostile_apps import PWN
from ..servers import Running, serving
from .helpers import banner

pytestmark = pytest.mark.browser

HOSTILE_PATH = '/"><script>window.__pwned=1</script><img src=x onerror=window.__pwned=1>'
HOSTILE_QUERY = (
    "?q=%22%3E%3Cscript%3Ewindow.__pwned=1%3C/script%3E&x='\"<svg/onload=window.__pwned=1>"
)


@pytest.fixture(scope="module", params=["uvicorn", "waitress"])
def hostile_site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    with serving("tests.fixtures.hostile_apps", request.param, tmp_path_factory) as site:
        yield site


def assert_nothing_ran(page: Page) -> None:
    # Give onerror and onload handlers their chance, and move the focus through the banner
    # (an injected onfocus would run then).
    page.wait_for_timeout(300)
    for _ in range(12):
        page.keyboard.press("Tab")
    assert page.evaluate("window.__pwned") is None


def test_a_page_with_hostile_texts_and_url(hostile_site: Running, page: Page) -> None:
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(hostile_site.url + quote(HOSTILE_PATH, safe="/=") + HOSTILE_QUERY)
    expect(banner(page)).to_be_visible()
    assert page.locator("#consent-banner-title").inner_text() == f"{PWN} title"
    assert (
        page.locator("label[for=consent-cat-analytics]").inner_text()
        == f"{PWN} category.analytics.label"
    )
    link = banner(page).locator("a[href^='/privacy']")
    assert link.get_attribute("href") == '/privacy?a="><script>window.__pwned=1</script>'
    assert page.locator("script").count() == 2  # the state and banner.js: none injected
    assert page.locator("svg, img").count() == 0
    assert_nothing_ran(page)
    # The banner's own script read its state, with the policy version as text.
    assert "</script>" in page.evaluate("window.consentMiddleware.get().policy_version")
    assert dialogs == []


def test_the_preferences_and_error_pages(hostile_site: Running, page: Page) -> None:
    back = quote(HOSTILE_PATH, safe="")
    page.goto(f"{hostile_site.url}/consent/preferences?return_to={back}")
    expect(page.locator("h1")).to_have_text(f"{PWN} preferences_title")
    assert page.locator("svg, img").count() == 0
    assert_nothing_ran(page)
    # A refused form post, sent from a page whose URL is hostile: its error page too.
    page.goto(hostile_site.url + quote(HOSTILE_PATH, safe="/=") + HOSTILE_QUERY)
    with page.expect_navigation():
        page.evaluate(
            """() => {
                const form = document.createElement("form");
                form.method = "post";
                form.setAttribute("action", "/consent");
                form.innerHTML = '<input name="action" value="nope">';
                document.body.append(form);
                form.submit();
            }"""
        )
    expect(page.locator("h1")).to_have_text(f"{PWN} error_title")
    assert page.locator("svg, img").count() == 0
    assert_nothing_ran(page)
    back_link = page.locator(".consent-back a").last
    href = back_link.get_attribute("href") or ""
    assert href.startswith("/") and not href.startswith("//") and "<" not in href


#: Pages whose refused script a browser would run if gating read them differently from it.
TRICKY = [
    b"<script data-consent-category=marketing>window.__pwned=1</script>",
    b"<svg><script data-consent-category=marketing>window.__pwned=1</script></svg>",
    b"<noscript><style></noscript><script data-consent-category=marketing>window.__pwned=1"
    b"</script>",
    b"<noscript><!--</noscript><script data-consent-category=marketing>window.__pwned=1"
    b"</script>-->",
    b"<noscript><script></noscript><script data-consent-category=marketing>window.__pwned=1"
    b"</script>",
    b"<noscript><a title='</noscript><script data-consent-category=marketing>"
    b"window.__pwned=1</script>'>",
    b"<!--<script>--><script data-consent-category=marketing>window.__pwned=1</script>",
    b"<script><!--<script></script>--></script><script data-consent-category=marketing>"
    b"window.__pwned=1</script>",
    # Right in an integration point, `<![CDATA[` is a CDATA section (up to `]]>`), not the
    # bogus comment (up to `>`) it is once an HTML element is open there.
    b"<svg><foreignObject><![CDATA[><!--]]><script data-consent-category=marketing>"
    b"window.__pwned=1</script>-->",
    b'<svg><foreignObject><![CDATA[ > <a title="]]><script data-consent-category=marketing>'
    b'window.__pwned=1</script>">',
    # `<svg>` inside MathML is a MathML element: its `<title>` is no integration point.
    b"<math><svg><title><style><mi><script data-consent-category=marketing>window.__pwned=1"
    b"</script>",
    # After SVG or MathML, a browser's reading depends on the tree it built (which HTML
    # elements are open, a <font>'s attributes, an encoding, an <mglyph>): gating's second
    # look (`latent_tags.py`) makes every refused tag inert, text or not.
    *(
        before + b"<script data-consent-category=marketing>window.__pwned=1</script>" + after
        for before, after in [
            (b"<div><math></div><![CDATA[</math>", b""),
            (b"<div><svg></div><style><!--</style>", b"-->"),
            (b"<a><svg></a><style><!--</style>", b"-->"),
            (b"<span><svg><g></span><![CDATA[</svg>", b""),
            (b"<table><svg></table><style><!--</style>", b"-->"),
            (b"<svg><font><style>", b"</style></font></svg>"),
            (b"<svg><font><style><p>", b"</style></font></svg>"),
            (b"<math><annotation-xml encoding=text/html><style><!--</style>", b"-->"),
            (b"<math><mtext><mglyph><style><p>", b"</style>"),
            (b"<svg><foreignObject><div></svg></div></foreignObject><style>", b"</style>"),
            (b"<svg><foreignObject><p></foreignObject><style><!--</style>", b"-->"),
            (b"<svg><desc><div></desc><style><!--</style>", b"-->"),
        ]
    ),
    # A "/" in an unquoted value is the value's: `<svg a=b/>` opens SVG, whose <style> and
    # <title> are no raw text.
    b"<svg a=b/><style><script data-consent-category=marketing>window.__pwned=1</script>",
    b"<svg width=24 height=24/><title><script data-consent-category=marketing>"
    b"window.__pwned=1</script></title>",
    b"<math a=/><style><p><script data-consent-category=marketing>window.__pwned=1</script>",
    # A srcdoc document is the page's own origin: its refused script would run there.
    b'<iframe srcdoc="<script data-consent-category=marketing>parent.__pwned=1</script>"></iframe>',
    b'<iframe srcdoc="&lt;script data-consent-category=marketing&gt;parent.__pwned=1'
    b'&lt;/script&gt;"></iframe>',
    b"<div><svg></div><style><!--</style><iframe data-consent-category=marketing "
    b'srcdoc="<script>parent.__pwned=1</script>"></iframe>-->',
]


@pytest.mark.parametrize("markup", TRICKY, ids=lambda m: m.decode()[:40])
def test_gated_scripts_stay_inert_in_chromium(browser: Browser, markup: bytes) -> None:
    """The rewriter's output, as Chromium parses and runs it (each page in a new one):
    the refused script does not run; without gating the same page runs it."""
    from consent_middleware.gating import TagGate
    from consent_middleware.html import HtmlRewriter

    page = b"<!doctype html><html><head></head><body>" + markup + b"</body></html>"
    rewriter = HtmlRewriter(tags=TagGate(frozenset({"authentication"})))
    gated = rewriter.feed(page) + rewriter.finish()
    for html, runs in ((page, True), (gated, False)):
        tab = browser.new_page()
        try:
            tab.set_content(html.decode())
            assert tab.evaluate("window.__pwned === 1") is runs, html
        finally:
            tab.close()


_SS = b'<script data-consent-category="marketing">window.__pwned=1</script>'
#: XHTML pages, which Chromium reads as XML: no raw text, no script escapes, prefixed names.
XHTML_TRICKY = [
    b"<textarea>" + _SS + b"</textarea>",
    b"<style>" + _SS + b"</style>",
    b"<title>" + _SS + b"</title>",
    b'<h:script xmlns:h="http://www.w3.org/1999/xhtml" data-consent-category="marketing">'
    b"window.__pwned=1</h:script>",
    b'<s:svg xmlns:s="http://www.w3.org/2000/svg"><s:script data-consent-category="marketing">'
    b"window.__pwned=1</s:script></s:svg>",
    b'<h:iframe xmlns:h="http://www.w3.org/1999/xhtml" data-consent-category="marketing"'
    b' srcdoc="&lt;script&gt;parent.__pwned=1&lt;/script&gt;"/>',
    b'<script>/*<![CDATA[*/ var a="<!--<script>"; /*]]>*/</script>' + _SS,
]


@pytest.mark.parametrize("markup", XHTML_TRICKY, ids=lambda m: m.decode()[:40])
def test_gated_scripts_stay_inert_in_an_xhtml_page(browser: Browser, markup: bytes) -> None:
    """Through the core, as `application/xhtml+xml`: the refused script does not run, the
    page stays well-formed XML (no parser error), and the banner is in it; without the
    middleware the same page runs the script."""
    from consent_middleware.core import ConsentCore

    from ..conftest import make_config

    page = (
        b'<?xml version="1.0" encoding="utf-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml">'
        b"<head><title>t</title></head><body>" + markup + b"</body></html>"
    )
    core = ConsentCore(make_config(gate_scripts=True))
    headers = [(b"content-type", b"application/xhtml+xml")]
    sent, page_filter = core.plan_response(core.begin("", False), 200, headers, True)
    assert page_filter is not None
    gated = page_filter.feed(page[:50]) + page_filter.feed(page[50:]) + page_filter.finish()
    for body, runs in ((page, True), (gated, False)):
        tab = browser.new_page()
        try:
            tab.route(
                "http://xhtml.test/",
                lambda route, _request=None, body=body: route.fulfill(
                    status=200, body=body, headers={"content-type": "application/xhtml+xml"}
                ),
            )
            tab.goto("http://xhtml.test/")
            tab.wait_for_timeout(100)
            assert tab.evaluate("window.__pwned === 1") is runs, body
            assert tab.evaluate("document.querySelector('parsererror') === null"), body
            if not runs:
                assert tab.evaluate("document.getElementById('consent-banner') !== null")
        finally:
            tab.close()
