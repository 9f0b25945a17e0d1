"""A fragment request and a page of one URL, in Chromium's HTTP cache (probe-C).

Found with uvicorn and gunicorn: a page with an ETag and `Cache-Control: no-cache`, fetched
first as a fragment (`HX-Request: true`, as htmx's `hx-get` of the page's own URL with
`hx-select` sends it): the middleware answered without the banner (right), but with the
same state-naming ETag as the whole page. On the next navigation Chromium found its copy's
`Vary` (HX-Request) unmatched and revalidated it with that ETag alone; the tag named the
visitor's state, so the app's 304 went through and Chromium showed the bannerless fragment
as the page: an undecided visitor was never asked, on that page, reload after reload.

And a copy from before the middleware was installed: a returning visitor's browser
revalidated its copy with the app's own tag, the app answered 304, and Chromium showed the
page as it was before: no banner, and the analytics tag ran (`window.ran`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from ..servers import Running, free_port, running, server_command

pytestmark = pytest.mark.browser


APPS = {"uvicorn": ("fastapi_etag", "fastapi_before"), "gunicorn": ("flask_etag", "flask_before")}


@pytest.fixture(
    params=[("uvicorn", "fastapi_etag"), ("gunicorn", "flask_etag")], ids=["uvicorn", "gunicorn"]
)
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Running]:
    server, app = request.param
    port = free_port()
    command = server_command(server, f"tests.fixtures.fragment_etag_apps:{app}", port)
    with running(command, port, tmp_path / "server.log") as started:
        yield started


def test_a_fragment_copy_is_never_revalidated_into_the_page(
    browser: Browser, site: Running
) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(site.url + "/")
        assert page.locator("#consent-banner").count() == 1
        fragment = page.evaluate(
            "fetch('/', {headers: {'HX-Request': 'true'}}).then(r => r.text())"
        )
        assert "consent-banner" not in fragment
        for _ in range(2):  # a navigation, then a reload: each revalidates the copy
            page.goto(site.url + "/")
            assert page.locator("#consent-banner").count() == 1
            # and the fragment, fetched again, is no whole page either
            again = page.evaluate(
                "fetch('/', {headers: {'HX-Request': 'true'}}).then(r => r.text())"
            )
            assert "consent-banner" not in again
    finally:
        context.close()


@pytest.mark.parametrize("server", list(APPS))
def test_a_copy_from_before_the_middleware_is_never_shown_again(
    browser: Browser, server: str, tmp_path: Path
) -> None:
    after, before = APPS[server]
    port = free_port()
    context = browser.new_context()
    try:
        page = context.new_page()
        target = f"tests.fixtures.fragment_etag_apps:{before}"
        with running(server_command(server, target, port), port, tmp_path / "before.log"):
            page.goto(f"http://127.0.0.1:{port}/")
            assert page.locator("#consent-banner").count() == 0
        target = f"tests.fixtures.fragment_etag_apps:{after}"
        with running(server_command(server, target, port), port, tmp_path / "after.log"):
            for _ in range(2):
                page.goto(f"http://127.0.0.1:{port}/")
                assert page.locator("#consent-banner").count() == 1
                assert page.evaluate("window.ran === undefined")
    finally:
        context.close()
