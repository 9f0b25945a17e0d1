"""axe-core finds nothing to fix, in English and in Ukrainian; screenshots for the README."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, expect

from .helpers import DESKTOP, IMAGES_DIR, UKRAINIAN, Server, axe_violations, banner

pytestmark = pytest.mark.browser

CYRILLIC = re.compile("[\u0400-\u04ff]")


@pytest.mark.parametrize("lang", ["en", "uk"])
@pytest.mark.parametrize("view", ["banner", "customize", "preferences"])
def test_axe_finds_no_violations(
    site: Server, new_context: Callable[..., BrowserContext], view: str, lang: str
) -> None:
    # bypass_csp: the preferences page's strict CSP would refuse the injected axe script.
    context = new_context(bypass_csp=True, **(UKRAINIAN if lang == "uk" else {}))
    page = context.new_page()
    if view == "preferences":
        page.goto(site.url + "/consent/preferences")
        expect(page.locator("html")).to_have_attribute("lang", lang)
    else:
        page.goto(site.url + "/")
        expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(banner(page)).to_be_visible()
    if view == "customize":
        banner(page).locator("[data-consent-customize]").click()
        expect(page.locator("#consent-cat-analytics")).to_be_visible()
    expect(banner(page)).to_have_attribute("lang", lang)
    text = banner(page).inner_text()
    assert bool(CYRILLIC.search(text)) is (lang == "uk"), text

    assert axe_violations(page) == []


@pytest.mark.parametrize("lang", ["en", "uk"])
def test_banner_screenshot(
    fastapi_site: Server, new_context: Callable[..., BrowserContext], lang: str
) -> None:
    context = new_context(**(UKRAINIAN if lang == "uk" else {}))
    page = context.new_page()
    page.goto(fastapi_site.url + "/")
    expect(banner(page)).to_be_visible()
    expect(banner(page)).to_have_attribute("lang", lang)
    path = IMAGES_DIR / ("banner.png" if lang == "en" else f"banner-{lang}.png")
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=path, animations="disabled")
    png = path.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (DESKTOP["width"], DESKTOP["height"])
