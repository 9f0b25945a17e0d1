"""Which responses get the banner, how their headers change, and the banner's own files,
over both adapters."""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable

import pytest

from consent_middleware.assets import load_assets

from .conftest import AppSpec, Site

PAGE = b"<!doctype html><html><head><title>t</title></head><body><p>hi</p></body></html>"


def html_site(make_site: Callable[..., Site], **spec: object) -> Site:
    return make_site(AppSpec(body=PAGE, **spec))  # type: ignore[arg-type]


#: A page with the banner and a fragment without it (htmx, Turbo, Unpoly) differ by these.
FRAGMENT_HEADERS = ", HX-Request, HX-Boosted, Turbo-Frame, X-Up-Target, X-Requested-With"


def test_page_gets_the_banner_with_an_exact_length(make_site: Callable[..., Site]) -> None:
    response = html_site(make_site).get("/")
    page = response.content
    assert page.count(b'id="consent-banner"') == 1
    assert page.index(b'id="consent-banner"') < page.index(b"</body>")
    assert page.startswith(PAGE.split(b"</body>")[0])
    assert int(response.headers["content-length"]) == len(page)
    # The banner's language follows Accept-Language, and Sec-GPC takes marketing back:
    # caches must keep them apart; and a fragment (no banner) from the page.
    assert response.headers["vary"] == "Cookie, Sec-GPC, Accept-Language" + FRAGMENT_HEADERS


def test_one_language_varies_on_cookie_only(make_site: Callable[..., Site]) -> None:
    response = make_site(AppSpec(body=PAGE), languages=("en",)).get("/")
    assert response.headers["vary"] == "Cookie, Sec-GPC" + FRAGMENT_HEADERS


def test_existing_vary_is_extended(make_site: Callable[..., Site]) -> None:
    site = html_site(make_site, extra_headers=[("Vary", "Accept-Encoding")])
    assert site.get("/").headers["vary"] == (
        "Accept-Encoding, Cookie, Sec-GPC, Accept-Language" + FRAGMENT_HEADERS
    )
    named = "accept-language, COOKIE, sec-gpc, hx-request, HX-Boosted, turbo-frame, x-up-target"
    site = html_site(make_site, extra_headers=[("Vary", named + ", X-Requested-With")])
    assert site.get("/").headers.get_list("vary") == [named + ", X-Requested-With"]
    site = html_site(make_site, extra_headers=[("Vary", named)])
    assert site.get("/").headers.get_list("vary") == [named + ", X-Requested-With"]
    site = html_site(make_site, extra_headers=[("Vary", "*")])
    assert site.get("/").headers.get_list("vary") == ["*"]


def test_head_answers_the_length_of_the_get(make_site: Callable[..., Site]) -> None:
    site = html_site(make_site)
    get = site.get("/")
    head = site.request("HEAD", "/")
    assert head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"]
    assert int(head.headers["content-length"]) == len(get.content) > len(PAGE)
    assert head.headers["vary"] == get.headers["vary"]


def test_a_rewritten_page_loses_its_strong_etag(make_site: Callable[..., Site]) -> None:
    # Weak, and naming the consent state (tests/test_revalidation.py): `s` for a strong one.
    site = html_site(make_site, extra_headers=[("ETag", '"v1-abc"')])
    assert re.fullmatch(r'W/"v1-abc-cm[0-9a-f]{12}s"', site.get("/").headers["etag"])
    weak = html_site(make_site, extra_headers=[("ETag", 'W/"v2"')])
    assert re.fullmatch(r'W/"v2-cm[0-9a-f]{12}w"', weak.get("/").headers["etag"])
    untouched = make_site(
        AppSpec(content_type="application/json", body=b"{}", extra_headers=[("ETag", '"j"')])
    )
    assert untouched.get("/").headers["etag"] == '"j"'


def test_uppercase_content_type_still_counts(make_site: Callable[..., Site]) -> None:
    site = html_site(make_site, content_type="TEXT/HTML; Charset=UTF-8")
    assert b'id="consent-banner"' in site.get("/").content


@pytest.mark.parametrize(
    ("spec", "method", "headers"),
    [
        pytest.param({"status": 204, "body": b""}, "GET", {}, id="204"),
        pytest.param({"status": 304, "body": b""}, "GET", {}, id="304"),
        pytest.param(
            {"status": 302, "extra_headers": [("Location", "/next")]}, "GET", {}, id="redirect"
        ),
        pytest.param({"content_type": "application/json"}, "GET", {}, id="json"),
        pytest.param({"content_type": "text/plain"}, "GET", {}, id="text"),
        pytest.param(
            {"status": 206, "extra_headers": [("Content-Range", f"bytes 0-{len(PAGE) - 1}/999")]},
            "GET",
            {},
            id="partial-content",
        ),
        pytest.param(
            {"extra_headers": [("Content-Range", f"bytes 0-{len(PAGE) - 1}/{len(PAGE)}")]},
            "GET",
            {},
            id="any-content-range",
        ),
        pytest.param(
            {"extra_headers": [("Content-Encoding", "compress")], "body": b"LZW, say"},
            "GET",
            {},
            id="unreadable-encoding",
        ),
        pytest.param({}, "GET", {"hx-request": "true"}, id="htmx-partial"),
        pytest.param({}, "GET", {"turbo-frame": "main"}, id="turbo-frame"),
        pytest.param({}, "GET", {"x-up-target": ".main"}, id="unpoly"),
        pytest.param({}, "GET", {"x-requested-with": "XMLHttpRequest"}, id="xhr"),
        pytest.param(
            {"extra_headers": [("X-Consent-Banner", "off")]}, "GET", {}, id="banner-off-header"
        ),
    ],
)
def test_responses_left_alone(
    make_site: Callable[..., Site],
    spec: dict[str, object],
    method: str,
    headers: dict[str, str],
) -> None:
    site = make_site(AppSpec(**{"body": PAGE, **spec}))  # type: ignore[arg-type]
    response = site.request(method, "/", headers=headers)
    if site.spec.status not in (204, 304):
        assert response.content == site.spec.body
    assert b"consent-banner" not in response.content
    assert response.headers.get("content-length") == str(len(site.spec.body))
    assert "x-consent-banner" not in response.headers  # the opt-out header is ours


@pytest.mark.parametrize("order", ["request-first", "boosted-first"])
def test_an_htmx_boosted_page_keeps_its_banner(make_site: Callable[..., Site], order: str) -> None:
    """hx-boost fetches a whole page and swaps its body in: without its banner an undecided
    visitor would lose the banner (and every way back to it) at the first boosted link."""
    site = html_site(make_site)
    pairs = [("hx-request", "true"), ("hx-boosted", "true")]
    headers = dict(pairs if order == "request-first" else pairs[::-1])
    assert b'id="consent-banner"' in site.get("/", headers=headers).content
    assert b"consent-banner" not in site.get("/", headers={"hx-request": "true"}).content


@pytest.mark.parametrize(
    ("headers", "fragment"),
    [
        ({"hx-request": "true"}, True),
        ({"hx-request": "true", "hx-boosted": " TRUE "}, False),
        ({"hx-request": "true", "hx-boosted": "false"}, True),
        ({"hx-boosted": "true"}, False),
        ({"turbo-frame": "main"}, True),
        ({"x-up-target": ".box"}, True),
        ({"x-requested-with": " XMLHttpRequest"}, True),
        ({"x-requested-with": "com.example.app"}, False),  # an Android WebView's package
        ({"sec-fetch-dest": "document"}, False),
    ],
)
def test_fragments_are_told_the_same_way_by_both_adapters(
    make_site: Callable[..., Site], headers: dict[str, str], fragment: bool
) -> None:
    """One rule (`headers.is_fragment`), whatever the adapter: a fragment gets no banner."""
    response = html_site(make_site).get("/", headers=headers)
    assert (b'id="consent-banner"' not in response.content) is fragment


def test_head_of_a_page_is_left_empty(make_site: Callable[..., Site]) -> None:
    response = html_site(make_site).request("HEAD", "/")
    assert response.content == b""


@pytest.mark.parametrize("path", ["/api/items", "/api/", "/admin/x.html"])
def test_excluded_paths_get_no_banner(make_site: Callable[..., Site], path: str) -> None:
    site = make_site(
        AppSpec(body=PAGE, set_cookies=["_fbp=1; Path=/"]),
        exclude_paths=["/api/*", "/admin/*.html"],
    )
    response = site.get(path)
    assert response.content == PAGE
    assert response.headers.get_list("set-cookie") == []  # enforced all the same
    assert b"consent-banner" in site.get("/page").content


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compressed_pages_get_the_banner(make_site: Callable[..., Site], encoding: str) -> None:
    import zlib

    body = zlib.compress(PAGE) if encoding == "deflate" else gzip.compress(PAGE)
    site = make_site(AppSpec(body=body, extra_headers=[("Content-Encoding", encoding)]))
    response = site.get("/")
    page = response.content  # the client decompresses what the middleware compressed again
    assert page.count(b'id="consent-banner"') == 1
    assert page.startswith(PAGE.split(b"</body>")[0]) and page.endswith(b"</body></html>")
    assert response.headers["content-encoding"] == encoding
    assert "content-length" not in response.headers  # unknown until it is compressed


@pytest.mark.parametrize(
    "disposition", ['attachment; filename="report.html"', "ATTACHMENT", " attachment ;x=y"]
)
def test_a_download_is_left_as_the_app_wrote_it(
    make_site: Callable[..., Site], disposition: str
) -> None:
    """An exported HTML report is saved, not shown: no banner, no gating, no Vary; its
    cookies are judged all the same."""
    site = make_site(
        AppSpec(
            body=PAGE,
            set_cookies=["_fbp=1; Path=/"],
            extra_headers=[("Content-Disposition", disposition)],
        )
    )
    response = site.get("/")
    assert response.content == PAGE
    assert "vary" not in response.headers
    assert response.headers.get_list("set-cookie") == []


def test_an_inline_page_with_a_file_name_is_a_page(make_site: Callable[..., Site]) -> None:
    site = make_site(
        AppSpec(body=PAGE, extra_headers=[("Content-Disposition", 'inline; filename="a.html"')])
    )
    assert site.get("/").content.count(b'id="consent-banner"') == 1


def test_error_pages_get_the_banner_too(make_site: Callable[..., Site]) -> None:
    response = html_site(make_site, status=404).get("/missing")
    assert response.status_code == 404
    assert b'id="consent-banner"' in response.content


def test_decided_visitor_gets_it_hidden(make_site: Callable[..., Site]) -> None:
    site = html_site(make_site)
    cookie = site.consent_cookie({"action": "reject_all"})
    page = site.get("/", cookie=cookie).text
    section = page[page.index('<section id="consent-banner"') :].split(">", 1)[0]
    assert " hidden" in section
    assert "data-consent-open" in page


def test_injection_can_be_turned_off(make_site: Callable[..., Site]) -> None:
    site = make_site(AppSpec(body=PAGE), inject_banner=False)
    response = site.get("/")
    assert response.content == PAGE
    assert "vary" not in response.headers


# -- the banner's files ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["banner.js", "banner.css"])
def test_static_files(site: Site, name: str) -> None:
    asset = load_assets()[name]
    plain = site.get(f"/consent/{name}", headers={"accept-encoding": "identity"})
    assert plain.status_code == 200
    assert plain.content == asset.body
    assert plain.headers["content-type"] == asset.content_type
    assert plain.headers["etag"] == asset.etag
    assert plain.headers["cache-control"] == "public, max-age=300"
    assert plain.headers["x-content-type-options"] == "nosniff"

    versioned = site.get(f"/consent/{name}?v={asset.version}", headers={"accept-encoding": "gzip"})
    assert versioned.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert versioned.headers["content-encoding"] == "gzip"
    assert versioned.content == asset.body  # the client decoded the gzip body

    again = site.get(f"/consent/{name}", headers={"if-none-match": asset.etag})
    assert again.status_code == 304 and again.content == b""


def test_preferences_page(site: Site) -> None:
    response = site.get("/consent/preferences?return_to=/deals")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert 'name="return_to" value="/deals"' in response.text
    assert response.text.count('id="consent-banner"') == 1  # not injected a second time
