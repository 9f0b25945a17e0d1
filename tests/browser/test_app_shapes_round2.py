"""App shapes of ordinary FastAPI apps where a gated tag runs in Chromium before any
consent (probe round 2; the unit tests are tests/test_app_shapes_round2.py): a page without a
Content-Type (or with one that Chromium sniffs, or reads as text/html), pages with an inline
SVG icon before (or around) the gated tag, a `300 Multiple Choices` page without a Location,
a page sent with `Content-Encoding: UTF-8`, and an ISO-2022-JP page named by its `<meta>`.
The gated tag sets `window.__gated` and the analytics cookie `_ga_js` when it runs; an
undecided visitor must see neither, and must see the banner."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from ..fixtures.app_shapes_round2 import SVG_SHAPES
from ..servers import Running, free_port, running, server_command
from .helpers import banner, cookie_names

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def shapes_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    # CONSENT_TEST_PORT pins the port (a sandbox with a range of its own); else any free one.
    port = int(os.environ.get("CONSENT_TEST_PORT") or free_port())
    log: Path = tmp_path_factory.mktemp("app-shapes-round2") / "uvicorn.log"
    command = server_command("uvicorn", "tests.fixtures.app_shapes_round2:asgi", port)
    with running(command, port, log) as site:
        yield site


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
