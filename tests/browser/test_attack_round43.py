"""Attack round 43, in real Chromium against real servers (uvicorn for ASGI, waitress and
gunicorn for WSGI).

A script's cookie lives at the path the script gave it, or at its page's directory: after a
refusal, a page deeper in the site carries it (a cookie at `/shop` goes with every request
below `/shop`), but a deletion at `Path=/` or at that deeper page's own directory does not
reach it. Every path that a cookie sent to the page may be stored at gets a deletion."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import BrowserContext

from ..servers import free_port, running, server_command
from .helpers import choose

pytestmark = pytest.mark.browser

APPS = {
    "uvicorn": "tests.fixtures.attack_round43_apps:asgi",
    "waitress": "tests.fixtures.attack_round43_apps:wsgi",
    "gunicorn": "tests.fixtures.attack_round43_apps:wsgi",
}


@pytest.fixture(scope="module", params=list(APPS))
def site_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    server: str = request.param
    port = free_port()
    log = tmp_path_factory.mktemp("attack-round43") / f"{server}.log"
    with running(server_command(server, APPS[server], port), port, log) as run:
        yield run.url


def script_cookies(context: BrowserContext) -> set[tuple[str, str]]:
    return {(c["name"], c["path"]) for c in context.cookies() if c["name"].startswith("_ga")}


def test_a_refusal_removes_script_cookies_above_a_deeper_page(
    site_url: str, context: BrowserContext
) -> None:
    page = context.new_page()
    page.goto(site_url + "/shop/cat/item")
    choose(page, "accept_all")
    page.wait_for_function("document.cookie.includes('_ga_up=')")
    assert script_cookies(context) == {("_ga_dir", "/shop/cat"), ("_ga_up", "/shop")}
    # Refused from the page itself (a fetch of the page's own, not the banner's clean-up).
    page.evaluate(
        "fetch('/consent', {method: 'POST', headers: {'content-type': 'application/json'},"
        " body: JSON.stringify({action: 'reject_all'})})"
    )
    page.wait_for_function("document.cookie.includes('consent=')")
    page.wait_for_timeout(300)
    # Below both places: the page carries both cookies, and its answer must remove both.
    page.goto(site_url + "/shop/cat/sub/item")
    page.wait_for_timeout(300)
    assert script_cookies(context) == set()
