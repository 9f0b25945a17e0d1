"""Attack round 43, without a browser (tests/browser/test_attack_round43.py drives Chromium).

A cookie a script stored at a directory above the page (`path=/shop` from
`/shop/cat/item`, or no Path on a page of `/shop`) is carried by every page below it: its
answer expires it at every path a cookie sent to that page may be stored at.

A site with `cookie_domain` sends every new consent cookie with a deletion of the host-only
one (from before it shared its choice): both would count, the least permissive of them."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from consent_middleware.cookies import cookie_paths

from .conftest import AppSpec, Site


@pytest.mark.parametrize(
    ("request_path", "expected"),
    [
        ("/", ("/",)),
        ("/item", ("/", "/item")),
        ("/shop/", ("/shop", "/shop/", "/")),
        (
            "/shop/cat/item",
            ("/shop/cat", "/shop/cat/item", "/shop/cat/", "/shop/", "/shop", "/"),
        ),
        ("/caf%C3%A9/item", ("/caf%C3%A9", "/caf%C3%A9/item", "/caf%C3%A9/", "/")),
        ("/café/item", ("/caf%C3%A9", "/caf%C3%A9/item", "/caf%C3%A9/", "/")),
        ("", ("/",)),
    ],
)
def test_cookie_paths(request_path: str, expected: tuple[str, ...]) -> None:
    assert cookie_paths(request_path) == expected


def test_cookie_paths_are_bounded() -> None:
    deep = "/a" * 40 + "/item"
    assert len(cookie_paths(deep)) == 16
    assert cookie_paths(deep)[0] == "/a" * 40  # the page's directory first


def test_a_carried_cookie_is_expired_at_every_directory_above_the_page(
    make_site: Callable[..., Site],
) -> None:
    site = make_site(AppSpec())
    rejected = site.consent_cookie({"action": "reject_all"})
    response = site.get("/shop/cat/sub/item", cookie=f"{rejected}; _ga=GA1")
    paths = {
        part.strip()[5:]
        for value in response.headers.get_list("set-cookie")
        if value.startswith("_ga=;")
        for part in value.split(";")
        if part.strip().startswith("Path=")
    }
    assert {"/shop", "/shop/", "/shop/cat", "/shop/cat/", "/shop/cat/sub"} <= paths
    assert {"/", "/shop/cat/sub/item"} <= paths


@pytest.mark.parametrize("endpoint", ["choice", "notice"])
def test_a_shared_consent_cookie_goes_with_a_deletion_of_the_host_only_one(
    make_site: Callable[..., Site], endpoint: str
) -> None:
    site = make_site(AppSpec(), cookie_domain=".example.org", policy_updated="2030-01-01")
    rejected = site.consent_cookie({"action": "reject_all"})
    if endpoint == "choice":
        answer = site.choose({"action": "accept_all"}, cookie=rejected)
    else:
        answer = site.choose({"action": "dismiss_notice"}, cookie=rejected)
    values = [v for v in answer.headers.get_list("set-cookie") if v.startswith("consent=")]
    assert any("Domain=.example.org" in v and "Max-Age=0" not in v for v in values), values
    assert [v for v in values if "Domain" not in v] == [
        "consent=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/"
    ]


def test_without_a_cookie_domain_no_second_consent_cookie_goes(
    make_site: Callable[..., Site],
) -> None:
    site = make_site(AppSpec())
    answer = site.choose({"action": "accept_all"})
    values = [v for v in answer.headers.get_list("set-cookie") if v.startswith("consent=")]
    assert len(values) == 1 and "Max-Age=0" not in values[0]


@pytest.mark.parametrize("nameless", ["=_fbp=1", "=session=forged", " =_fbp=2"])
def test_a_kept_nameless_cookie_is_not_written_back_under_a_name(
    make_site: Callable[..., Site], nameless: str
) -> None:
    """`=_fbp=1` is the nameless cookie `_fbp=1` (no browser stores one: Chromium refuses a
    nameless value with "="; a client may still send it). When the header is written
    again without a refused cookie, it stays nameless: `_fbp=1` would be the app's `_fbp`."""
    from starlette.requests import cookie_parser
    from werkzeug.sansio.http import parse_cookie

    site = make_site(AppSpec())
    state = site.middleware.core.policy.read_request(f"_ga=GA1; {nameless}; session=s1", False)
    filtered = state.filtered_cookie_header
    assert filtered is not None and "_ga=" not in filtered
    assert filtered.endswith("; session=s1")
    assert set(cookie_parser(filtered)) == {"", "session"}
    assert set(parse_cookie(filtered).keys()) == {"session"}


def test_over_https_a_carried_cookie_is_expired_partitioned_above_the_page_too(
    make_site: Callable[..., Site],
) -> None:
    site = make_site(AppSpec())
    rejected = site.consent_cookie({"action": "reject_all"})
    response = site.get("https://testserver/shop/cat/item", cookie=f"{rejected}; _ga=GA1")
    partitioned = {
        part.strip()[5:]
        for value in response.headers.get_list("set-cookie")
        if value.startswith("_ga=;") and "Partitioned" in value
        for part in value.split(";")
        if part.strip().startswith("Path=")
    }
    assert {"/", "/shop", "/shop/cat", "/shop/cat/item"} <= partitioned
    plain = site.get("/shop/cat/item", cookie=f"{rejected}; _ga=GA1")
    assert not [v for v in plain.headers.get_list("set-cookie") if "Partitioned" in v]
