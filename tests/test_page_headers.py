"""The headers of a rewritten page that say what its body is, however often the app sends
them: a length the filter changes, validators that must name the consent state."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .conftest import AppSpec, Site

BODY = b"<html><body><p>hello</p></body></html>"


@pytest.mark.parametrize("lengths", [[str(len(BODY))] * 2, [str(len(BODY)), "5"]])
def test_every_content_length_is_corrected_or_none_is_sent(
    make_site: Callable[..., Site], lengths: list[str]
) -> None:
    site = make_site(AppSpec(body=BODY, extra_headers=[("Content-Length", n) for n in lengths]))
    # The AppSpec app adds its own Content-Length too: the same value as the first.
    response = site.get("/")
    assert b'id="consent-banner"' in response.content
    sent = response.headers.get_list("content-length")
    if len(set(lengths)) == 1:
        assert sent == [str(len(response.content))]
    else:
        assert sent == []  # no single length to correct: the server sends the page chunked


def test_every_etag_names_the_state(make_site: Callable[..., Site]) -> None:
    site = make_site(AppSpec(body=BODY, extra_headers=[("ETag", '"a"'), ("ETag", 'W/"b"')]))
    tags = site.get("/").headers.get_list("etag")
    assert len(tags) == 2 and all(t.startswith('W/"') and "-cm" in t for t in tags)


# -- Cache-Control: a cookieless visitor's page is theirs alone --------------------------


@pytest.mark.parametrize(
    ("app_sends", "sent"),
    [
        ([], ["private"]),
        (["public, max-age=600, s-maxage=3600"], ["private, max-age=600"]),
        (["max-age=60", "public"], ["private, max-age=60"]),  # two headers, one answer
        (["private, max-age=60"], ["private, max-age=60"]),
        (["no-store"], ["no-store"]),
    ],
)
def test_an_undecided_visitors_page_is_private(
    make_site: Callable[..., Site], app_sends: list[str], sent: list[str]
) -> None:
    """The banner's forms carry a token of that one page (a first choice's consent id
    derives from it): a shared cache handing the page to another cookieless visitor would
    give both one consent id."""
    extra = [("Cache-Control", value) for value in app_sends]
    site = make_site(AppSpec(body=BODY, extra_headers=extra))
    response = site.get("/")
    assert b'id="consent-banner"' in response.content
    assert response.headers.get_list("cache-control") == sent


def test_a_decided_visitors_page_keeps_the_apps_caching(make_site: Callable[..., Site]) -> None:
    site = make_site(AppSpec(body=BODY, extra_headers=[("Cache-Control", "public, max-age=600")]))
    cookie = site.consent_cookie({"action": "accept_all"})
    response = site.get("/", cookie=cookie)
    assert response.headers.get_list("cache-control") == ["public, max-age=600"]
    assert "cookie" in response.headers["vary"].lower()  # cached per consent cookie


def test_a_page_without_the_banner_keeps_the_apps_caching(make_site: Callable[..., Site]) -> None:
    extra = [("Cache-Control", "public, max-age=600")]
    site = make_site(AppSpec(body=BODY, extra_headers=extra), inject_banner=False)
    assert site.get("/").headers.get_list("cache-control") == ["public, max-age=600"]
