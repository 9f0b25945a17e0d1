"""A Flask site with Flask-Compress, in Chromium: whichever encoding the page comes in (zstd
and br are Flask-Compress's first choices when the browser offers them), the banner shows,
a gated script waits for consent, and runs once it is given."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from ..servers import Running, free_port, running, server_command

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def compressed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    port = free_port()
    command = server_command("waitress", "tests.fixtures.deploy_apps:flask_compressed", port)
    with running(command, port, tmp_path_factory.mktemp("compressed") / "server.log") as site:
        yield site


@pytest.mark.parametrize("offered", ["zstd", "br", "gzip, deflate, br, zstd", None])
def test_a_compressed_page_gets_banner_and_gating(
    browser: Browser, compressed: Running, offered: str | None
) -> None:
    headers = {"Accept-Encoding": offered} if offered else {}
    context = browser.new_context(extra_http_headers=headers)
    try:
        page = context.new_page()
        response = page.goto(compressed.url + "/page")
        assert response is not None and response.status == 200
        encoding = response.all_headers().get("content-encoding")
        if offered in ("zstd", "br"):
            assert encoding == offered  # the browser got what it asked for, and read it
        elif offered:
            assert encoding == "zstd"
        banner = page.locator("#consent-banner")
        expect(banner).to_be_visible()
        assert page.evaluate("window.ran === undefined")  # the gated script waits
        assert "_ga" not in {c["name"] for c in context.cookies()}
        banner.locator("[data-consent-action=accept_all]").click()
        expect(banner).to_be_hidden()
        page.wait_for_function("window.ran === true")  # and runs once it is granted
    finally:
        context.close()
