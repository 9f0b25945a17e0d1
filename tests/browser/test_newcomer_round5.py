"""In Chromium (the server-side tests are tests/test_newcomer_round5.py): a FastAPI page
whose Content-Security-Policy (`default-src 'self'`) is added by an `@app.middleware("http")`
function declared after `add_middleware(ConsentMiddleware)`, outside it, as nginx's
`add_header` adds one: the banner's inline CSS is refused, and an undecided visitor's banner
sits unstyled at the foot of a long page, out of sight (docs/banner.md, "Painting with the
page"). The two remedies that page gives put it over the page, usable."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from ..servers import Running, free_port, running, server_command
from .helpers import banner, choose, cookie_names

pytestmark = pytest.mark.browser

POSITION = "getComputedStyle(document.getElementById('consent-banner')).position"


@pytest.fixture(scope="module")
def csp_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    at = free_port()
    log: Path = tmp_path_factory.mktemp("outer-csp") / f"uvicorn-{at}.log"
    with running(server_command("uvicorn", "tests.fixtures.outer_csp_apps:app", at), at, log) as s:
        yield s


def refusals(page: Page) -> list[str]:
    refused: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            refused.append(message.text)

    page.on("console", on_console)
    return refused


def test_under_a_policy_added_outside_the_banner_is_unstyled(csp_site: Running, page: Page) -> None:
    """The limit docs/banner.md names: if this changes, say so there and in docs/faq.md."""
    refused = refusals(page)
    page.goto(f"{csp_site.url}/outer")
    page.wait_for_load_state("load")
    assert page.evaluate(POSITION) == "static"
    assert any("inline style" in text for text in refused), refused
    assert not page.evaluate(
        "(() => { const r = document.getElementById('consent-banner').getBoundingClientRect();"
        " return r.top < innerHeight && r.bottom > 0; })()"
    ), "the unstyled banner was in sight after all"


@pytest.mark.parametrize("path", ["/inner", "/both"])
def test_with_the_documented_remedies_the_banner_is_styled_and_works(
    csp_site: Running, page: Page, path: str
) -> None:
    refused = refusals(page)
    page.goto(f"{csp_site.url}{path}")
    expect(banner(page)).to_be_in_viewport()
    page.wait_for_load_state("load")
    assert page.evaluate(POSITION) == "fixed", refused
    assert not refused
    assert "_ga" not in cookie_names(page.context)
    choose(page, "accept_all")
    page.reload()
    assert "_ga" in cookie_names(page.context)
    expect(banner(page)).to_be_hidden()
