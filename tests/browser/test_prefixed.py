"""A site under a path prefix, in Chromium: the banner's styles load, its buttons work with
and without JavaScript, and the visitor's choice holds (waitress --url-prefix, Hypercorn
--root-path)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from ..servers import Running, free_port, running, server_command

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module", params=["waitress", "hypercorn"])
def prefixed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    port = free_port()
    server = str(request.param)
    if server == "waitress":
        command = server_command(
            server, "tests.fixtures.deploy_apps:flask_app", port, "--url-prefix=/app"
        )
    else:
        command = server_command(
            server, "tests.fixtures.deploy_apps:root_app", port, "--root-path", "/app"
        )
    with running(command, port, tmp_path_factory.mktemp("prefixed") / "server.log") as site:
        yield site


@pytest.mark.parametrize("javascript", [True, False])
def test_choosing_under_a_prefix(browser: Browser, prefixed: Running, javascript: bool) -> None:
    context = browser.new_context(java_script_enabled=javascript)
    try:
        page = context.new_page()
        failed: list[str] = []
        page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
        page.goto(prefixed.url + "/app/page")
        banner = page.locator("#consent-banner")
        expect(banner).to_be_visible()
        # Its stylesheet loaded from under the prefix: the banner is laid out as designed.
        assert banner.evaluate("b => getComputedStyle(b).position") == "fixed"
        banner.locator("[data-consent-action=accept_all]").click()
        if javascript:
            expect(banner).to_be_hidden()
            page.wait_for_function("document.cookie.includes('consent=')")
        else:
            page.wait_for_url(prefixed.url + "/app/page")
        page.goto(prefixed.url + "/app/page")
        expect(banner).to_be_hidden()
        names = {c["name"] for c in context.cookies()}
        assert {"consent", "_ga"} <= names
        assert failed == []
    finally:
        context.close()
