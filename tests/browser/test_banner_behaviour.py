"""The banner leaves the page usable, reopens on demand, and returns with a new policy."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from .helpers import DESKTOP, PHONE, Server, banner, choose, consent_state, cookie_names

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280x800", "320x640"])
def test_banner_leaves_the_page_readable_and_scrollable(
    site: Server, new_context: Callable[..., BrowserContext], viewport: dict[str, int]
) -> None:
    page = new_context(viewport=viewport).new_page()
    page.goto(site.url + "/privacy")
    expect(banner(page)).to_be_visible()
    box = banner(page).bounding_box()
    assert box is not None
    assert box["height"] < 0.7 * viewport["height"], box

    # The heading is not under the banner, and the page scrolls while the banner is shown.
    heading = page.get_by_role("heading", level=1)
    assert heading.evaluate(
        """h => {
            const r = h.getBoundingClientRect();
            return h.contains(document.elementFromPoint(r.left + 5, r.top + r.height / 2));
        }"""
    )
    page.mouse.move(viewport["width"] / 2, 10)
    page.mouse.wheel(0, 600)
    page.wait_for_function("window.scrollY > 0")
    expect(banner(page)).to_be_visible()


def test_cookie_settings_reopens_the_banner_with_the_current_choice(
    site: Server, page: Page
) -> None:
    page.goto(site.url + "/")
    banner(page).locator("[data-consent-customize]").click()
    page.locator("#consent-cat-analytics").check()
    choose(page, "save")

    page.goto(site.url + "/deals")
    expect(banner(page)).to_be_hidden()
    page.locator("footer [data-consent-open]").click()
    expect(banner(page)).to_be_visible()
    page.wait_for_function(
        "document.getElementById('consent-banner').contains(document.activeElement)"
    )
    expect(page.locator("#consent-cat-analytics")).to_be_checked()
    expect(page.locator("#consent-cat-settings")).not_to_be_checked()
    expect(page.locator("#consent-cat-marketing")).not_to_be_checked()


def test_banner_returns_when_the_policy_version_changes(
    site: Server, context: BrowserContext, page: Page, extra_server: Callable[..., Server]
) -> None:
    page.goto(site.url + "/")
    choose(page, "accept_all")
    page.goto(site.url + "/contacts")
    expect(banner(page)).to_be_hidden()
    assert {"consent", "_ga", "_fbp", "_ga_js"} <= cookie_names(context)

    # The same site with a new policy (cookies are per host, not per port: the jar is shared).
    updated = extra_server(site.kind, INTEGRICA_POLICY_VERSION="2027-01-01")
    page.goto(updated.url + "/contacts")
    expect(banner(page)).to_be_visible()
    state = consent_state(context, updated)
    assert state["decided"] is False
    assert state["policy_version"] == "2027-01-01"
    assert not {"_ga", "_fbp", "_ga_js"} & cookie_names(context)
