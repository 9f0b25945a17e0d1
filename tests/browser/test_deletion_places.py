"""A refused cookie leaves Chromium's jar wherever the browser stored it: a visitor accepts
all on the banner, a page sets `_fbp` (marketing), the visitor rejects all on the
preferences page, visits a page, and `_fbp` is gone. The places are those a deletion at
`Path=/` misses: the default path of a cookie set without Path, a partitioned (CHIPS)
cookie, and a cookie the app "deletes" with a Set-Cookie that browsers read under another
name. ASGI under uvicorn, WSGI under waitress and gunicorn; the partitioned cookie over https."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page

from ..servers import free_port, running, server_command
from .helpers import action_button, choose, self_signed_certificate

pytestmark = pytest.mark.browser

APPS = {
    "uvicorn": "tests.fixtures.deletion_apps:asgi",
    "waitress": "tests.fixtures.deletion_apps:wsgi",
    # gunicorn hands the raw path over as RAW_URI, waitress as REQUEST_URI.
    "gunicorn": "tests.fixtures.deletion_apps:wsgi",
}


@dataclass
class Site:
    url: str
    #: The jar's domain of the site's host-only cookies.
    host: str


@pytest.fixture(scope="module", params=list(APPS))
def http_site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """One server per module and server kind, over http."""
    server: str = request.param
    port = free_port()
    log = tmp_path_factory.mktemp("deletion-places") / f"{server}.log"
    with running(server_command(server, APPS[server], port), port, log) as run:
        yield Site(run.url, "127.0.0.1")


@pytest.fixture(scope="module")
def https_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The ASGI app under uvicorn over https, with a self-signed certificate made now."""
    where = tmp_path_factory.mktemp("deletion-places-tls")
    key, cert = self_signed_certificate(where)
    port = free_port()
    tls = ["--ssl-keyfile", str(key), "--ssl-certfile", str(cert)]
    command = server_command("uvicorn", APPS["uvicorn"], port, *tls)
    with running(command, port, where / "uvicorn.log"):
        yield Site(f"https://localhost:{port}", "localhost")


@pytest.fixture
def visitor(new_context: Callable[..., BrowserContext]) -> tuple[BrowserContext, Page]:
    """A fresh visitor (an empty jar) who accepts a self-signed certificate."""
    context = new_context(ignore_https_errors=True)
    return context, context.new_page()


def fbp(context: BrowserContext) -> list[dict[str, Any]]:
    """Every `_fbp` in the browser's jar, with where it is stored."""
    return [
        {"path": c.get("path"), "domain": c.get("domain"), "partition": c.get("partitionKey")}
        for c in context.cookies()
        if c.get("name") == "_fbp"
    ]


def accept_all(page: Page, site: Site) -> None:
    page.goto(site.url + "/")
    choose(page, "accept_all")


def reject_all(page: Page, site: Site) -> None:
    """Withdraw on the preferences page, as a visitor who changed their mind does."""
    page.goto(site.url + "/consent/preferences?return_to=/")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        action_button(page, "reject_all").click()
    assert answer.value.status in (200, 303)
    page.wait_for_load_state()


def test_a_cookie_set_without_path_leaves_its_default_path(
    http_site: Site, visitor: tuple[BrowserContext, Page]
) -> None:
    """`Set-Cookie: _fbp=...; Max-Age=...` on /shop/item lands at Path=/shop."""
    context, page = visitor
    accept_all(page, http_site)
    page.goto(http_site.url + "/shop/item")
    assert fbp(context) == [{"path": "/shop", "domain": http_site.host, "partition": None}]

    reject_all(page, http_site)
    page.goto(http_site.url + "/shop/cart")  # the browser sends its /shop cookie here
    assert fbp(context) == []


def test_a_cookie_set_without_path_under_a_percent_encoded_directory(
    http_site: Site, visitor: tuple[BrowserContext, Page]
) -> None:
    """Chromium keeps the path as the link spelled it (`/caf%c3%a9`); the deletion must
    name it so, whichever way the server hands the path over (gunicorn: RAW_URI)."""
    context, page = visitor
    accept_all(page, http_site)
    page.goto(http_site.url + "/caf%c3%a9/item")
    assert fbp(context) == [{"path": "/caf%c3%a9", "domain": http_site.host, "partition": None}]

    reject_all(page, http_site)
    page.goto(http_site.url + "/caf%c3%a9/cart")
    assert fbp(context) == []


def test_a_refusal_removes_a_cookie_the_browser_does_not_send_to_the_consent_endpoint(
    http_site: Site, visitor: tuple[BrowserContext, Page]
) -> None:
    """`_fbp` at `Path=/blog` never reaches `/consent`: the answer to the refusal itself
    expires it where the app set it, before the visitor opens any page under /blog."""
    context, page = visitor
    accept_all(page, http_site)
    page.goto(http_site.url + "/blog/post")
    assert fbp(context) == [{"path": "/blog", "domain": http_site.host, "partition": None}]

    reject_all(page, http_site)
    assert fbp(context) == []


def test_a_partitioned_cookie_leaves_the_partition(
    https_site: Site, visitor: tuple[BrowserContext, Page]
) -> None:
    """`_fbp=...; Path=/; Secure; Partitioned` is a cookie of its own, keyed by the top-level
    site: only a `Partitioned` deletion expires it."""
    context, page = visitor
    accept_all(page, https_site)
    page.goto(https_site.url + "/partitioned")
    assert fbp(context) == [{"path": "/", "domain": "localhost", "partition": "https://localhost"}]

    reject_all(page, https_site)
    page.goto(https_site.url + "/")
    assert fbp(context) == []


def test_the_apps_nameless_deletion_does_not_keep_the_cookie(
    http_site: Site, visitor: tuple[BrowserContext, Page]
) -> None:
    """/blog/archive sends the app's clean-up `_fbp; Max-Age=0; Path=/blog`, which Chromium
    reads as a nameless cookie: the middleware's own deletion at /blog must still be sent.
    (At /blog, not /: the consent endpoint itself expires a carried `_fbp` at Path=/.)"""
    context, page = visitor
    accept_all(page, http_site)
    page.goto(http_site.url + "/blog/post")
    assert fbp(context) == [{"path": "/blog", "domain": http_site.host, "partition": None}]

    reject_all(page, http_site)
    page.goto(http_site.url + "/blog/archive")
    assert fbp(context) == []
