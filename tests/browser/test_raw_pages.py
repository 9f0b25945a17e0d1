"""Pages of odd shapes in real Chromium, through uvicorn and waitress
(`tests/fixtures/raw_page_apps.py`).

- An iframe held until consent runs none of its inline event handlers: an iframe without a
  source still loads its empty document and fires `load`, so a vendor's `onload` on a
  refused frame would run its code (and set its cookies) before consent. Once the visitor
  allows the category, the frame loads; its handlers run from the next page on.
- A page that ends inside an unclosed `<template>` or `<noscript>` shows its banner (at the
  end, where it would have been template content, inert, or the noscript's text)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from ..fixtures.raw_page_apps import ENDINGS, PAGES
from ..servers import Running, serving
from .helpers import banner, choose, cookie_names

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module", params=["uvicorn", "waitress"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    with serving("tests.fixtures.raw_page_apps", request.param, tmp_path_factory) as running_site:
        yield running_site


def ran(page: Page) -> list[str]:
    return list(page.evaluate("window.__ran || []"))


@pytest.mark.parametrize("path", sorted(PAGES))
def test_a_refused_frame_runs_none_of_its_handlers(site: Running, page: Page, path: str) -> None:
    page.goto(site.url + path)
    expect(banner(page)).to_be_visible()
    page.wait_for_load_state("load")
    page.wait_for_timeout(300)  # a late load event has its chance
    assert ran(page) == []
    assert not any(n.startswith("_fbp") for n in cookie_names(page.context))
    # The frame is there, and loads nothing.
    frame = page.locator("iframe")
    assert frame.count() == 1
    assert frame.get_attribute("src") is None


def test_allowing_the_category_loads_the_frame_and_its_handler_runs_on_the_next_page(
    site: Running, page: Page
) -> None:
    page.goto(site.url + "/with-source")
    page.locator("[data-consent-allow=marketing]").click()
    expect(page.frame_locator("iframe[title=video]").locator(".embed")).to_have_text(
        "the embedded page"
    )
    assert ran(page) == []  # renamed, it stays so on this page
    page.reload()
    expect(page.frame_locator("iframe[title=video]").locator(".embed")).to_be_visible()
    page.wait_for_function("(window.__ran || []).includes('onload')")
    assert "_fbp_js" in cookie_names(page.context)


def test_accept_all_leaves_a_frame_without_source_alone(site: Running, page: Page) -> None:
    page.goto(site.url + "/without-source")
    choose(page, "accept_all")
    page.reload()
    page.wait_for_function("(window.__ran || []).includes('bare')")


@pytest.mark.parametrize("path", sorted(ENDINGS))
def test_a_page_ending_inside_a_template_or_noscript_shows_its_banner(
    site: Running, page: Page, path: str
) -> None:
    page.goto(site.url + path)
    # In the document, not in a template's content (where getElementById cannot see it).
    expect(banner(page)).to_be_visible()
    assert page.evaluate("document.getElementById('consent-banner').closest('noscript')") is None
    choose(page, "reject_all")
    assert page.evaluate("window.consentMiddleware.get().decided") is True
