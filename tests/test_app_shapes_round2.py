"""App shapes of ordinary FastAPI and WSGI apps where the promise broke (probe round 2):

- a page sent without a Content-Type (Starlette's `Response` and `StreamingResponse` have no
  default `media_type`), or with `*/*` or `unknown/unknown`: Chromium sniffs it as HTML and
  runs its gated tags, and the visitor gets no banner; so it does with
  `text/html charset=utf-8` (a space for the ";"), which Chromium reads as text/html;
- an inline SVG icon before a gated tag: in SVG, `<script …/>`, `<style/>` and `<title/>`
  are empty elements and `<style>`/`<title>` hold markup, but the rewriter read them with
  HTML rules and took the rest of the page for raw text, so the gated tag after (or
  inside) them ran;
- a `300 Multiple Choices` page without a Location (no redirect: Chromium shows it);
- a page with a Content-Encoding that is no coding (`UTF-8`, `none`): Chromium shows the body
  as it is, the middleware passes it ungated;
- an ISO-2022-JP page that only its `<meta charset>` names: in two-byte text, "<!--" is no
  comment, but the rewriter takes it for one;
- a refused cookie that an analytics tag set with no Path (kept at the page's directory) or
  for the registrable domain (gtag.js's default): the middleware's deletion is for Path=/
  host-only, which is another cookie, so the visitor keeps it;
- a cookie set by an `@app.middleware("http")` function declared after
  `add_middleware(ConsentMiddleware)` leaves unjudged, and `check-config --probe` says nothing.

Each page is read as a browser builds it (html5lib, scripting on): a gated tag is live when
it is a script not of type text/plain. tests/browser/test_app_shapes_round2.py shows the same
pages in Chromium.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import html5lib
import pytest

from consent_middleware import ConsentWSGIMiddleware
from consent_middleware.cli import main

from .fixtures.app_shapes_round2 import (
    PAGE,
    SVG_SHAPES,
    asgi,
    config,
    outer_cookie_app,
    script_cookies,
)
from .raw import http_scope, run_asgi, wsgi_call


def live_gated_scripts(page: bytes) -> list[str]:
    """Scripts of a refused category (every optional one: the visitor is undecided) that a
    browser would run: SVG scripts included."""
    tree = html5lib.parse(page.decode("utf-8"), namespaceHTMLElements=False, scripting=True)
    live = []
    for element in tree.iter():
        if not isinstance(element.tag, str) or element.tag.rpartition("}")[2] != "script":
            continue
        if "data-consent-category" not in element.attrib:
            continue
        kind = element.attrib.get("type", "")
        if kind.split(";", 1)[0].strip("\t\n\f\r ").lower() != "text/plain":
            live.append(f"{element.tag} {element.attrib}")
    return live


def asgi_page(path: str) -> tuple[dict[str, Any], bytes]:
    sent = run_asgi(asgi, http_scope(path))
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0], body


def test_the_oracles_can_fail() -> None:
    assert len(live_gated_scripts(PAGE.encode())) == 1
    deletion = ["_x=; Max-Age=0; Domain=.shop.test; Path=/"]
    assert deletes(deletion, "_x", "/", "shop.test", "/shop/item")
    assert not deletes(deletion, "_x", "/", None, "/shop/item")
    assert deletes(["_x=; Max-Age=0"], "_x", "/shop", None, "/shop/item")


@pytest.mark.parametrize("path", ["/streamed-page", "/plain-response"])
def test_a_fastapi_page_without_media_type_is_gated_and_gets_the_banner(path: str) -> None:
    start, body = asgi_page(path)
    assert not any(name.lower() == b"content-type" for name, _ in start["headers"])
    # Chromium sniffs a body that starts with "<!doctype html" as a page, and runs it.
    assert body.startswith(b"<!doctype html>")
    assert live_gated_scripts(body) == []
    assert b'id="consent-banner"' in body


def _wsgi_page(content_type: str | None) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        headers = [] if content_type is None else [("Content-Type", content_type)]
        start_response("200 OK", headers)
        return [PAGE.encode()]

    return ConsentWSGIMiddleware(app, config=config)


#: Content-Types under which Chromium shows a page: it reads the type up to a space or "(",
#: and sniffs the body when there is no type it knows.
SHOWN_AS_HTML: list[str | None] = [
    "text/html charset=utf-8",
    "text/html\tcharset=utf-8",
    "text/html(x)",
]
SNIFFED: list[str | None] = [None, "*/*", "unknown/unknown", "html"]


@pytest.mark.parametrize("content_type", SNIFFED + SHOWN_AS_HTML)
def test_a_wsgi_page_that_chromium_sniffs_as_html_is_gated(content_type: str | None) -> None:
    _, _, body = wsgi_call(_wsgi_page(content_type), "/")
    page = b"".join(body)
    assert live_gated_scripts(page) == []
    assert b'id="consent-banner"' in page


def test_a_300_page_without_location_is_gated_and_gets_the_banner() -> None:
    """docs/enforcement.md leaves redirects alone; a 300 without a Location redirects
    nowhere, and Chromium shows its page (and runs its scripts)."""
    start, body = asgi_page("/choices")
    assert start["status"] == 300
    assert not any(name.lower() == b"location" for name, _ in start["headers"])
    assert live_gated_scripts(body) == []
    assert b'id="consent-banner"' in body


@pytest.mark.parametrize("coding", ["UTF-8", "utf-8", "none", "binary", "x-unknown"])
def test_a_page_with_a_coding_chromium_ignores_is_gated(coding: str) -> None:
    """The body is plain HTML: Chromium, which knows no such coding, shows it as it is."""
    start, body = asgi_page(f"/content-encoding/{coding}")
    assert body.startswith(b"<!doctype html>")
    assert live_gated_scripts(body) == []
    assert b'id="consent-banner"' in body


def test_an_iso_2022_jp_page_named_by_its_meta_is_gated() -> None:
    """With no charset in the header, browsers take it from `<meta charset>` (the prescan):
    the middleware recodes ISO-2022-JP named in the header, not in the page."""
    start, body = asgi_page("/iso-2022-jp")
    assert (b"content-type", b"text/html") in start["headers"]
    text = body.decode("iso2022_jp", "replace").encode()  # as Chromium decodes it
    assert live_gated_scripts(text) == []


@pytest.mark.parametrize("shape", list(SVG_SHAPES))
def test_an_inline_svg_does_not_ungate_the_tag_after_it(shape: str) -> None:
    start, body = asgi_page(f"/svg/{shape}")
    assert start["status"] == 200
    assert live_gated_scripts(body) == [], SVG_SHAPES[shape]


def test_check_config_probe_sees_a_cookie_set_outside_the_middleware(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """README: add ConsentMiddleware after the middleware that sets cookies. A function of
    `@app.middleware("http")` below `add_middleware(ConsentMiddleware)` is added after it,
    so it runs outside: its `_fbp` (HttpOnly, marketing) reaches an undecided visitor.
    `check-config --probe` is where a newcomer would learn it."""
    start = run_asgi(outer_cookie_app, http_scope("/"))[0]
    set_cookies = [v.decode() for n, v in start["headers"] if n.lower() == b"set-cookie"]
    assert any(v.startswith("_fbp=") for v in set_cookies)  # what the visitor gets today
    status = main(
        ["check-config", "tests.fixtures.app_shapes_round2:outer_cookie_app", "--probe", "/"]
    )
    out = capsys.readouterr().out
    assert "Findings:" in out, out
    assert "_fbp" in out.split("Findings:", 1)[1], out
    assert status == 1


def deletes(set_cookies: list[str], name: str, path: str, domain: str | None, page: str) -> bool:
    """Whether one of `set_cookies`, received for the page at path `page`, deletes the
    cookie `name` that the browser stores at `path`, host-only (`domain` None) or for
    `domain`: same name, same place (RFC 6265bis 5.7), expired."""
    for header in set_cookies:
        pair, _, attributes = header.partition(";")
        if pair.partition("=")[0].strip() != name:
            continue
        attrs: dict[str, str] = {}
        for attribute in attributes.split(";"):
            key, _, value = attribute.partition("=")
            attrs[key.strip().lower()] = value.strip()
        stored_path = attrs.get("path", "")
        if not stored_path.startswith("/"):
            stored_path = page.rsplit("/", 1)[0] or "/"
        stored_domain = attrs.get("domain", "").lstrip(".").lower() or None
        expired = attrs.get("max-age", "1").lstrip("-").isdigit() and int(attrs["max-age"]) <= 0
        if stored_path == path and stored_domain == domain and expired:
            return True
    return False


@pytest.mark.parametrize(
    ("name", "path", "domain"),
    [("_ga_path", "/shop", None)],
    ids=["no-path"],
)
def test_a_refused_script_cookie_is_expired_where_the_browser_keeps_it(
    name: str, path: str, domain: str | None
) -> None:
    """docs/enforcement.md, "Cookies that scripts set": a refused one that comes back is
    expired, "so it is gone from the browser's jar after the next page load at the latest".
    An analytics tag stores `_ga_path` at the page's directory (no Path) and `_ga_site` for
    the registrable domain (gtag.js's default); the visitor is undecided (a new policy
    version, say). The server, which knows no registrable domain, expires the first in
    the page's directory; banner.js, now on every page load, the second at every parent
    domain (tests/browser/test_app_shapes_round2.py shows both in Chromium)."""
    scope = http_scope("/shop/item")
    scope["headers"] = [
        (b"host", b"www.shop.test"),
        (b"cookie", b"_ga_path=GA1.1.1; _ga_site=GA1.1.2"),
    ]
    start = run_asgi(script_cookies, scope)[0]
    set_cookies = [v.decode() for n, v in start["headers"] if n.lower() == b"set-cookie"]
    assert any(v.startswith(name + "=;") for v in set_cookies)  # it is seen, and "expired"
    assert deletes(set_cookies, name, path, domain, "/shop/item"), set_cookies
