"""Journeys through more than one page at a time: two tabs of one browser, a choice made
while an earlier one is still on its way, a page that Chromium prerendered or prefetched
(Speculation Rules) before the visitor chose. Whatever the visitor chose last, and wherever
they chose it, is what every open page of the site shows and runs; a refused cookie does not
come back into the jar from a page that was made before the refusal.

The example sites, and tests/fixtures/journey_apps.py, whose tag re-creates `_ga_js` every
200 ms while it runs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, Route, expect

from ..servers import Running, free_port, running, server_command
from .helpers import (
    OPTIONAL_COOKIES,
    Server,
    action_button,
    banner,
    choose,
    consent_state,
    cookie_names,
)

pytestmark = pytest.mark.browser

REFUSED = {"authentication": True, "settings": False, "analytics": False, "marketing": False}


@pytest.fixture(scope="module")
def journeys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    port = free_port()
    log: Path = tmp_path_factory.mktemp("journeys") / "uvicorn.log"
    command = server_command("uvicorn", "tests.fixtures.journey_apps:asgi", port)
    with running(command, port, log) as server:
        yield server


def navigation_type(page: Page) -> str:
    return str(page.evaluate("performance.getEntriesByType('navigation')[0].type"))


def reject_in(page: Page, url: str, where: str) -> None:
    """Reject all: on the banner that "Cookie settings" reopens, or on the preferences page
    (a plain form, no JavaScript there)."""
    if where == "banner":
        page.goto(url + "/contacts")
        page.get_by_role("button", name="Cookie settings").click()
        choose(page, "reject_all")
    else:
        page.goto(url + "/consent/preferences?return_to=/deals")
        action_button(page, "reject_all").click()
        page.wait_for_url(url + "/deals")


# -- two tabs ----------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["banner", "preferences"])
def test_a_refusal_in_one_tab_reaches_the_other(
    site: Server, context: BrowserContext, where: str
) -> None:
    """Accept in tab A, Reject in tab B: tab A must not go on with the old choice, nor show
    it: its "Cookie settings" had every box ticked, and one click on Save there granted
    everything again."""
    first = context.new_page()
    first.goto(site.url + "/")
    choose(first, "accept_all")
    first.wait_for_function("document.cookie.includes('_ga_js=')")

    reject_in(context.new_page(), site.url, where)
    first.wait_for_function("!consentMiddleware.allows('analytics')", timeout=5000)
    first.wait_for_load_state()
    first.get_by_role("button", name="Cookie settings").click()
    for category in ("settings", "analytics", "marketing"):
        expect(first.locator(f"#consent-cat-{category}")).not_to_be_checked()
    action_button(first, "save").click()
    banner(first).wait_for(state="hidden")
    assert consent_state(context, site)["categories"] == REFUSED
    assert not OPTIONAL_COOKIES & cookie_names(context)


def test_a_choice_in_one_tab_closes_the_banner_in_the_other(
    site: Server, context: BrowserContext
) -> None:
    """Tab A waits with its banner; the visitor accepts in tab B. Tab A's banner goes, and
    its analytics tag starts, without a reload (as had the choice been made there)."""
    first = context.new_page()
    first.goto(site.url + "/")
    expect(banner(first)).to_be_visible()
    first.evaluate("window.__before = 1")

    second = context.new_page()
    second.goto(site.url + "/contacts")
    choose(second, "accept_all")
    expect(banner(first)).to_be_hidden(timeout=5000)
    first.wait_for_function("window.integricaAnalytics === 1", timeout=5000)
    assert first.evaluate("window.__before") == 1
    assert navigation_type(first) == "navigate"


def test_a_tag_in_another_tab_does_not_bring_its_cookie_back(
    journeys: Running, context: BrowserContext
) -> None:
    """Tab A runs the tag (accepted); Reject all in tab B. Tab A's tag re-created `_ga_js`
    every 200 ms in the jar for as long as tab A stayed open."""
    first = context.new_page()
    first.goto(journeys.url + "/tag")
    choose(first, "accept_all")
    first.wait_for_function("document.cookie.includes('_ga_js=')")

    second = context.new_page()
    second.goto(journeys.url + "/prefetch")  # a page without the tag
    second.evaluate("consentMiddleware.open()")
    choose(second, "reject_all")
    second.wait_for_timeout(1500)  # seven beats of tab A's tag
    assert "_ga_js" not in cookie_names(context)
    assert first.evaluate("window.__hits") is None  # reloaded, with the tag held


def test_a_new_policy_version_reaches_an_open_tab(context: BrowserContext, tmp_path: Path) -> None:
    """Tab A runs the tag (accepted); the site goes out with a new policy version, and the
    visitor opens another of its pages in tab B, which asks them again. Tab A went on under
    the old choice, its tag re-creating `_ga_js`, which no consent covers any more."""
    port = free_port()
    command = server_command("uvicorn", "tests.fixtures.journey_apps:asgi", port)
    with running(command, port, tmp_path / "v1.log", {"JOURNEY_POLICY": "1"}) as old:
        first = context.new_page()
        first.goto(old.url + "/tag")
        choose(first, "accept_all")
        first.wait_for_function("document.cookie.includes('_ga_js=')")
    with running(command, port, tmp_path / "v2.log", {"JOURNEY_POLICY": "2"}) as new:
        second = context.new_page()
        second.goto(new.url + "/prefetch")
        expect(banner(second)).to_be_visible()
        expect(banner(first)).to_be_visible(timeout=5000)  # asked again there too
        first.wait_for_timeout(1000)
        assert first.evaluate("window.__hits") is None
        assert "_ga_js" not in cookie_names(context)


# -- back to the preferences page ---------------------------------------------------------


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_back_to_the_preferences_page_shows_the_choice_just_made(
    site: Server, new_context: Callable[..., BrowserContext], javascript: bool
) -> None:
    """Everything accepted; on the preferences page, Reject all, which returns to /deals;
    Back. The page came again from the server (no-store), showing nothing ticked, but
    Chromium restored the boxes as they were when the visitor left: all ticked, and one
    click on Save there granted everything again."""
    context = new_context(java_script_enabled=javascript)
    page = context.new_page()
    page.goto(site.url + "/consent/preferences?return_to=/deals")
    action_button(page, "accept_all").click()
    page.wait_for_url(site.url + "/deals")
    page.goto(site.url + "/consent/preferences?return_to=/deals")
    action_button(page, "reject_all").click()
    page.wait_for_url(site.url + "/deals")

    page.go_back()
    page.wait_for_url(site.url + "/consent/preferences?return_to=/deals")
    for category in ("settings", "analytics", "marketing"):
        expect(page.locator(f"#consent-cat-{category}")).not_to_be_checked()
    action_button(page, "save").click()
    page.wait_for_url(site.url + "/deals")
    assert consent_state(context, site)["categories"] == REFUSED
    assert not OPTIONAL_COOKIES & cookie_names(context)


# -- a choice while another is on its way ------------------------------------------------


def test_reject_right_after_accept_on_a_slow_network(site: Server, page: Page) -> None:
    """The visitor clicks Accept all, the request hangs (a slow network), they change their
    mind and click Reject all before it is answered. The Accept arrived last, and won."""
    held: list[Route] = []

    def hold_the_first_choice(route: Route) -> None:
        if route.request.method == "POST" and not held:
            held.append(route)
        else:
            route.continue_()

    page.route(lambda url: "/consent" in url, hold_the_first_choice)
    page.goto(site.url + "/")
    action_button(page, "accept_all").click()
    page.wait_for_timeout(200)
    assert held
    expect(banner(page)).to_be_visible()  # still waiting for the answer
    action_button(page, "reject_all").click()
    page.wait_for_timeout(500)
    held[0].continue_()
    page.wait_for_timeout(1500)
    page.wait_for_load_state()
    assert consent_state(page.context, site)["categories"] == REFUSED
    assert page.evaluate("consentMiddleware.allows('analytics')") is False
    page.goto(site.url + "/deals")
    expect(banner(page)).to_be_hidden()
    assert not OPTIONAL_COOKIES & cookie_names(page.context)


def test_a_refusal_while_the_background_refresh_is_on_its_way(
    journeys: Running, context: BrowserContext, page: Page
) -> None:
    """Accept all asks for the page again in the background, so that the server sets the
    HttpOnly cookies just allowed; on a slow network its answer takes a while. Meanwhile the
    visitor reopens the banner and rejects all. The refresh, answered for the earlier
    choice, then brought `_fbp` into the jar after its refusal, where it stayed."""
    page.goto(journeys.url + "/slow")
    with page.expect_request(lambda r: r.headers.get("x-consent-refresh") == "1"):
        choose(page, "accept_all")
    page.evaluate("consentMiddleware.open()")
    choose(page, "reject_all")
    page.wait_for_timeout(2500)  # the refresh has been answered
    assert "_fbp" not in cookie_names(context)


# -- pages made before the choice: prerendered, prefetched --------------------------------


def speculate(page: Page, url: str, kind: str) -> None:
    """Open the page whose Speculation Rules fetch /tag, and wait until Chromium has."""
    with page.expect_request(lambda r: (r.headers.get("sec-purpose") or "").startswith("pre")):
        page.goto(f"{url}/{kind}")
    page.wait_for_timeout(800)  # the prerendered page has loaded by now


@pytest.mark.parametrize("kind", ["prerender", "prefetch"])
def test_a_page_made_before_a_refusal_does_not_run_the_tag(
    journeys: Running, context: BrowserContext, page: Page, kind: str
) -> None:
    """Accepted earlier; Chromium prerenders (or prefetches) /tag; the visitor rejects all,
    then follows the link: the page made before the refusal ran the tag, and `_ga_js` came
    back, for as long as the visitor stayed on it."""
    page.goto(journeys.url + "/tag2")
    choose(page, "accept_all")
    speculate(page, journeys.url, kind)
    page.evaluate("consentMiddleware.open()")
    choose(page, "reject_all")
    page.click("#next")
    page.wait_for_url(journeys.url + "/tag")
    page.wait_for_timeout(1500)
    page.wait_for_load_state()
    assert page.evaluate("consentMiddleware.allows('analytics')") is False
    assert page.evaluate("window.__hits") is None
    assert "_ga_js" not in cookie_names(context)


@pytest.mark.parametrize("kind", ["prerender", "prefetch"])
def test_a_page_made_before_a_choice_shows_no_banner(
    journeys: Running, context: BrowserContext, page: Page, kind: str
) -> None:
    """Undecided; Chromium prerenders (or prefetches) /tag with the banner; the visitor
    accepts all, then follows the link: the banner was there again, the tag held."""
    speculate(page, journeys.url, kind)
    choose(page, "accept_all")
    page.click("#next")
    page.wait_for_url(journeys.url + "/tag")
    expect(banner(page)).to_be_hidden(timeout=3000)
    page.wait_for_function("window.__hits > 0", timeout=3000)
    assert page.evaluate("consentMiddleware.allows('analytics')") is True
