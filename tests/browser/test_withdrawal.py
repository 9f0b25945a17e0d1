"""A script cannot be un-run: when a choice withdraws a category whose tag the page already
runs, banner.js reloads the page, and the server sends it back with the tag held. The tag
of tests/fixtures/withdrawal_apps.py re-creates `_ga_js` every 200 ms while it runs; each
run counts one in `sessionStorage.runs`. Also for a page restored from the back/forward
cache after a choice on another page. A choice that only grants more does not reload."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright

from ..servers import Running, free_port, running, server_command
from .helpers import CHROMIUM_ARGS, action_button, banner, choose, cookie_names

pytestmark = pytest.mark.browser

#: Playwright turns the back/forward cache off by default; a real Chromium has it on.
BFCACHE_OFF = "--disable-back-forward-cache"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    port = free_port()
    log: Path = tmp_path_factory.mktemp("withdrawal") / "uvicorn.log"
    command = server_command("uvicorn", "tests.fixtures.withdrawal_apps:asgi", port)
    with running(command, port, log) as server:
        yield server


@pytest.fixture(scope="module")
def bfcache_browser(playwright: Playwright) -> Iterator[Browser]:
    """Chromium with the back/forward cache on, as visitors have it."""
    browser = playwright.chromium.launch(
        executable_path=os.environ.get("CONSENT_CHROMIUM", "/usr/bin/chromium"),
        headless=True,
        args=CHROMIUM_ARGS,
        ignore_default_args=[BFCACHE_OFF],
    )
    yield browser
    browser.close()


@pytest.fixture
def bfcache_context(bfcache_browser: Browser) -> Iterator[BrowserContext]:
    """A new visitor in that browser."""
    context = bfcache_browser.new_context()
    context.set_default_timeout(10_000)
    yield context
    context.close()


def runs(page: Page) -> int:
    """How many times the analytics tag started in this tab."""
    return int(page.evaluate("sessionStorage.runs || 0"))


def accept_and_wait_for_the_tag(page: Page, context: BrowserContext) -> None:
    choose(page, "accept_all")
    page.wait_for_function("document.cookie.includes('_ga_js=')")
    assert "_ga_js" in cookie_names(context)


def reopen_and(page: Page, how: str) -> None:
    """Reopen the banner and withdraw analytics: Reject all, or untick it and save."""
    page.evaluate("consentMiddleware.open()")
    if how == "uncheck_and_save":
        page.locator("#consent-cat-analytics").uncheck()
        how = "save"
    action_button(page, how).click()


def navigation_type(page: Page) -> str:
    return str(page.evaluate("performance.getEntriesByType('navigation')[0].type"))


def assert_the_tag_stays_off(page: Page, context: BrowserContext) -> None:
    assert runs(page) == 1
    assert page.evaluate("window.__hits") is None  # this document never ran it
    assert page.locator('script[type="text/plain"][data-consent-category=analytics]').count() == 1
    page.wait_for_timeout(1000)  # five beats of the tag, had it survived
    assert "_ga_js" not in cookie_names(context)


@pytest.mark.parametrize("how", ["reject_all", "uncheck_and_save"])
def test_withdrawing_on_the_same_page_reloads_it_without_the_tag(
    site: Running, context: BrowserContext, page: Page, how: str
) -> None:
    page.goto(site.url + "/a")
    accept_and_wait_for_the_tag(page, context)
    assert runs(page) == 1
    page.evaluate("window.__before = 1")

    with page.expect_navigation(timeout=5000):
        reopen_and(page, how)
    page.wait_for_load_state()
    assert navigation_type(page) == "reload"
    assert page.evaluate("window.__before") is None
    assert banner(page).is_hidden()
    assert_the_tag_stays_off(page, context)


def test_a_page_back_from_the_bfcache_after_a_withdrawal_reloads(
    site: Running, bfcache_context: BrowserContext
) -> None:
    context = bfcache_context
    page = context.new_page()
    page.goto(site.url + "/a")
    accept_and_wait_for_the_tag(page, context)
    page.click("#next")
    page.wait_for_url(site.url + "/b")
    reopen_and(page, "reject_all")  # /b runs no tag: the choice reloads nothing
    banner(page).wait_for(state="hidden")
    page.wait_for_timeout(300)
    assert page.url == site.url + "/b"
    assert "_ga_js" not in cookie_names(context)

    page.go_back(wait_until="commit")  # a restore from the cache fires no load
    page.wait_for_function(
        "performance.getEntriesByType('navigation')[0].type === 'reload'", timeout=5000
    )
    page.wait_for_load_state()
    # /a did come back from the cache (its own script counted it), then reloaded.
    assert page.evaluate("sessionStorage.restores") == "1"
    assert page.url == site.url + "/a"
    assert_the_tag_stays_off(page, context)


def test_a_page_back_from_the_bfcache_without_a_new_choice_stays(
    site: Running, bfcache_context: BrowserContext
) -> None:
    """The bfcache keeps working: back to a page whose state is still the cookie's, the
    page is restored as it was, not reloaded."""
    context = bfcache_context
    page = context.new_page()
    page.goto(site.url + "/a")
    accept_and_wait_for_the_tag(page, context)
    page.evaluate("window.__before = 1")
    page.click("#next")
    page.wait_for_url(site.url + "/b")
    page.go_back(wait_until="commit")
    page.wait_for_function("sessionStorage.restores === '1'", timeout=5000)
    page.wait_for_timeout(1000)  # time for the state check to answer
    assert page.evaluate("window.__before") == 1
    assert navigation_type(page) != "reload"


def test_a_choice_that_grants_more_does_not_reload(
    site: Running, context: BrowserContext, page: Page
) -> None:
    page.goto(site.url + "/a")
    choose(page, "reject_all")
    page.evaluate("window.__before = 1")
    page.evaluate("consentMiddleware.open()")
    accept_and_wait_for_the_tag(page, context)  # released in this page, no reload
    page.wait_for_timeout(500)
    assert page.evaluate("window.__before") == 1
    assert navigation_type(page) == "navigate"
    assert runs(page) == 1 and page.evaluate("window.__hits") > 0

    # The marker does tell a reload: withdrawing again, on the same page, reloads it.
    with page.expect_navigation(timeout=5000):
        reopen_and(page, "reject_all")
    page.wait_for_load_state()
    assert page.evaluate("window.__before") is None
    assert_the_tag_stays_off(page, context)
