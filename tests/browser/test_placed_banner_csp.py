"""In Chromium (the unit tests are tests/test_placed_banner_csp.py): a FastAPI page whose
Jinja2 template places the banner itself with the page's CSP nonce
(`consent_banner(request, nonce=csp_nonce)`, as docs/faq.md says) showed it unstyled under
a policy with a style rule (`style-src 'self' 'nonce-…'`, or `default-src 'self'` alone):
Chromium refused its inline CSS, and the banner sat at the foot of the page as plain
text and buttons instead of over it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from ..fixtures.placed_banner_site import CSPS
from ..servers import Running, free_port, running, server_command
from .helpers import banner, choose, cookie_names

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def placed_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    at = free_port()
    log: Path = tmp_path_factory.mktemp("placed-banner") / f"uvicorn-{at}.log"
    command = server_command("uvicorn", "tests.fixtures.placed_banner_site:app", at)
    with running(command, at, log) as site:
        yield site


@pytest.mark.parametrize("kind", list(CSPS))
def test_a_placed_banner_under_the_pages_csp_is_styled_and_usable(
    placed_site: Running, page: Page, kind: str
) -> None:
    refused: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            refused.append(message.text)

    page.on("console", on_console)
    page.goto(f"{placed_site.url}/csp/{kind}")
    expect(banner(page)).to_be_visible()
    page.wait_for_load_state("load")
    assert not cookie_names(page.context) & {"_ga"}
    position = page.evaluate("getComputedStyle(document.getElementById('consent-banner')).position")
    assert position == "fixed", f"the banner is unstyled ({position}): {refused}"
    assert not refused
    choose(page, "accept_all")
    page.reload()
    assert "_ga" in cookie_names(page.context)
    assert page.locator("#analytics").inner_text() == "yes"
