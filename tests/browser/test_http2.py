"""Over HTTP/2, where Chromium sends its cookies as `cookie` header fields of their own and
Hypercorn hands them to the app as such: the banner shows, an undecided visitor gets no
refused cookie, and a cookie refused later leaves the jar. Hypercorn over TLS (HTTP/2 by
ALPN), with a self-signed certificate made now."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import BrowserContext, Page

from ..servers import free_port, running, server_command
from .helpers import action_button, banner, choose, self_signed_certificate

pytestmark = pytest.mark.browser

APP = "tests.fixtures.deletion_apps:asgi"


@pytest.fixture(scope="module")
def h2_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    where = tmp_path_factory.mktemp("http2")
    key, cert = self_signed_certificate(where)
    port = free_port()
    tls = ["--keyfile", str(key), "--certfile", str(cert)]
    with running(server_command("hypercorn", APP, port, *tls), port, where / "hypercorn.log"):
        yield f"https://localhost:{port}"


@pytest.fixture
def visitor(new_context: Callable[..., BrowserContext]) -> tuple[BrowserContext, Page]:
    context = new_context(ignore_https_errors=True)
    return context, context.new_page()


def _protocol(page: Page) -> str:
    return str(page.evaluate("performance.getEntriesByType('navigation')[0].nextHopProtocol"))


def _fbp(context: BrowserContext) -> list[str]:
    return [str(c.get("path")) for c in context.cookies() if c.get("name") == "_fbp"]


def test_over_http2_refused_cookies_never_reach_the_jar(
    h2_url: str, visitor: tuple[BrowserContext, Page]
) -> None:
    context, page = visitor
    page.goto(h2_url + "/shop/item")  # undecided: the page sets _fbp, which is refused
    assert _protocol(page) == "h2"
    assert banner(page).is_visible()
    assert _fbp(context) == []

    choose(page, "accept_all")
    page.goto(h2_url + "/shop/item")
    assert _fbp(context) == ["/shop"]
    # Several cookies now, each its own `cookie` field over HTTP/2: the consent is read.
    assert banner(page).is_hidden()

    page.goto(h2_url + "/consent/preferences?return_to=/")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        action_button(page, "reject_all").click()
    assert answer.value.status in (200, 303)
    page.wait_for_load_state()
    page.goto(h2_url + "/shop/cart")
    assert _protocol(page) == "h2"
    assert _fbp(context) == []
