"""App shapes of ordinary FastAPI apps where a gated tag runs in Chromium before any
consent (probe round 2; the unit tests are tests/test_app_shapes_round2.py): a page without a
Content-Type (or with one that Chromium sniffs, or reads as text/html), a `300 Multiple
Choices` page without a Location, a page sent with `Content-Encoding: UTF-8`, pages with an
inline SVG icon before (or around) the gated tag, and an ISO-2022-JP page named by its
`<meta>`.
The gated tag sets `window.__gated` and the analytics cookie `_ga_js` when it runs; an
undecided visitor must see neither, and must see the banner.

And what an analytics tag set before a refusal: a cookie with no Path (kept at the page's
directory), or for the registrable domain (gtag.js's `cookie_domain: "auto"`), stays in
Chromium's jar after Reject all, or after a new policy version, page load after page load."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from ..fixtures.app_shapes_round2 import SVG_SHAPES
from ..servers import Running, free_port, running, server_command
from .helpers import action_button, banner, choose, cookie_names

pytestmark = pytest.mark.browser


def port(offset: int) -> int:
    """CONSENT_TEST_PORT pins the ports (a sandbox with a range of its own); else free ones."""
    base = os.environ.get("CONSENT_TEST_PORT")
    return int(base) + offset if base else free_port()


def serve(
    tmp_path_factory: pytest.TempPathFactory, app: str, offset: int, **env: str
) -> Iterator[Running]:
    at = port(offset)
    log: Path = tmp_path_factory.mktemp("app-shapes-round2") / f"uvicorn-{at}.log"
    command = server_command("uvicorn", f"tests.fixtures.app_shapes_round2:{app}", at)
    with running(command, at, log, env) as site:
        yield site


@pytest.fixture(scope="module")
def shapes_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    yield from serve(tmp_path_factory, "asgi", 0)


def assert_gated_tag_held(page: Page) -> None:
    page.wait_for_timeout(300)  # the page's scripts have run by now
    assert page.evaluate("window.__gated") is None
    assert "_ga_js" not in cookie_names(page.context)


@pytest.mark.parametrize("path", ["/streamed-page", "/plain-response"])
def test_a_page_without_media_type_runs_no_gated_tag(
    shapes_site: Running, page: Page, path: str
) -> None:
    response = page.goto(shapes_site.url + path)
    assert response is not None and "content-type" not in response.headers
    expect(page.get_by_role("heading", name="A page")).to_be_visible()  # sniffed as HTML
    assert_gated_tag_held(page)
    expect(banner(page)).to_be_visible()


@pytest.mark.parametrize(
    "content_type", ["text/html charset=utf-8", "*/*", "unknown/unknown", "html"]
)
def test_a_page_chromium_shows_as_html_runs_no_gated_tag(
    shapes_site: Running, page: Page, content_type: str
) -> None:
    page.goto(shapes_site.url + "/labelled?content_type=" + quote(content_type))
    expect(page.get_by_role("heading", name="A page")).to_be_visible()  # shown as a page
    assert_gated_tag_held(page)
    expect(banner(page)).to_be_visible()


@pytest.mark.parametrize("shape", list(SVG_SHAPES))
def test_an_inline_svg_does_not_let_a_gated_tag_run(
    shapes_site: Running, page: Page, shape: str
) -> None:
    page.goto(f"{shapes_site.url}/svg/{shape}")
    expect(banner(page)).to_be_visible()
    assert_gated_tag_held(page)


def test_a_300_page_without_location_runs_no_gated_tag(shapes_site: Running, page: Page) -> None:
    response = page.goto(shapes_site.url + "/choices")
    assert response is not None and response.status == 300
    expect(page.get_by_role("link", name="One")).to_be_visible()  # shown as a page
    assert_gated_tag_held(page)
    expect(banner(page)).to_be_visible()


def test_a_page_with_content_encoding_utf8_runs_no_gated_tag(
    shapes_site: Running, page: Page
) -> None:
    page.goto(shapes_site.url + "/content-encoding/UTF-8")
    expect(page.get_by_role("heading", name="A page")).to_be_visible()  # shown as it is
    assert_gated_tag_held(page)
    expect(banner(page)).to_be_visible()


def test_an_iso_2022_jp_page_named_by_its_meta_runs_no_gated_tag(
    shapes_site: Running, page: Page
) -> None:
    page.goto(shapes_site.url + "/iso-2022-jp")
    expect(page.get_by_role("heading", name="A page")).to_be_visible()
    assert page.evaluate("document.characterSet") == "ISO-2022-JP"
    assert_gated_tag_held(page)


# --- Cookies that an analytics tag set, after the visitor refuses -----------------------------

SHOP_HOST = "www.shop.test"


@pytest.fixture(scope="module")
def script_cookie_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    yield from serve(tmp_path_factory, "script_cookies", 1)


@pytest.fixture(scope="module")
def new_policy_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """The same site after a material change of its policy (every visitor undecided)."""
    yield from serve(tmp_path_factory, "script_cookies", 2, APP_SHAPES_POLICY="2")


@pytest.fixture
def shop_context(mapped_browser: Browser) -> Iterator[BrowserContext]:
    context = mapped_browser.new_context()
    context.set_default_timeout(10_000)
    yield context
    context.close()


def accept_and_let_the_tag_run(page: Page, url: str) -> None:
    page.goto(url)
    choose(page, "accept_all")
    page.wait_for_function("document.cookie.includes('_ga_path=')")
    assert {"_ga_path", "_ga_site"} <= cookie_names(page.context)


def test_reject_all_removes_a_script_cookie_set_without_path(
    script_cookie_site: Running, shop_context: BrowserContext
) -> None:
    page = shop_context.new_page()
    url = f"http://{SHOP_HOST}:{script_cookie_site.port}/shop/item"
    accept_and_let_the_tag_run(page, url)
    stored = {(c["name"], c["path"]) for c in shop_context.cookies()}
    assert ("_ga_path", "/shop") in stored  # no Path: the page's directory
    page.locator(".consent-settings-link").click()
    choose(page, "reject_all")
    for _ in range(2):  # "gone from the browser's jar after the next page load at the latest"
        page.goto(url)
        page.wait_for_timeout(200)
    assert "_ga_path" not in cookie_names(shop_context)


def test_a_new_policy_version_removes_the_tags_cookies(
    script_cookie_site: Running, new_policy_site: Running, shop_context: BrowserContext
) -> None:
    page = shop_context.new_page()
    accept_and_let_the_tag_run(page, f"http://{SHOP_HOST}:{script_cookie_site.port}/shop/item")
    for _ in range(2):  # the same host under the new policy: undecided, analytics refused
        page.goto(f"http://{SHOP_HOST}:{new_policy_site.port}/shop/item")
        expect(action_button(page, "accept_all")).to_be_visible()
    held = {(c["name"], c["domain"], c["path"]) for c in shop_context.cookies()}
    assert not {n for n, _, _ in held} & {"_ga_path", "_ga_site"}, held
