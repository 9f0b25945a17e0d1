"""The visitor's way through the banner: before a choice, reject, accept, withdraw, no JS."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from .helpers import (
    OPTIONAL_COOKIES,
    Server,
    action_button,
    banner,
    choose,
    consent_state,
    cookie_names,
    jar,
    set_theme,
    sign_in,
)

pytestmark = pytest.mark.browser


def test_before_a_choice_only_authentication_cookies(
    site: Server, context: BrowserContext, page: Page
) -> None:
    sign_in(page, site)
    for path in ("/", "/contacts", "/deals"):
        page.goto(site.url + path)
        expect(banner(page)).to_be_visible()
    assert cookie_names(context) == {"session"}
    assert jar(context)["session"]["httpOnly"]
    assert consent_state(context, site)["decided"] is False


def test_reject_all_keeps_only_necessary_cookies_on_every_page(
    site: Server, context: BrowserContext, page: Page
) -> None:
    sign_in(page, site)
    choose(page, "reject_all")
    for path in ("/contacts", "/deals", "/privacy"):
        page.goto(site.url + path)
        expect(banner(page)).to_be_hidden()
    set_theme(page, site, "dark")
    expect(page.locator("html")).not_to_have_attribute("data-theme", "dark")
    expect(page.locator("#theme-note")).to_contain_text("only be remembered if you allow")
    assert cookie_names(context) == {"session", "consent"}
    state = consent_state(context, site)
    assert state["decided"] is True
    assert state["categories"] == {
        "authentication": True,
        "settings": False,
        "analytics": False,
        "marketing": False,
    }


def test_accept_all_runs_gated_script_without_reload(
    site: Server, context: BrowserContext, page: Page
) -> None:
    page.goto(site.url + "/")
    page.evaluate("window.sameDocument = true")
    with page.expect_response(lambda r: r.request.header_value("x-consent-refresh") == "1"):
        choose(page, "accept_all")
    page.wait_for_function("document.cookie.includes('_ga_js=')")
    assert page.evaluate("window.sameDocument") is True
    assert page.evaluate("performance.getEntriesByType('navigation')[0].type") == "navigate"
    # No reload: banner.js asked for the page again in the background, and the server's
    # own cookies, HttpOnly ones included, came with that answer.
    cookies = jar(context)
    assert {"consent", "_ga_js", "_ga", "_fbp"} <= set(cookies)
    assert cookies["_ga"]["httpOnly"] and cookies["_fbp"]["httpOnly"]

    page.goto(site.url + "/contacts")
    expect(banner(page)).to_be_hidden()
    cookies = jar(context)
    assert {"consent", "_ga", "_ga_js", "_fbp"} <= set(cookies)
    assert cookies["_ga"]["httpOnly"] and cookies["_fbp"]["httpOnly"]
    assert cookies["_ga"]["value"].startswith("GA1.1.")
    assert all(consent_state(context, site)["categories"].values())

    page.goto(site.url + "/deals")
    expect(banner(page)).to_be_hidden()


@pytest.mark.parametrize("how", ["reject_all", "uncheck_and_save"])
def test_withdrawing_on_the_preferences_page_removes_cookies(
    site: Server, context: BrowserContext, page: Page, how: str
) -> None:
    page.goto(site.url + "/")
    choose(page, "accept_all")
    set_theme(page, site, "dark")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    assert cookie_names(context) >= OPTIONAL_COOKIES

    page.goto(site.url + "/consent/preferences?return_to=/settings")
    if how == "uncheck_and_save":
        for category in ("settings", "analytics", "marketing"):
            page.locator(f"#consent-cat-{category}").uncheck()
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        action_button(page, "save" if how == "uncheck_and_save" else "reject_all").click()
    assert answer.value.status in (200, 303)
    page.wait_for_load_state()
    assert not OPTIONAL_COOKIES & cookie_names(context)

    page.goto(site.url + "/settings")
    expect(page.locator("html")).not_to_have_attribute("data-theme", "dark")
    expect(page.locator("#theme-note")).to_contain_text("only be remembered if you allow")
    assert cookie_names(context) == {"consent"}
    assert not any(consent_state(context, site)["categories"][c] for c in ("analytics", "settings"))


def test_the_whole_flow_without_javascript(
    site: Server, new_context: Callable[..., BrowserContext]
) -> None:
    context = new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(site.url + "/contacts")
    expect(banner(page)).to_be_visible()

    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        action_button(page, "accept_all").click()
    assert answer.value.status == 303
    # The banner's form posts with the page's own choice token (retries count once).
    token = r"[0-9a-f]{8}[A-Za-z0-9_-]{16}"  # when the page was rendered, then random
    assert re.fullmatch(re.escape(site.url) + r"/consent\?t=" + token, answer.value.url)
    page.wait_for_url(site.url + "/contacts")
    expect(page.get_by_role("heading", level=1)).to_have_text("Contacts")
    expect(banner(page)).to_be_hidden()
    # The page the form returned to was the first request with consent: it set the cookies.
    names = cookie_names(context)
    assert {"consent", "_ga", "_fbp"} <= names
    assert "_ga_js" not in names  # the gated script needs JavaScript
    assert all(consent_state(context, site)["categories"].values())

    page.get_by_role("link", name="Deals").first.click()
    page.wait_for_url(site.url + "/deals")
    expect(banner(page)).to_be_hidden()


def test_customize_without_javascript(
    site: Server, new_context: Callable[..., BrowserContext]
) -> None:
    context = new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(site.url + "/deals")
    page.get_by_role("button", name="Customize").click()
    page.wait_for_url(site.url + "/consent/preferences?return_to=%2Fdeals")
    page.locator("#consent-cat-analytics").check()
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        action_button(page, "save").click()
    assert answer.value.status == 303
    page.wait_for_url(site.url + "/deals")
    assert consent_state(context, site)["categories"] == {
        "authentication": True,
        "settings": False,
        "analytics": True,
        "marketing": False,
    }
    names = cookie_names(context)
    assert "_ga" in names and "_fbp" not in names


def test_the_visitor_sees_their_receipt(site: Server, context: BrowserContext, page: Page) -> None:
    """Proof of consent from the visitor's side: every choice they made, on the preferences
    page, and a copy to download."""
    page.goto(site.url + "/")
    choose(page, "accept_all")
    page.goto(site.url + "/consent/preferences")
    page.locator("#consent-banner [data-consent-action=reject_all]").click()
    page.goto(site.url + "/consent/preferences")
    history = page.locator(".consent-history")
    expect(history).to_contain_text("Your consent history")
    rows = history.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Accepted all")
    expect(rows.nth(1)).to_contain_text("Rejected all")
    expect(rows.nth(1)).to_contain_text("Authentication")
    with page.expect_download() as download_info:
        history.get_by_role("link", name="Download a copy (JSON)").click()
    path = download_info.value.path()
    receipt = json.loads(path.read_text())
    assert receipt["consent_id"] == consent_state(context, site)["consent_id"]
    assert [r["action"] for r in receipt["records"]] == ["accept_all", "reject_all"]
    assert [r["method"] for r in receipt["records"]] == ["js", "form"]
