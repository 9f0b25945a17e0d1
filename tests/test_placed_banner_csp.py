"""A FastAPI site that places the banner itself (`inject_banner=False`)
from a Jinja2 template, as docs/banner.md's "Placing the banner yourself" shows, with the
CSP nonce that docs/faq.md says to pass (`consent_banner(request, nonce=csp_nonce)`).

- The helper gave an undecided visitor the banner's CSS as an inline `<style>` without the
  nonce. Under a policy with a style rule (a `style-src` with the nonce, or `default-src
  'self'` alone) Chromium refuses it and the banner shows unstyled, at the foot of the page
  (tests/browser/test_placed_banner_csp.py sees it). The injected banner reads the policy
  and links the stylesheet instead; the helper cannot read it (the headers are not made
  yet), so with a nonce it links the stylesheet, with that nonce.
- The middleware made the pages it rewrites vary on the visitor (`Vary: Cookie`, ...) and,
  for a visitor without a consent id, kept them out of shared caches (`private`), but not a
  page whose template placed the banner: the helper now marks the request, and the core
  gives such a page the same headers (ASGI and WSGI).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.testclient import TestClient

from consent_middleware.consent import ConsentCodec
from consent_middleware.csp import inline_style_nonce
from consent_middleware.templating import consent_banner

from .fixtures.placed_banner_site import CSPS, app, config

PAGE_FLASK = "<!doctype html><html><body><h1>Flask</h1>{{ consent_banner(request) }}</body></html>"

STYLE = re.compile(r"<style\b([^>]*)>", re.I)
LINK = re.compile(r"<link\b[^>]*\brel=\"stylesheet\"[^>]*>", re.I)
NONCE = re.compile(r"\bnonce=\"([^\"]*)\"")


def style_applies(csp: str, attributes: str) -> bool:
    """Whether Chromium applies an inline `<style{attributes}>` under `csp`."""
    allowed, nonce = inline_style_nonce(csp)
    if not allowed:
        return False
    found = NONCE.search(attributes)
    return nonce is None or (found is not None and found.group(1) == nonce)


@pytest.mark.parametrize("kind", list(CSPS))
def test_a_placed_banner_with_a_nonce_is_styled_under_the_pages_policy(kind: str) -> None:
    with TestClient(app) as client:
        response = client.get(f"/csp/{kind}")
    csp = response.headers["content-security-policy"]
    nonce = "r27" + kind.replace("-", "")
    page = response.text
    assert page.count('id="consent-banner"') == 1
    assert "_ga" not in response.headers.get("set-cookie", "")
    refused = [m.group(0) for m in STYLE.finditer(page) if not style_applies(csp, m.group(1))]
    assert not refused, f"inline CSS that {csp!r} refuses: {refused}"
    styled = any(style_applies(csp, m.group(1)) for m in STYLE.finditer(page)) or any(
        f'nonce="{nonce}"' in link for link in LINK.findall(page)
    )
    assert styled, "no stylesheet the page's policy lets in"


def test_without_a_nonce_the_placed_banner_still_paints_with_the_page() -> None:
    """No nonce, no policy to fear: the CSS stays inline, as the injected banner's is."""
    with TestClient(app) as client:
        page = client.get("/cached").text
    assert STYLE.search(page) and "#consent-banner{" in page


def visitor_cookie(consent_id: str | None) -> str:
    """A decided visitor's consent cookie (a new consent id when `consent_id` is None)."""
    codec = ConsentCodec(config)
    return "consent=" + codec.encode(codec.decide(["analytics"], consent_id=consent_id))


def test_a_placed_banner_page_varies_on_the_visitor_and_stays_out_of_shared_caches() -> None:
    # The banner's forms carry a token of this one page, from which a first choice's consent
    # id derives, and it shows the visitor's state: as with the injected banner, the page
    # varies on the Cookie header and no shared cache keeps it for a visitor without an id.
    with TestClient(app) as client:
        response = client.get("/cached")
    assert 'id="consent-banner"' in response.text  # the template placed it
    assert "cookie" in response.headers["vary"].lower().split(", ")
    assert "sec-gpc" in response.headers["vary"].lower()
    assert response.headers["cache-control"] == "private, max-age=600"
    assert "cdn-cache-control" not in response.headers


def test_a_decided_visitors_placed_banner_page_keeps_the_apps_caching() -> None:
    with TestClient(app, cookies={}) as client:
        response = client.get("/cached", headers={"cookie": visitor_cookie(None)})
    assert response.text.count('id="consent-banner"') == 1
    assert "cookie" in response.headers["vary"].lower().split(", ")
    assert response.headers["cache-control"] == "public, max-age=600"
    assert response.headers["cdn-cache-control"] == "max-age=600"


def test_a_page_without_the_placed_banner_is_left_as_the_app_sent_it() -> None:
    with TestClient(app) as client:
        response = client.get("/plain")
    assert "vary" not in response.headers
    assert response.headers["cache-control"] == "public, max-age=600"


def test_a_flask_page_that_places_the_banner_gets_the_same_headers() -> None:
    from flask import Flask, render_template_string

    from consent_middleware import ConsentWSGIMiddleware

    site = Flask("placed")
    site.jinja_env.globals["consent_banner"] = consent_banner

    @site.get("/")
    def home() -> Any:
        response = site.make_response(render_template_string(PAGE_FLASK))
        response.headers["Cache-Control"] = "public, max-age=60"
        return response

    @site.get("/plain")
    def plain() -> Any:
        response = site.make_response("<!doctype html><p>plain</p>")
        response.headers["Cache-Control"] = "public, max-age=60"
        return response

    site.wsgi_app = ConsentWSGIMiddleware(site.wsgi_app, config=config)  # type: ignore[method-assign]
    client = site.test_client()
    page = client.get("/")
    assert 'id="consent-banner"' in page.get_data(as_text=True)
    assert "cookie" in page.headers["Vary"].lower().split(", ")
    assert page.headers["Cache-Control"] == "private, max-age=60"
    plain_page = client.get("/plain")
    assert "Vary" not in plain_page.headers
    assert plain_page.headers["Cache-Control"] == "public, max-age=60"


def test_the_oracles_can_fail() -> None:
    strict = CSPS["default-self"].format(n="x")
    assert not style_applies(strict, "")
    assert not style_applies(CSPS["style-nonce"].format(n="x"), ' nonce="y"')
    assert style_applies(CSPS["style-nonce"].format(n="x"), ' nonce="x"')
    assert style_applies(CSPS["strict-dynamic"].format(n="x"), "")
