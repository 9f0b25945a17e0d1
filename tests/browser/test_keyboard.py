"""The banner works with the keyboard alone."""

from __future__ import annotations

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from .helpers import Server, banner, consent_state, cookie_names, tab_to

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("key", ["Enter", "Space"])
def test_accept_all_with_the_keyboard(
    site: Server, context: BrowserContext, page: Page, key: str
) -> None:
    page.goto(site.url + "/")
    expect(banner(page)).to_be_visible()
    tab_to(page, "#consent-banner [data-consent-action=accept_all]")
    page.keyboard.press(key)
    expect(banner(page)).to_be_hidden()
    page.wait_for_function("document.cookie.includes('_ga_js=')")
    assert all(consent_state(context, site)["categories"].values())


def test_customize_with_the_keyboard(site: Server, context: BrowserContext, page: Page) -> None:
    page.goto(site.url + "/")
    analytics = page.locator("#consent-cat-analytics")
    expect(analytics).to_be_hidden()
    customize = page.locator("#consent-banner [data-consent-customize]")
    expect(customize).to_have_attribute("aria-expanded", "false")
    tab_to(page, "#consent-banner [data-consent-customize]")
    page.keyboard.press("Enter")
    expect(analytics).to_be_visible()
    expect(customize).to_have_attribute("aria-expanded", "true")
    expect(analytics).not_to_be_checked()

    tab_to(page, "#consent-cat-analytics")
    page.keyboard.press("Space")
    expect(analytics).to_be_checked()
    tab_to(page, "#consent-banner [data-consent-action=save]")
    page.keyboard.press("Enter")
    expect(banner(page)).to_be_hidden()

    page.wait_for_function("document.cookie.includes('_ga_js=')")
    assert consent_state(context, site)["categories"] == {
        "authentication": True,
        "settings": False,
        "analytics": True,
        "marketing": False,
    }
    page.goto(site.url + "/contacts")
    names = cookie_names(context)
    assert {"_ga", "_ga_js"} <= names
    assert "_fbp" not in names
