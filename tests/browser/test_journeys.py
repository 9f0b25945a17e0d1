"""Journeys through more than one page at a time: a choice made while an earlier one is
still on its way. Whatever the visitor chose last is what every page of the site shows and
runs."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, Route, expect

from .helpers import OPTIONAL_COOKIES, Server, action_button, banner, consent_state, cookie_names

pytestmark = pytest.mark.browser

REFUSED = {"authentication": True, "settings": False, "analytics": False, "marketing": False}


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
