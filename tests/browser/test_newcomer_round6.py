"""In Chromium (the server-side tests are tests/test_newcomer_round6.py): the consent cookie
named `__Host-consent`, as docs/faq.md recommends, on a site opened over plain http on a
host that is not loopback (a LAN dev box, a docker-compose service name, a staging host
without TLS; here `devbox.test`, resolved to 127.0.0.1). Chromium stores no Secure cookie
from such a page: the banner closes on a click, comes back on the next page, and the choice
is lost. The middleware cannot make the browser keep it; it says so, once, in the log. On
`localhost` the same site works (docs/faq.md)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright, expect

from ..servers import Running, free_port, running, server_command
from .helpers import CHROMIUM_ARGS, banner, choose, cookie_names

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    at = free_port()
    log: Path = tmp_path_factory.mktemp("newcomer6") / f"uvicorn-{at}.log"
    command = server_command("uvicorn", "tests.fixtures.newcomer6_apps:app", at)
    with running(command, at, log) as server:
        yield server


@pytest.fixture(scope="module")
def devbox_browser(playwright: Playwright) -> Iterator[Browser]:
    """Chromium that resolves devbox.test to 127.0.0.1: a host that is not loopback to it."""
    browser = playwright.chromium.launch(
        executable_path="/usr/bin/chromium",
        headless=True,
        args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP devbox.test 127.0.0.1"],
    )
    yield browser
    browser.close()


@pytest.mark.parametrize("host", ["devbox.test", "localhost"])
def test_a_host_consent_cookie_on_plain_http(
    site: Running, devbox_browser: Browser, host: str
) -> None:
    context = devbox_browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"http://{host}:{site.port}/")
        choose(page, "accept_all")
        page.goto(f"http://{host}:{site.port}/")
        if host == "localhost":  # where Chromium keeps Secure cookies from http
            expect(banner(page)).to_be_hidden()
            assert {"__Host-consent", "_ga"} <= cookie_names(context)
            assert "plain-http page of http://localhost" not in site.output()
            return
        expect(banner(page)).to_be_visible()  # the choice was lost
        assert cookie_names(context) == set()
        logged = [line for line in site.output().splitlines() if "plain-http page" in line]
        assert len(logged) == 1 and f"http://devbox.test:{site.port}" in logged[0], logged
    finally:
        context.close()
