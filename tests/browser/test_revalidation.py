"""A static HTML page that Chromium revalidates after the visitor's choice is the page of the
new choice, never the copy cached before it: the file servers (Starlette's StaticFiles,
Flask's static folder and `send_file`) answer 304 to a matching validator, so the page's
validators must name the consent state. Otherwise, after Accept + reload, the banner is
back and the gated script held; and worse, after Reject, the cached accepted copy runs the
analytics script again. Within one state, revalidation still gets its 304.

The page (tests/fixtures/static_apps.py) holds `<script data-consent-category="analytics">`
(`gate_scripts=True`), which marks `<html data-analytics-ran>` and POSTs to /beacon when it
runs. ASGI under uvicorn, WSGI under waitress."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any, Literal

import pytest
from playwright.sync_api import BrowserContext, Page, Request

from ..servers import free_port, running, server_command
from .helpers import action_button, banner, choose

pytestmark = pytest.mark.browser

APPS = {
    "uvicorn": "tests.fixtures.static_apps:asgi",
    "waitress": "tests.fixtures.static_apps:wsgi",
}
#: Each way of serving the file: (server, path).
PAGES = {
    "starlette-staticfiles": ("uvicorn", "/static/page.html"),
    "flask-static-folder": ("waitress", "/static/page.html"),
    "flask-send-file": ("waitress", "/page"),
}
#: Whether the page's analytics script ran in this document.
RAN = "document.documentElement.hasAttribute('data-analytics-ran')"


@pytest.fixture(scope="module")
def base_urls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Both servers, once per module."""
    logs = tmp_path_factory.mktemp("revalidation")
    with contextlib.ExitStack() as stack:
        urls = {}
        for server, app in APPS.items():
            port = free_port()
            command = server_command(server, app, port)
            run = stack.enter_context(running(command, port, logs / f"{server}.log"))
            urls[server] = run.url
        yield urls


@pytest.fixture(params=list(PAGES))
def site(request: pytest.FixtureRequest, base_urls: dict[str, str]) -> tuple[str, str]:
    """(the server's base URL, the page's path), once for each way of serving the file."""
    server, path = PAGES[request.param]
    return base_urls[server], path


class Visitor:
    """A fresh visitor's tab, with what the browser really sent and received for the page:
    Playwright's `Response.status` is 200 for a page revalidated with a 304, since Chromium
    answers it from its cache; the status on the wire is read over CDP."""

    def __init__(self, context: BrowserContext, base: str, path: str) -> None:
        self.base = base
        self.url = base + path
        self.page: Page = context.new_page()
        self.beacons: list[str] = []
        self.page.on("request", self._on_request)
        self._urls: dict[str, str] = {}
        self._wire: dict[str, int] = {}
        cdp = context.new_cdp_session(self.page)
        cdp.on("Network.requestWillBeSent", self._on_sent)
        cdp.on("Network.responseReceivedExtraInfo", self._on_received)
        cdp.send("Network.enable")

    def _on_request(self, request: Request) -> None:
        if "/beacon" in request.url:
            self.beacons.append(request.url)

    def _on_sent(self, event: dict[str, Any]) -> None:
        if event.get("type") == "Document":  # not banner.js's background refresh (a fetch)
            self._urls[event["requestId"]] = event["request"]["url"]

    def _on_received(self, event: dict[str, Any]) -> None:
        self._wire[event["requestId"]] = event["statusCode"]

    def wire_statuses(self) -> list[int]:
        """The status the server answered each navigation to the page with, in order."""
        ids = [r for r, url in self._urls.items() if url == self.url]
        return [self._wire[r] for r in ids if r in self._wire]

    def load(self, reload: bool = False, settle: bool = False) -> int:
        """Open (or reload) the page; the status on the wire of its request. `settle` waits
        until the network has been idle for 500 ms, so that a beacon would have been seen."""
        before = len(self.wire_statuses())
        wait_until: Literal["networkidle", "load"] = "networkidle" if settle else "load"
        if reload:
            self.page.reload(wait_until=wait_until)
        else:
            self.page.goto(self.url, wait_until=wait_until)
        self._wait(lambda: len(self.wire_statuses()) > before)
        statuses = self.wire_statuses()
        assert len(statuses) == before + 1, f"not one request of {self.url}: {statuses}"
        return statuses[-1]

    def beacon_sent(self) -> bool:
        """Whether the analytics script's beacon was sent (waiting a little for it)."""
        return self._wait(lambda: bool(self.beacons))

    def _wait(self, done: Callable[[], bool], timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while not done() and time.monotonic() < deadline:
            self.page.wait_for_timeout(20)
        return done()

    def analytics_ran(self) -> bool:
        return bool(self.page.evaluate(RAN))

    def allows_analytics(self) -> bool:
        return bool(self.page.evaluate("window.consentMiddleware.allows('analytics')"))


@pytest.fixture
def visitor(new_context: Callable[..., BrowserContext], site: tuple[str, str]) -> Visitor:
    return Visitor(new_context(), *site)


def accept_on_preferences(visitor: Visitor) -> None:
    """Accept all on the preferences page, before the static page was ever fetched."""
    page = visitor.page
    page.goto(visitor.base + "/consent/preferences")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        action_button(page, "accept_all").click()
    assert answer.value.status in (200, 303)
    page.wait_for_load_state()


def test_accept_then_reload_shows_the_accepted_page(visitor: Visitor) -> None:
    """Undecided visit, Accept on the banner, reload: the page of the choice (no banner, the
    analytics script ran), not the undecided copy Chromium cached first."""
    assert visitor.load() == 200
    assert banner(visitor.page).is_visible()
    assert not visitor.analytics_ran()

    choose(visitor.page, "accept_all")
    visitor.page.wait_for_function(RAN)  # banner.js runs the held script at once

    visitor.beacons.clear()
    visitor.load(reload=True)
    assert not banner(visitor.page).is_visible()
    assert visitor.analytics_ran()
    assert visitor.allows_analytics()
    assert visitor.beacon_sent()


def test_reject_keeps_the_cached_accepted_copy_from_running(visitor: Visitor) -> None:
    """Accept, open the page (its accepted copy, analytics live, goes into the cache),
    Reject through "Cookie settings", open the page again: the analytics script must not
    run, and the page must know analytics is refused."""
    accept_on_preferences(visitor)
    visitor.load()
    assert visitor.analytics_ran()
    assert visitor.beacon_sent()

    visitor.page.locator("[data-consent-open]").first.click()
    choose(visitor.page, "reject_all")

    visitor.beacons.clear()
    status = visitor.load(settle=True)
    assert visitor.page.get_by_role("heading", name="A static page").is_visible()
    assert not visitor.analytics_ran()
    assert visitor.beacons == []
    assert not visitor.allows_analytics()
    script = visitor.page.locator('script[data-consent-category="analytics"]')
    assert script.get_attribute("type") == "text/plain"
    # banner.js reloads the page after a withdrawal (a 200, in the rejected state), so
    # this load may revalidate that copy (a 304 of the same state); a 304 of the cached
    # accepted copy would have shown its live analytics, refused above.
    assert status in (200, 304)


def test_the_same_state_still_revalidates_to_304(visitor: Visitor) -> None:
    """Caching still works: within one state, a reload gets a 304 from the server, and shows
    that state's page (the undecided one with its banner; after Accept, the accepted one)."""
    assert visitor.load() == 200
    assert visitor.load(reload=True) == 304
    assert banner(visitor.page).is_visible()

    choose(visitor.page, "accept_all")
    visitor.load(reload=True)  # the first answer in the new state (banner.js may refresh it)
    assert visitor.load(reload=True) == 304
    assert not banner(visitor.page).is_visible()
    assert visitor.analytics_ran()
