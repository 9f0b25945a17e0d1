"""The `<meta>` charset table (tests/fixtures/meta_charsets.py) is Chromium's: each page,
sent as `text/html` with no charset, is read in the charset the table says, so
`meta_charset.py` (which the unit tests hold to the table) reads pages as Chromium does."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, Route

from ..fixtures.meta_charsets import META_PAGES

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("case", list(META_PAGES))
def test_chromium_reads_the_page_in_the_charset_of_the_table(page: Page, case: str) -> None:
    body, _, charset = META_PAGES[case]

    def fulfil(route: Route) -> None:
        route.fulfill(status=200, headers={"Content-Type": "text/html"}, body=body)

    page.route("http://meta.test/", fulfil)
    page.goto("http://meta.test/")
    assert page.evaluate("document.characterSet") == charset
