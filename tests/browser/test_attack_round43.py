"""Attack round 43, in real Chromium against real servers (uvicorn for ASGI, waitress and
gunicorn for WSGI).

A script's cookie lives at the path the script gave it, or at its page's directory: after a
refusal, a page deeper in the site carries it (a cookie at `/shop` goes with every request
below `/shop`), but a deletion at `Path=/` or at that deeper page's own directory does not
reach it. Every path that a cookie sent to the page may be stored at gets a deletion.
A script's cookie for the site's registrable domain at such a path (gtag.js with a
`cookie_path`) is out of reach of both (the server knows no parent domain, banner.js
deletes at `path=/`): named with its domain and path in its rule, as docs/tracking.md
says, it is expired there.

A site that starts sharing its choice across subdomains (`cookie_domain`) sets its consent
cookie for the domain; the host-only one from before stayed beside it, the least permissive
of the two counted, and a visitor who had refused could never accept again: every new
consent cookie now goes with a deletion of the host-only one.

Over https a script may make its cookie partitioned (CHIPS), a cookie of its own that only a
`Partitioned` deletion expires: at those paths too."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext

from ..servers import free_port, running, server_command
from .helpers import action_button, choose, self_signed_certificate

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


def test_a_refusal_removes_a_domain_cookie_a_tag_stored_at_a_section_path(
    site_url: str, mapped_browser: Browser
) -> None:
    context = mapped_browser.new_context()
    context.set_default_timeout(10_000)
    try:
        url = site_url.replace("127.0.0.1", "www.shop.test")
        page = context.new_page()
        page.goto(url + "/blog/2026/post")
        choose(page, "accept_all")
        page.wait_for_function("document.cookie.includes('_ga_blog=')")
        held = {(c["name"], c["domain"], c["path"]) for c in context.cookies()}
        assert ("_ga_blog", ".shop.test", "/blog") in held
        page.locator(".consent-settings-link").click()
        choose(page, "reject_all")
        page.goto(url + "/blog/2026/other/post")
        page.wait_for_timeout(300)
        assert "_ga_blog" not in {c["name"] for c in context.cookies()}
    finally:
        context.close()


def test_a_grant_holds_after_the_site_shares_its_choice_across_subdomains(
    mapped_browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> None:
    logs = tmp_path_factory.mktemp("attack-round43-domain")
    context = mapped_browser.new_context()
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        before, after = free_port(), free_port()
        app = "tests.fixtures.attack_round43_apps:"
        with running(server_command("uvicorn", app + "host_only", before), before, logs / "a"):
            page.goto(f"http://www.shop.test:{before}/")
            choose(page, "reject_all")
        with running(server_command("uvicorn", app + "shared", after), after, logs / "b"):
            url = f"http://www.shop.test:{after}"
            page.goto(url + "/")
            page.locator(".consent-settings-link").click()
            with page.expect_response(lambda r: r.request.method == "POST"):
                action_button(page, "accept_all").click()
            page.goto(url + "/consent")  # the browser's own resolver and jar
            state = json.loads(page.inner_text("body"))
            assert state["categories"]["analytics"] is True, state
            held = {c["domain"] for c in context.cookies() if c["name"] == "consent"}
            assert held == {".shop.test"}, held
    finally:
        context.close()


@pytest.fixture(scope="module")
def https_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    where = tmp_path_factory.mktemp("attack-round43-tls")
    key, cert = self_signed_certificate(where)
    port = free_port()
    tls = ["--ssl-keyfile", str(key), "--ssl-certfile", str(cert)]
    command = server_command("uvicorn", APPS["uvicorn"], port, *tls)
    with running(command, port, where / "uvicorn.log"):
        yield f"https://localhost:{port}"


def test_a_refusal_removes_partitioned_script_cookies_above_a_deeper_page(
    https_url: str, new_context: Callable[..., BrowserContext]
) -> None:
    context = new_context(ignore_https_errors=True)
    page = context.new_page()
    page.goto(https_url + "/shop/cat/item")
    choose(page, "accept_all")
    page.evaluate(
        "document.cookie = '_ga_part=1; secure; partitioned; max-age=3600';"
        "document.cookie = '_ga_part_up=1; path=/shop; secure; partitioned; max-age=3600'"
    )
    held = {(c["name"], c["path"]) for c in context.cookies() if c.get("partitionKey")}
    assert held == {("_ga_part", "/shop/cat"), ("_ga_part_up", "/shop")}
    page.locator(".consent-settings-link").click()
    choose(page, "reject_all")
    page.goto(https_url + "/shop/cat/sub/item")
    page.wait_for_timeout(300)
    assert script_cookies(context) == set()
