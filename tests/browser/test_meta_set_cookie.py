"""docs/enforcement.md says a page's `<meta http-equiv="Set-Cookie">` is not looked for,
because browsers ignore that pragma: this holds the claim to Chromium's jar."""

from __future__ import annotations

from playwright.sync_api import BrowserContext, Page, Route

PAGE = (
    "<!doctype html><html><head>"
    '<meta http-equiv="Set-Cookie" content="_fbp=from-meta; Path=/; Max-Age=3600">'
    '<meta http-equiv="set-cookie" content="_ga=from-meta">'
    "</head><body><p>hello</p></body></html>"
)


def test_chromium_sets_no_cookie_from_a_meta_pragma(context: BrowserContext, page: Page) -> None:
    def serve(route: Route) -> None:
        route.fulfill(status=200, content_type="text/html; charset=utf-8", body=PAGE)

    page.route("http://meta-pragma.test/**", serve)
    page.goto("http://meta-pragma.test/")
    assert page.locator("p").inner_text() == "hello"  # the page itself was parsed
    names = {cookie["name"] for cookie in context.cookies()}
    assert names.isdisjoint({"_fbp", "_ga"}), names
    assert page.evaluate("document.cookie") == ""
