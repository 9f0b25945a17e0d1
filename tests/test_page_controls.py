"""Script gating and Google Consent Mode through the middleware, over both adapters."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest

from .conftest import AppSpec, Site

PAGE = (
    b"<!doctype html><html><head><title>t</title>"
    b'<script data-consent-category="analytics" src="/a.js"></script>'
    b"</head><body><p>hi</p>"
    b'<iframe data-consent-category="marketing" src="/embed" title="Video"></iframe>'
    b'<script data-consent-category="marketing">window.ads = 1;</script>'
    b"</body></html>"
)


def page_site(make_site: Callable[..., Site], **config: object) -> Site:
    return make_site(AppSpec(body=PAGE), **config)


def test_gated_scripts_are_inert_until_granted(make_site: Callable[..., Site]) -> None:
    site = page_site(make_site, gate_scripts=True)
    response = site.get("/")
    page = response.text
    tag = re.search(r'<script[^>]*src="/a.js"[^>]*>', page)
    assert tag and 'type="text/plain"' in tag.group(0)
    assert not re.search(r'\ssrc="/embed"', page) and 'data-consent-src="/embed"' in page
    assert 'data-consent-allow="marketing"' in page
    # Gating changes the length: the response is streamed without a Content-Length.
    assert "content-length" not in response.headers or int(
        response.headers["content-length"]
    ) == len(response.content)

    granted = site.consent_cookie({"action": "save", "categories": ["analytics"]})
    page = site.get("/", cookie=granted).text
    assert '<script data-consent-category="analytics" src="/a.js"></script>' in page
    assert 'data-consent-src="/embed"' in page  # marketing still refused


def test_everything_granted_passes_untouched(make_site: Callable[..., Site]) -> None:
    site = page_site(make_site, gate_scripts=True)
    accepted = site.consent_cookie({"action": "accept_all"})
    response = site.get("/", cookie=accepted)
    before, _, after = PAGE.partition(b"</body>")
    assert response.content.startswith(before)
    assert response.content.endswith(b"</body></html>")
    assert b'type="text/plain"' not in response.content  # every tag of the page released
    # Gating still reads the page (a tag naming no category stays held), so its length is
    # not known in advance: the server streams it.
    assert "content-length" not in response.headers


def test_gating_off_by_default(make_site: Callable[..., Site]) -> None:
    page = page_site(make_site).get("/").text
    assert '<script data-consent-category="analytics" src="/a.js"></script>' in page


def consent_default(page: str) -> dict[str, object]:
    match = re.search(r"gtag\('consent','default',(\{.*?\})\)", page)
    assert match, page[:400]
    return dict(json.loads(match.group(1)))


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        (
            None,
            {"analytics_storage": "denied", "ad_storage": "denied", "security_storage": "granted"},
        ),
        (
            {"action": "save", "categories": ["analytics"]},
            {"analytics_storage": "granted", "ad_storage": "denied", "ad_user_data": "denied"},
        ),
        (
            {"action": "accept_all"},
            {"analytics_storage": "granted", "ad_personalization": "granted"},
        ),
    ],
)
def test_consent_mode_default_comes_first(
    make_site: Callable[..., Site], choice: dict[str, object] | None, expected: dict[str, str]
) -> None:
    site = page_site(make_site, google_consent_mode=True)
    cookie = site.consent_cookie(choice) if choice else None
    response = site.get("/", cookie=cookie)
    page = response.text
    default = consent_default(page)
    for key, value in expected.items():
        assert default[key] == value
    assert ("wait_for_update" in default) == (choice is None)
    # Before any tag: right after <head>.
    assert page.index("gtag('consent','default'") < page.index("<title>")
    assert int(response.headers["content-length"]) == len(response.content)


def test_consent_mode_carries_the_csp_nonce(make_site: Callable[..., Site]) -> None:
    site = make_site(
        AppSpec(
            body=PAGE,
            extra_headers=[
                ("Content-Security-Policy", "script-src 'nonce-r4nd0m' 'strict-dynamic'")
            ],
        ),
        google_consent_mode=True,
    )
    page = site.get("/").text
    assert re.search(r'<script nonce="r4nd0m">window.dataLayer', page)
    assert 'src="/consent/banner.js?v=' in page
    banner_script = re.search(r'<script[^>]*src="/consent/banner.js[^>]*>', page)
    assert banner_script and 'nonce="r4nd0m"' in banner_script.group(0)


def test_htmx_partials_get_no_banner_but_are_gated(make_site: Callable[..., Site]) -> None:
    site = page_site(make_site, gate_scripts=True, google_consent_mode=True)
    response = site.get("/", headers={"hx-request": "true"})
    page = response.text
    assert 'id="consent-banner"' not in page
    assert "gtag('consent','default'" not in page
    tag = re.search(r'<script[^>]*src="/a.js"[^>]*>', page)
    assert tag and 'type="text/plain"' in tag.group(0)
    plain = page_site(make_site).get("/", headers={"hx-request": "true"})
    assert plain.content == PAGE  # nothing to gate: the partial passes untouched


def test_placeholder_speaks_the_banner_language(make_site: Callable[..., Site]) -> None:
    site = page_site(make_site, gate_scripts=True)
    page = site.get("/", headers={"accept-language": "uk"}).text
    placeholder = re.search(r'<div class="consent-placeholder"[^>]*>', page)
    assert placeholder and 'lang="uk"' in placeholder.group(0)
