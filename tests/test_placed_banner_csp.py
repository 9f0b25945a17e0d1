"""A FastAPI site that places the banner itself (`inject_banner=False`)
from a Jinja2 template, as docs/banner.md's "Placing the banner yourself" shows, with the
CSP nonce that docs/faq.md says to pass (`consent_banner(request, nonce=csp_nonce)`).

- The helper gave an undecided visitor the banner's CSS as an inline `<style>` without the
  nonce. Under a policy with a style rule (a `style-src` with the nonce, or `default-src
  'self'` alone) Chromium refuses it and the banner shows unstyled, at the foot of the page
  (tests/browser/test_placed_banner_site.py sees it). The injected banner reads the policy
  and links the stylesheet instead; the helper cannot read it (the headers are not made
  yet), so with a nonce it links the stylesheet, with that nonce.
- docs/deploying.md says a page with the banner for a visitor without a consent id gets
  `Cache-Control: private`, and that such pages get `Vary: Cookie`: the middleware does
  that to the pages it rewrites, not to a page whose template placed the banner. The
  banner page says so now, and what to send instead.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from consent_middleware.csp import inline_style_nonce

from .fixtures.placed_banner_site import CSPS, app

BANNER_DOC = Path(__file__).resolve().parents[1] / "docs" / "banner.md"
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


def placing_section() -> str:
    text = BANNER_DOC.read_text(encoding="utf-8")
    return text.split("## Placing the banner yourself", 1)[1].split("\n## ", 1)[0]


def test_the_banner_page_says_what_a_placed_banner_page_must_send_for_caches() -> None:
    with TestClient(app) as client:
        response = client.get("/cached")
    assert 'id="consent-banner"' in response.text  # the template placed it
    cache_control = response.headers.get("cache-control", "")
    vary = response.headers.get("vary", "")
    section = placing_section()
    if "private" not in cache_control:
        assert "Cache-Control: private" in section, "the docs promise `private`"
    if "cookie" not in vary.lower():
        assert "Vary: Cookie" in section, "the docs promise `Vary: Cookie`"


def test_the_oracles_can_fail() -> None:
    strict = CSPS["default-self"].format(n="x")
    assert not style_applies(strict, "")
    assert not style_applies(CSPS["style-nonce"].format(n="x"), ' nonce="y"')
    assert style_applies(CSPS["style-nonce"].format(n="x"), ' nonce="x"')
    assert style_applies(CSPS["strict-dynamic"].format(n="x"), "")
