"""Tracking controls in a real browser: Global Privacy Control, tags and iframes held until
consent (server-side gating), Google Consent Mode's dataLayer, cookies that scripts set, and
the example sites' own page-view counter."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, Request, expect

from .helpers import (
    GPC_HEADERS,
    GPC_SCRIPT,
    Server,
    axe_violations,
    banner,
    choose,
    consent_state,
    cookie_names,
    data_layer,
    jar,
)

pytestmark = pytest.mark.browser

ANALYTICS_JS = "/static/analytics.js"
EMBED = "/embed/video"
GOOGLE_TYPES = {
    "ad_storage": "marketing",
    "ad_user_data": "marketing",
    "ad_personalization": "marketing",
    "analytics_storage": "analytics",
    "functionality_storage": "settings",
    "personalization_storage": "settings",
    "security_storage": "authentication",
}


def gpc_context(new_context: Callable[..., BrowserContext]) -> BrowserContext:
    context = new_context(**GPC_HEADERS)
    context.add_init_script(GPC_SCRIPT)
    return context


def requested(page: Page) -> list[str]:
    """Every URL path the page asks for from now on (its frames included)."""
    paths: list[str] = []

    def seen(request: Request) -> None:
        paths.append(re.sub(r"^https?://[^/]+", "", request.url).split("?")[0])

    page.on("request", seen)
    return paths


def consent_calls(entries: list[Any], kind: str) -> list[tuple[int, dict[str, Any]]]:
    """(index, parameters) of each `gtag('consent', kind, ...)` in the dataLayer."""
    return [
        (i, e[2])
        for i, e in enumerate(entries)
        if isinstance(e, list) and e[:2] == ["consent", kind]
    ]


def page_views(entries: list[Any]) -> list[int]:
    return [
        i for i, e in enumerate(entries) if isinstance(e, list) and e[:2] == ["event", "page_view"]
    ]


def expected_consent(categories: dict[str, bool]) -> dict[str, str]:
    return {t: "granted" if categories[c] else "denied" for t, c in GOOGLE_TYPES.items()}


# -- Global Privacy Control ------------------------------------------------------------------


def test_gpc_keeps_marketing_off_after_accept_all_until_switched_on(
    site: Server, new_context: Callable[..., BrowserContext]
) -> None:
    context = gpc_context(new_context)
    page = context.new_page()
    page.goto(site.url + "/")
    assert page.evaluate("navigator.globalPrivacyControl") is True
    notice = banner(page).locator(".consent-gpc")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("Global Privacy Control")

    choose(page, "accept_all")
    page.goto(site.url + "/contacts")
    names = cookie_names(context)
    assert "_ga" in names and "_ga_js" in names
    assert "_fbp" not in names
    state = consent_state(context, site)
    assert state["gpc"] is True
    assert state["categories"] == {
        "authentication": True,
        "settings": True,
        "analytics": True,
        "marketing": False,
    }

    # Switching marketing on explicitly, in Customize, is the visitor's own choice: it counts.
    page.locator("footer [data-consent-open]").click()
    expect(banner(page)).to_be_visible()
    expect(notice).to_be_visible()
    marketing = page.locator("#consent-cat-marketing")
    expect(marketing).not_to_be_checked()
    marketing.check()
    choose(page, "save")
    assert consent_state(context, site)["categories"]["marketing"] is True
    page.goto(site.url + "/deals")
    assert "_fbp" in cookie_names(context)


def test_gpc_seen_only_by_the_script_is_honoured_too(
    site: Server, new_context: Callable[..., BrowserContext]
) -> None:
    # No Sec-GPC header: banner.js shows the notice and sends "gpc": true with the choice.
    context = new_context()
    context.add_init_script(GPC_SCRIPT)
    page = context.new_page()
    page.goto(site.url + "/")
    expect(banner(page).locator(".consent-gpc")).to_be_visible()
    choose(page, "accept_all")
    state = consent_state(context, site)
    assert state["categories"]["marketing"] is False
    assert state["categories"]["analytics"] is True
    page.goto(site.url + "/contacts")
    assert "_fbp" not in cookie_names(context)


def test_without_gpc_there_is_no_notice(site: Server, page: Page) -> None:
    page.goto(site.url + "/")
    expect(banner(page)).to_be_visible()
    expect(banner(page).locator(".consent-gpc")).to_be_hidden()


# -- tags and iframes held until consent -----------------------------------------------------


def test_gated_analytics_tag_is_not_fetched_before_consent(
    site: Server, context: BrowserContext, page: Page
) -> None:
    paths = requested(page)
    page.goto(site.url + "/")
    page.wait_for_load_state("load")
    tag = page.locator(f'script[src="{ANALYTICS_JS}"]')
    expect(tag).to_have_attribute("type", "text/plain")  # made inert by the server
    assert ANALYTICS_JS not in paths
    assert page.evaluate("window.integricaAnalytics") is None

    page.evaluate("window.sameDocument = true")
    with page.expect_request(lambda r: r.url.endswith(ANALYTICS_JS)):
        choose(page, "accept_all")
    page.wait_for_function("window.integricaAnalytics === 1")
    assert page.evaluate("window.sameDocument") is True  # no reload
    assert paths.count(ANALYTICS_JS) == 1

    # Granted: the next page runs it straight away, untouched by the server.
    page.goto(site.url + "/contacts")
    expect(tag).not_to_have_attribute("type", "text/plain")
    page.wait_for_function("window.integricaAnalytics === 1")


def test_gated_analytics_tag_stays_inert_after_reject_all(site: Server, page: Page) -> None:
    paths = requested(page)
    page.goto(site.url + "/")
    choose(page, "reject_all")
    page.goto(site.url + "/deals")
    page.wait_for_load_state("load")
    expect(page.locator(f'script[src="{ANALYTICS_JS}"]')).to_have_attribute("type", "text/plain")
    assert ANALYTICS_JS not in paths
    assert page.evaluate("window.integricaAnalytics") is None


def test_iframe_placeholder_loads_the_frame_once_allowed(
    site: Server, context: BrowserContext, page: Page
) -> None:
    paths = requested(page)
    page.goto(site.url + "/")
    page.wait_for_load_state("load")
    frame = page.locator('iframe[title="Product video"]')
    placeholder = page.locator("[data-consent-placeholder=marketing]")
    expect(placeholder).to_be_visible()
    expect(placeholder).to_contain_text("Marketing")
    expect(frame).to_be_hidden()
    expect(frame).to_have_attribute("data-consent-src", EMBED)
    assert frame.get_attribute("src") is None
    assert EMBED not in paths

    with page.expect_request(lambda r: r.url.endswith(EMBED)):
        placeholder.get_by_role("button").click()
    expect(
        page.frame_locator('iframe[title="Product video"]').locator(".embed-title")
    ).to_have_text("Integrica in 90 seconds")
    expect(frame).to_be_visible()
    expect(placeholder).to_have_count(0)
    expect(frame).to_have_attribute("src", EMBED)
    # The focus was on the button, which is gone: the frame has it.
    assert page.evaluate("document.activeElement.tagName") == "IFRAME"
    # Allowing the video granted marketing, and only that: an explicit choice.
    expect(banner(page)).to_be_hidden()
    assert consent_state(context, site)["categories"] == {
        "authentication": True,
        "settings": False,
        "analytics": False,
        "marketing": True,
    }

    # The next visit gets the frame as written, without a placeholder.
    page.goto(site.url + "/")
    expect(placeholder).to_have_count(0)
    expect(frame).to_have_attribute("src", EMBED)
    expect(
        page.frame_locator('iframe[title="Product video"]').locator(".embed-title")
    ).to_be_visible()


def test_iframe_loads_after_accept_all_without_reload(site: Server, page: Page) -> None:
    page.goto(site.url + "/")
    expect(page.locator("[data-consent-placeholder]")).to_be_visible()
    with page.expect_request(lambda r: r.url.endswith(EMBED)):
        choose(page, "accept_all")
    expect(page.locator("[data-consent-placeholder]")).to_have_count(0)
    expect(page.locator('iframe[title="Product video"]')).to_be_visible()


def test_iframe_stays_held_when_marketing_is_refused(site: Server, page: Page) -> None:
    paths = requested(page)
    page.goto(site.url + "/")
    banner(page).locator("[data-consent-customize]").click()
    page.locator("#consent-cat-analytics").check()
    choose(page, "save")
    page.goto(site.url + "/")
    page.wait_for_load_state("load")
    expect(page.locator("[data-consent-placeholder=marketing]")).to_be_visible()
    expect(page.locator('iframe[title="Product video"]')).to_be_hidden()
    assert EMBED not in paths


# -- Google Consent Mode ---------------------------------------------------------------------


def test_data_layer_has_the_default_before_any_tag_and_the_update_after_the_choice(
    site: Server, page: Page
) -> None:
    page.goto(site.url + "/")
    page.wait_for_load_state("load")
    entries = data_layer(page)
    defaults = consent_calls(entries, "default")
    assert len(defaults) == 1, entries
    index, params = defaults[0]
    assert index == 0  # the very first entry: before any tag
    # Denied for every optional category; security_storage follows the required category.
    undecided = {"authentication": True, "settings": False, "analytics": False, "marketing": False}
    assert {k: v for k, v in params.items() if k in GOOGLE_TYPES} == expected_consent(undecided)
    assert params["wait_for_update"] > 0
    assert not page_views(entries) and not consent_calls(entries, "update")

    # Analytics only, in Customize.
    banner(page).locator("[data-consent-customize]").click()
    page.locator("#consent-cat-analytics").check()
    choose(page, "save")
    page.wait_for_function("window.integricaAnalytics === 1")
    entries = data_layer(page)
    updates = consent_calls(entries, "update")
    assert len(updates) == 1, entries
    chosen = {"authentication": True, "settings": False, "analytics": True, "marketing": False}
    assert updates[0][1] == expected_consent(chosen)
    views = page_views(entries)
    assert len(views) == 1
    assert consent_calls(entries, "default")[0][0] < updates[0][0] < views[0]

    # Every later choice sends another update.
    page.locator("footer [data-consent-open]").click()
    choose(page, "accept_all")
    updates = consent_calls(data_layer(page), "update")
    assert [params for _, params in updates][-1] == dict.fromkeys(GOOGLE_TYPES, "granted")

    # A decided visitor's next page starts from their choice, still before any tag.
    page.goto(site.url + "/contacts")
    page.wait_for_function("window.integricaAnalytics === 1")
    entries = data_layer(page)
    (index, params), *_ = consent_calls(entries, "default")
    assert index == 0 and index < page_views(entries)[0]
    assert {k: v for k, v in params.items() if k in GOOGLE_TYPES} == dict.fromkeys(
        GOOGLE_TYPES, "granted"
    )
    assert "wait_for_update" not in params


# -- cookies that scripts set ----------------------------------------------------------------


def test_refused_cookie_set_by_a_script_is_gone_after_the_next_page(
    site: Server, context: BrowserContext, page: Page
) -> None:
    page.goto(site.url + "/")
    choose(page, "reject_all")
    page.evaluate("document.cookie = '_ga=GA1.1.fake; path=/'")
    assert jar(context)["_ga"]["value"] == "GA1.1.fake"

    with page.expect_response(lambda r: r.url == site.url + "/contacts") as answer:
        page.goto(site.url + "/contacts")
    expires = [
        h["value"]
        for h in answer.value.headers_array()
        if h["name"].lower() == "set-cookie" and h["value"].startswith("_ga=")
    ]
    assert expires and all("max-age=0" in v.lower() for v in expires), expires
    assert "_ga" not in cookie_names(context)


def test_withdrawal_deletes_script_cookies_at_once(
    site: Server, context: BrowserContext, page: Page
) -> None:
    page.goto(site.url + "/")
    choose(page, "accept_all")
    page.wait_for_function("document.cookie.includes('_ga_js=')")
    page.locator("footer [data-consent-open]").click()
    choose(page, "reject_all")
    # banner.js deletes the cookies it can see at once, without waiting for a request.
    page.wait_for_function("!document.cookie.includes('_ga_js=')")
    assert "_ga_js" not in cookie_names(context)


# -- the site's own page-view counter --------------------------------------------------------


def counts(page: Page, site: Server, path: str) -> tuple[int, int]:
    """(all views, views of `path`) as the admin page shows them."""
    page.goto(site.url + "/admin/views")
    total = int(page.locator("#views-total").inner_text())
    cell = page.locator(f'#views-by-path td[data-path="{path}"]')
    return total, int(cell.inner_text()) if cell.count() else 0


def test_server_counts_page_views_only_with_analytics(
    site: Server, new_context: Callable[..., BrowserContext]
) -> None:
    admin = new_context().new_page()
    before = counts(admin, site, "/deals")

    visitor = new_context().new_page()
    visitor.goto(site.url + "/deals")  # undecided: not counted
    visitor.goto(site.url + "/deals")
    choose(visitor, "reject_all")
    visitor.goto(site.url + "/deals")  # refused: not counted
    assert counts(admin, site, "/deals") == before

    visitor.locator("footer [data-consent-open]").click()
    choose(visitor, "accept_all")
    visitor.goto(site.url + "/deals")
    visitor.goto(site.url + "/deals")
    visitor.goto(site.url + "/contacts")
    total, deals = counts(admin, site, "/deals")
    assert (total, deals) == (before[0] + 3, before[1] + 2)

    # Today's bar and table row agree; the chart has a text alternative and a data table.
    chart = admin.get_by_role("img", name=re.compile("Page views by day"))
    expect(chart).to_be_visible()
    today = admin.locator("#views-by-day tbody tr").first
    expect(today.locator("td")).to_have_text(re.compile(r"^\d+$"))
    assert int(today.locator("td").inner_text()) >= 3
    assert axe_violations(admin) == []
