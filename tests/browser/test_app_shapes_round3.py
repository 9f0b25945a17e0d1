"""App shapes of ordinary FastAPI apps where the banner or the page broke in Chromium (probe
round 3; the unit tests are tests/test_app_shapes_round3.py): a page with a `<template>` that
holds a `</body>` of its own showed no banner at all (it went into the template's inert
content), so the visitor could neither accept nor refuse; under a strict CSP with Trusted
Types, no gated tag ran after Accept all (banner.js threw a TypeError); a FastAPI app that
mounts a Flask app, each with its own middleware, showed two banners, and after Reject all
the second one stayed; on a long page whose body has a transform (or a filter,
will-change, contain), the banner and the settings button sat at the foot of the page, out
of sight; after a click that swaps the whole body (hx-boost, Turbo Drive), "Cookie
settings" did nothing.

The pages' own script sets `window.__own`; a gated tag sets `window.__gated` and the
analytics cookie `_ga_js` when it runs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from ..fixtures.app_shapes_round3 import (
    BRIDGES,
    CONTAINING_BODIES,
    STRICT_CSPS,
    TEMPLATES,
    UNCLOSED,
)
from ..servers import Running, free_port, running, server_command
from .helpers import action_button, banner, choose, cookie_names

pytestmark = pytest.mark.browser

REFUSED = {"theme", "_ga", "_ga_js", "_fbp"}


def console_errors(page: Page) -> list[str]:
    """What the page reports as errors (a script's exception, a CSP refusal), as it comes."""
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", on_console)
    return errors


def serve(tmp_path_factory: pytest.TempPathFactory, app: str) -> Iterator[Running]:
    at = free_port()
    log: Path = tmp_path_factory.mktemp("app-shapes-round3") / f"uvicorn-{at}.log"
    command = server_command("uvicorn", f"tests.fixtures.app_shapes_round3:{app}", at)
    with running(command, at, log) as site:
        yield site


@pytest.fixture(scope="module")
def shapes_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    yield from serve(tmp_path_factory, "asgi")


@pytest.fixture(scope="module")
def mounted_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    yield from serve(tmp_path_factory, "mounted_flask")


@pytest.mark.parametrize("shape", list(TEMPLATES))
def test_a_page_with_a_template_shows_a_usable_banner(
    shapes_site: Running, page: Page, shape: str
) -> None:
    errors = console_errors(page)
    page.goto(f"{shapes_site.url}/template/{shape}")
    expect(banner(page)).to_be_visible()
    assert page.evaluate("window.__own") == 1
    choose(page, "reject_all")
    page.reload()
    assert not (cookie_names(page.context) & REFUSED)
    page.locator("[data-consent-open]").click()
    expect(banner(page)).to_be_visible()
    action_button(page, "accept_all").click()
    expect(banner(page)).to_be_hidden()
    page.wait_for_function("window.__gated === 1")
    assert errors == []


@pytest.mark.parametrize("kind", list(STRICT_CSPS))
def test_under_a_strict_csp_accepting_runs_the_gated_tags(
    shapes_site: Running, page: Page, kind: str
) -> None:
    errors = console_errors(page)
    page.goto(f"{shapes_site.url}/strict-csp/{kind}")
    expect(banner(page)).to_be_visible()  # styled and scripted under the page's nonce
    assert page.evaluate("window.__own") == 1
    page.wait_for_function("() => window.consentMiddleware !== undefined")
    choose(page, "reject_all")
    assert page.evaluate("[window.__gated, window.__gated_src]") == [None, None]
    page.locator("[data-consent-open]").click()
    action_button(page, "accept_all").click()
    page.wait_for_function("() => window.__gated === 1 && window.__gated_src === 1")
    frame = page.frame_locator("iframe[title='A map']")
    expect(frame.locator("#inner")).to_have_text("A map")
    assert "_ga_js" in cookie_names(page.context)
    assert errors == []


@pytest.mark.parametrize("kind", ["path", "same-origin"])
def test_a_base_href_on_the_sites_own_origin_keeps_the_banner_working(
    shapes_site: Running, page: Page, kind: str
) -> None:
    """The documented limit's workaround (docs/deploying.md): a `<base>` on another origin
    would take the banner's URLs there, one on the site's own origin leaves them alone."""
    errors = console_errors(page)
    page.goto(f"{shapes_site.url}/base/{kind}")
    assert page.evaluate("document.baseURI").endswith("/assets/")
    page.wait_for_function("() => window.consentMiddleware !== undefined")
    choose(page, "reject_all")
    page.reload()
    assert not (cookie_names(page.context) & REFUSED)
    page.locator("[data-consent-open]").click()
    action_button(page, "accept_all").click()
    page.wait_for_function("() => window.__gated === 1")
    assert errors == []


@pytest.mark.parametrize("bridge", list(BRIDGES))
def test_a_flask_app_mounted_in_fastapi_shows_one_banner_that_works(
    mounted_site: Running, page: Page, bridge: str
) -> None:
    errors = console_errors(page)
    page.goto(f"{mounted_site.url}/{bridge}/")
    expect(banner(page)).to_have_count(1)
    expect(banner(page)).to_be_visible()
    assert page.evaluate("window.__own") == 1
    choose(page, "reject_all")
    expect(page.locator("section.consent-banner:visible")).to_have_count(0)
    page.reload()
    expect(banner(page)).to_be_hidden()
    assert not (cookie_names(page.context) & REFUSED)
    page.locator("[data-consent-open]").click()
    expect(banner(page)).to_be_visible()
    assert errors == []


def in_sight_and_on_top(page: Page, selector: str) -> bool:
    """Whether the element is within the viewport and the one a click at its centre hits."""
    return bool(
        page.evaluate(
            """s => { const e = document.querySelector(s), r = e.getBoundingClientRect();
            const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
            return r.height > 0 && r.top >= 0 && r.bottom <= innerHeight && e.contains(hit) }""",
            selector,
        )
    )


@pytest.mark.parametrize("kind", list(CONTAINING_BODIES))
def test_on_a_body_that_contains_fixed_elements_the_banner_is_in_sight(
    shapes_site: Running, page: Page, kind: str
) -> None:
    errors = console_errors(page)
    page.goto(f"{shapes_site.url}/contained/{kind}")
    page.wait_for_function("() => window.consentMiddleware !== undefined")
    assert in_sight_and_on_top(page, "#consent-banner [data-consent-action=reject_all]")
    choose(page, "reject_all")
    assert in_sight_and_on_top(page, "[data-consent-open]")  # the way back, after a choice
    page.reload()
    page.wait_for_function("() => window.consentMiddleware !== undefined")
    assert in_sight_and_on_top(page, "[data-consent-open]")
    page.locator("[data-consent-open]").click()
    assert in_sight_and_on_top(page, "#consent-banner [data-consent-action=accept_all]")
    assert page.evaluate("window.scrollY") == 0  # nothing scrolled it into view
    assert errors == []


STAYS_JS = """() => [document.getElementById('consent-banner'),
  ...document.querySelectorAll('.consent-settings-link')]
  .every(e => e.parentElement === document.body)"""


def test_on_an_ordinary_body_the_banner_stays_where_the_server_put_it(
    shapes_site: Running, page: Page
) -> None:
    """Only a body that contains fixed elements makes banner.js move them up to <html>."""
    page.goto(f"{shapes_site.url}/web-component")
    page.wait_for_function("() => window.consentMiddleware !== undefined")
    assert page.evaluate(STAYS_JS)
    choose(page, "reject_all")
    page.evaluate("window.consentMiddleware.open()")
    expect(banner(page)).to_be_visible()
    assert page.evaluate(STAYS_JS)


def test_after_a_boosted_click_the_new_pages_banner_works(shapes_site: Running, page: Page) -> None:
    errors = console_errors(page)
    page.goto(f"{shapes_site.url}/boosted/0")
    page.wait_for_function("() => window.consentMiddleware !== undefined")
    page.get_by_role("link", name="Next page").click()
    expect(page.locator("#page")).to_have_text("Page 1")
    expect(banner(page)).to_be_visible()  # the new page's own, for an undecided visitor
    choose(page, "reject_all")
    assert page.evaluate("window.__swapped") == 1  # chosen by fetch: no page load
    assert not (cookie_names(page.context) & REFUSED)
    page.get_by_role("link", name="Next page").click()
    expect(page.locator("#page")).to_have_text("Page 2")
    page.locator("[data-consent-open]").click()
    expect(banner(page)).to_be_visible()
    action_button(page, "accept_all").click()
    expect(banner(page)).to_be_hidden()
    assert page.evaluate("window.__swapped") == 2
    assert page.evaluate("window.consentMiddleware.allows('analytics')") is True
    assert errors == []


@pytest.mark.parametrize("mount", ["element", "body"])
def test_a_single_page_app_keeps_the_banner_when_it_mounts_into_its_own_element(
    shapes_site: Running, page: Page, mount: str
) -> None:
    """The documented limit (docs/faq.md): an app that replaces the whole body takes the
    banner with it; one mounted into an element of its own leaves it alone."""
    page.goto(f"{shapes_site.url}/spa/{mount}")
    expect(page.get_by_role("heading", name="The app")).to_be_visible()
    if mount == "body":
        expect(banner(page)).to_have_count(0)
        return
    choose(page, "reject_all")
    page.locator("[data-consent-open]").click()
    expect(banner(page)).to_be_visible()


def test_an_excluded_frame_of_the_site_gets_no_second_banner(
    shapes_site: Running, page: Page
) -> None:
    """The documented workaround (docs/faq.md): the framed path is in `exclude_paths`."""
    page.goto(f"{shapes_site.url}/framed")
    frame = page.frame_locator("iframe[title='A widget']")
    expect(frame.locator("#widget")).to_have_text("The widget")
    expect(frame.locator("#consent-banner")).to_have_count(0)
    expect(banner(page)).to_have_count(1)
    choose(page, "reject_all")
    assert not (cookie_names(page.context) & REFUSED)


def test_a_settings_button_in_a_web_components_shadow_root_reopens_the_banner(
    shapes_site: Running, page: Page
) -> None:
    errors = console_errors(page)
    page.goto(f"{shapes_site.url}/web-component")
    choose(page, "reject_all")
    page.get_by_role("button", name="Cookie preferences").click()  # inside the shadow root
    expect(banner(page)).to_be_visible()
    action_button(page, "accept_all").click()
    expect(banner(page)).to_be_hidden()
    page.wait_for_function("() => window.__gated === 1")
    assert errors == []


@pytest.mark.parametrize("how", ["click", "keyboard"])
def test_a_page_that_stops_clicks_bubbling_keeps_its_settings_link(
    shapes_site: Running, page: Page, how: str
) -> None:
    errors = console_errors(page)
    page.goto(f"{shapes_site.url}/stopped")
    choose(page, "reject_all")
    link = page.locator("footer [data-consent-open]")
    if how == "click":
        link.click()
    else:
        link.focus()
        page.keyboard.press("Enter")
    expect(banner(page)).to_be_visible()
    assert page.url == f"{shapes_site.url}/stopped"  # opened in place, not followed
    action_button(page, "accept_all").click()
    expect(banner(page)).to_be_hidden()
    page.wait_for_function("() => window.__gated === 1")
    assert errors == []


@pytest.mark.parametrize("kind", list(UNCLOSED))
def test_an_element_left_open_at_body_end_leaves_the_banner_usable(
    shapes_site: Running, page: Page, kind: str
) -> None:
    page.goto(f"{shapes_site.url}/unclosed/{kind}")
    page.wait_for_function("() => window.consentMiddleware !== undefined")
    expect(banner(page)).to_be_visible()
    choose(page, "reject_all")
    assert page.url == f"{shapes_site.url}/unclosed/{kind}"  # not the search it was in
    page.reload()
    assert not (cookie_names(page.context) & REFUSED)
    page.locator("[data-consent-open]").click()
    action_button(page, "accept_all").click()
    expect(banner(page)).to_be_hidden()
    page.wait_for_function("() => window.__gated === 1")
