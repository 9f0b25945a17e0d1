"""The policy-update notice in Chromium, on both example sites, with and without JavaScript:
a visitor who chose before the update sees it once, dismisses it, and keeps the choice."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, expect

from consent_middleware.consent import ConsentCodec
from examples.site.config import make_config

from .helpers import SITES, Server, axe_violations, cookie_names

pytestmark = pytest.mark.browser

UPDATED = "2026-10-01"


@pytest.mark.parametrize("kind", list(SITES))
@pytest.mark.parametrize("javascript", [True, False])
def test_notice_once_and_the_choice_stays(
    kind: str,
    javascript: bool,
    extra_server: Callable[..., Server],
    new_context: Callable[..., BrowserContext],
) -> None:
    site = extra_server(kind, INTEGRICA_POLICY_UPDATED=UPDATED)
    # A choice made before the update, signed as the site signs (its development secret).
    signer = ConsentCodec(make_config())
    before = time.mktime((2026, 9, 1, 12, 0, 0, 0, 0, 0))
    value = signer.encode(signer.decide(["analytics"], now=before))
    context = new_context(java_script_enabled=javascript)
    context.add_cookies([{"name": "consent", "value": value, "url": site.url + "/"}])
    page = context.new_page()
    page.goto(site.url + "/")
    notice = page.locator("#consent-notice")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text(UPDATED)
    expect(notice.get_by_role("link", name="Read the policy")).to_have_attribute("href", "/privacy")
    expect(page.locator("#consent-banner")).to_be_hidden()
    if javascript:
        assert axe_violations(page) == []
    assert "_ga" in cookie_names(context)  # the choice holds while the notice shows
    notice.get_by_role("button").click()
    page.wait_for_load_state()
    expect(page.locator("#consent-notice")).to_have_count(0)
    page.goto(site.url + "/deals")
    expect(page.locator("#consent-notice")).to_have_count(0)
    assert {"consent", "_ga"} <= cookie_names(context)
