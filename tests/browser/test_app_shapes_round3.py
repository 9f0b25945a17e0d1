"""App shapes of ordinary FastAPI apps where the banner or the page broke in Chromium (probe
round 3; the unit tests are tests/test_app_shapes_round3.py): a page with a `<template>` that
holds a `</body>` of its own showed no banner at all (it went into the template's inert
content), so the visitor could neither accept nor refuse.

The pages' own script sets `window.__own`; a gated tag sets `window.__gated` and the
analytics cookie `_ga_js` when it runs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from ..fixtures.app_shapes_round3 import TEMPLATES
from ..servers import Running, free_port, running, server_command
from .helpers import action_button, banner, choose, cookie_names

pytestmark = pytest.mark.browser

REFUSED = {"theme", "_ga", "_ga_js", "_fbp"}


@pytest.fixture(scope="module")
def shapes_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    at = free_port()
    log: Path = tmp_path_factory.mktemp("app-shapes-round3") / f"uvicorn-{at}.log"
    command = server_command("uvicorn", "tests.fixtures.app_shapes_round3:asgi", at)
    with running(command, at, log) as site:
        yield site


@pytest.mark.parametrize("shape", list(TEMPLATES))
def test_a_page_with_a_template_shows_a_usable_banner(
    shapes_site: Running, page: Page, shape: str
) -> None:
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
