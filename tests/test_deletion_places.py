"""Where a refused cookie is expired: at the place the browser really stored it. A cookie
set without a valid Path lives in the page's directory, a host-only one is not the cookie
of a Domain, a partitioned (CHIPS) one is a cookie of its own, and an app's own deletion
counts only under the name every browser stores. Each over both adapters."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from consent_middleware.config import CookieRule
from consent_middleware.consent import ConsentCodec
from consent_middleware.cookies import default_path, parse_set_cookie, stored_name
from consent_middleware.core import ConsentCore
from consent_middleware.policy import MAX_EXPIRY_BYTES

from .conftest import RULES, AppSpec, Site, make_config


def deletions(response: object, name: str = "_fbp") -> list[str]:
    values: list[str] = response.headers.get_list("set-cookie")  # type: ignore[attr-defined]
    return [v for v in values if v.startswith(name + "=;") and "Max-Age=0" in v]


def places(values: list[str]) -> set[tuple[str | None, str | None, bool]]:
    out = set()
    for value in values:
        parsed = parse_set_cookie(value)
        out.add((parsed.path, parsed.domain, value.endswith("; Partitioned")))
    return out


def refuse_after_grant(site: Site, page: str, url_prefix: str = "") -> object:
    """A granted visitor gets the app's cookie on `page`; then a visitor who refused, and
    carries that cookie, asks for the root page."""
    accepted = site.consent_cookie({"action": "accept_all"})
    granted = site.get(url_prefix + page, cookie=accepted)
    assert site.spec.set_cookies[0] in granted.headers.get_list("set-cookie")
    rejected = site.consent_cookie({"action": "reject_all"})
    return site.get(url_prefix + "/", cookie=f"{rejected}; _fbp=1")


@pytest.mark.parametrize(
    ("set_cookie", "page", "where"),
    [
        ("_fbp=fb.1; Max-Age=7776000", "/shop/item", "/shop"),
        ("_fbp=fb.1", "/shop/item", "/shop"),  # no attributes at all
        ("_fbp=fb.1; Path=shop; Max-Age=7776000", "/shop/cart/item", "/shop/cart"),  # invalid
        ("_fbp=fb.1; Path=/a; Path=", "/shop/item", "/shop"),  # the last Path wins: empty
    ],
)
def test_a_cookie_without_a_valid_path_is_expired_in_the_pages_directory(
    make_site: Callable[..., Site], set_cookie: str, page: str, where: str
) -> None:
    site = make_site(AppSpec(set_cookies=[set_cookie]))
    response = refuse_after_grant(site, page)
    assert (where, None, False) in places(deletions(response))
    assert ("/", None, False) in places(deletions(response))  # the rule's place, as before


def test_each_directory_a_cookie_lands_in_is_learned(make_site: Callable[..., Site]) -> None:
    """Fresh values or not, a Path-less cookie's place is learned on every page it is set
    from (its verdict is not remembered by shape alone)."""
    site = make_site(AppSpec(set_cookies=["_fbp=fb.1; Max-Age=7776000"]))
    accepted = site.consent_cookie({"action": "accept_all"})
    for page in ("/a/1", "/b/2", "/c/d/3"):
        site.get(page, cookie=accepted)
    rejected = site.consent_cookie({"action": "reject_all"})
    response = site.get("/", cookie=f"{rejected}; _fbp=1")
    found = {path for path, _, _ in places(deletions(response))}
    assert {"/a", "/b", "/c/d", "/"} <= found


def test_a_domain_cookie_without_path_is_expired_at_its_domain_and_directory(
    make_site: Callable[..., Site],
) -> None:
    site = make_site(AppSpec(set_cookies=["_fbp=fb.1; Domain=testserver; Max-Age=7776000"]))
    response = refuse_after_grant(site, "/shop/item")
    assert ("/shop", "testserver", False) in places(deletions(response))


def test_a_host_only_cookie_is_not_taken_for_its_rules_domain(
    make_site: Callable[..., Site],
) -> None:
    """The rule names Domain=example.com; the app sets a host-only cookie at /shop. Only a
    host-only deletion expires it."""
    rules = {**RULES, "_fbp": CookieRule("marketing", domain="example.com")}
    site = make_site(AppSpec(set_cookies=["_fbp=fb.1; Path=/shop"]), cookies=rules)
    response = refuse_after_grant(site, "/shop/item")
    found = places(deletions(response))
    assert ("/shop", None, False) in found
    assert ("/", "example.com", False) in found


def test_the_directory_includes_the_mount_prefix() -> None:
    """The path the browser sent counts, the mount prefix included (ASGI `root_path`, WSGI
    `SCRIPT_NAME`)."""
    core = ConsentCore(make_config())
    codec: ConsentCodec = core.policy.codec

    def cookie(granted: bool) -> str:
        return "consent=" + codec.encode(codec.decide(["marketing"] if granted else []))

    granted = core.begin(cookie(True), False, root="/app", path="/shop/item")
    sent, _ = core.plan_response(granted, 200, [(b"set-cookie", b"_fbp=fb.1")], as_bytes=True)
    assert sent == [(b"set-cookie", b"_fbp=fb.1")]
    refused = core.begin(cookie(False) + "; _fbp=1", False, root="/app", path="/")
    sent, _ = core.plan_response(refused, 200, [], as_bytes=True)
    sent = [value.decode() for _, value in sent]
    assert ("/app/shop", None, False) in places(sent)


@pytest.mark.parametrize("scheme", ["https", "http"])
def test_partitioned_cookies_get_partitioned_deletions(
    make_site: Callable[..., Site], scheme: str
) -> None:
    """Over https the rule's place gets a Partitioned deletion too; each place where the
    app set a partitioned (CHIPS) cookie gets one always (over http as well: the browser
    that stored it is on https, behind a proxy that ends TLS and forwards no scheme); a
    plain place gets none."""
    site = make_site(
        AppSpec(set_cookies=["_fbp=fb.1; Path=/shop; Secure; Partitioned", "_ga=1; Path=/blog"])
    )
    accepted = site.consent_cookie({"action": "accept_all"})
    site.get(f"{scheme}://testserver/shop/item", cookie=accepted)
    rejected = site.consent_cookie({"action": "reject_all"})
    response = site.get(f"{scheme}://testserver/", cookie=f"{rejected}; _fbp=1; _ga=1")
    https = scheme == "https"
    assert places(deletions(response)) == {
        ("/", None, False),
        *([("/", None, True)] if https else []),
        ("/shop", None, True),
    }
    assert places(deletions(response, "_ga")) == {
        ("/", None, False),
        *([("/", None, True)] if https else []),
        ("/blog", None, False),
    }
    sent = deletions(response) + deletions(response, "_ga")
    assert all("Secure" in v for v in sent if "Partitioned" in v)
    if not https:  # the plain deletions stay plain: a plain-http page takes them
        assert [v for v in sent if "Secure" in v and "Partitioned" not in v] == []


def test_deletions_stay_within_a_header_budget(make_site: Callable[..., Site]) -> None:
    """Places learned from long URLs cannot make every later response carry kilobytes of
    deletions (proxies refuse large headers): past the budget, later responses go on."""
    site = make_site(AppSpec(set_cookies=["_ga=1; Max-Age=99"]))
    accepted = site.consent_cookie({"action": "accept_all"})
    for n in range(8):
        site.get(f"https://testserver/{'d' * 200}{n}/x/item", cookie=accepted)
    rejected = site.consent_cookie({"action": "reject_all"})
    sent = site.get("https://testserver/", cookie=f"{rejected}; _ga=1").headers
    values = sent.get_list("set-cookie")
    assert sum(len(v) + 14 for v in values) <= 3072
    assert ("/", None, False) in places(values)  # the rule's place comes first
    # A place too long to remember: the cookie would land where it could not be expired.
    too_long = site.get(f"https://testserver/{'d' * 300}/item", cookie=accepted)
    assert not too_long.headers.get_list("set-cookie")


@pytest.mark.parametrize(
    "app_deletion",
    [
        "_fbp; Max-Age=0; Path=/",  # the nameless cookie `_fbp` to RFC 6265bis browsers
        "=_fbp=x; Max-Age=0; Path=/",  # the nameless cookie, value `_fbp=x`
        " \t=_fbp; Max-Age=0; Path=/",
    ],
)
def test_a_deletion_browsers_may_read_under_another_name_does_not_replace_ours(
    make_site: Callable[..., Site], app_deletion: str
) -> None:
    site = make_site(AppSpec(set_cookies=[app_deletion]))
    rejected = site.consent_cookie({"action": "reject_all"})
    response = site.get("/", cookie=f"{rejected}; _fbp=1")
    assert ("/", None, False) in places(deletions(response))


@pytest.mark.parametrize(
    "app_deletion",
    [
        # Chromium and Firefox take the last Domain (empty: host-only, a deletion of `_fbp`
        # here); a browser that ignores an empty value, as RFC 6265bis allows, reads
        # `Domain=other.test` and rejects the header: `_fbp` stays.
        "_fbp=; Max-Age=0; Path=/; Domain=other.test; Domain=",
        "_fbp=; Max-Age=0; Path=/shop; Path=",  # the same for Path
        "_fbp=; Max-Age=0; Path=/; path=/",  # given twice, whatever the values
    ],
)
def test_a_deletion_whose_place_browsers_may_read_differently_does_not_replace_ours(
    make_site: Callable[..., Site], app_deletion: str
) -> None:
    """The app's own deletion is passed on, and the middleware's goes too: a refused
    cookie is expired at its place in every browser."""
    site = make_site(AppSpec(set_cookies=[app_deletion]))
    rejected = site.consent_cookie({"action": "reject_all"})
    response = site.get("/", cookie=f"{rejected}; _fbp=1")
    sent = deletions(response)
    assert app_deletion in sent
    assert ("/", None, False) in places([v for v in sent if v != app_deletion]), sent


def test_the_apps_own_clean_deletion_is_not_doubled(make_site: Callable[..., Site]) -> None:
    site = make_site(AppSpec(set_cookies=["_fbp=; Max-Age=0; Path=/"]))
    rejected = site.consent_cookie({"action": "reject_all"})
    response = site.get("/", cookie=f"{rejected}; _fbp=1")
    assert deletions(response) == ["_fbp=; Max-Age=0; Path=/"]


@pytest.mark.parametrize(
    ("request_path", "expected"),
    [
        ("", "/"),
        ("item", "/"),
        ("/", "/"),
        ("/item", "/"),
        ("/shop/", "/shop"),
        ("/shop/item", "/shop"),
        ("/a/b/c", "/a/b"),
        ("/café/item", "/caf%C3%A9"),
    ],
)
def test_default_path(request_path: str, expected: str) -> None:
    assert default_path(request_path) == expected


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("_fbp=1; Path=/", "_fbp"),
        (" _fbp =1", "_fbp"),
        ("_fbp; Max-Age=0", None),
        ("=_fbp=1", None),
        (" \t=x", None),
        ("_fbp", None),
    ],
)
def test_stored_name(header: str, name: str | None) -> None:
    assert stored_name(header) == name


def test_the_directory_is_the_path_the_browser_sent(make_site: Callable[..., Site]) -> None:
    site = make_site(AppSpec(set_cookies=["_fbp=fb.1; Max-Age=7776000"]))
    response = refuse_after_grant(site, "/sp%20ace/item")
    assert ("/sp%20ace", None, False) in places(deletions(response))


@pytest.mark.parametrize(
    ("raw", "root", "where"),
    [
        (b"/a%2Fb/item", "", "/a%2Fb"),
        (b"/%41b/item", "", "/%41b"),
        (b"/caf%c3%a9/item?x=1", "", "/caf%c3%a9"),  # lower-case escapes, as sent
        (b"//x/item", "", "//x"),
        (b"/shop/item", "/app", "/app/shop"),  # a proxy stripped the prefix
        (b"/app/shop/item", "/app", "/app/shop"),  # a server that keeps it
        (b"http://example.com/shop/item", "", "/shop"),  # an absolute request-target
    ],
)
def test_the_raw_path_decides_the_directory(raw: bytes, root: str, where: str) -> None:
    core = ConsentCore(make_config())
    codec: ConsentCodec = core.policy.codec
    granted = "consent=" + codec.encode(codec.decide(["marketing"]))
    ctx = core.begin(granted, False, root=root, path="/ignored/item", raw_path=raw)
    core.plan_response(ctx, 200, [(b"set-cookie", b"_fbp=fb.1")], as_bytes=True)
    refused = core.begin("consent=" + codec.encode(codec.decide([])) + "; _fbp=1", False)
    sent = [v.decode() for _, v in core.plan_response(refused, 200, [], as_bytes=True)[0]]
    assert (where, None, False) in places(sent)


def test_a_cookie_that_could_never_be_expired_is_not_set(make_site: Callable[..., Site]) -> None:
    """A Path-less cookie on `/a;b/item` lands at `/a;b`, which no Path attribute can name
    (`;` ends it): once refused it could never be expired, so it is not set at all."""
    site = make_site(AppSpec(set_cookies=["_fbp=fb.1; Max-Age=7776000"]))
    accepted = site.consent_cookie({"action": "accept_all"})
    assert "_fbp" not in str(site.get("/a;b/item", cookie=accepted).headers.get_list("set-cookie"))
    assert "_fbp=fb.1" in site.get("/ab/item", cookie=accepted).headers.get_list("set-cookie")[0]


# -- the answer to a refusal: cookies the browser does not send to /consent -----------------


def test_a_refusal_expires_a_cookie_at_its_rules_path_at_once(
    make_site: Callable[..., Site],
) -> None:
    """`_fbp` at `Path=/shop` (its rule says so) never reaches `/consent`: the answer to
    the refusal itself expires it there, not only the visitor's next page under /shop."""
    cookies = {**RULES, "_fbp": CookieRule("marketing", path="/shop")}
    site = make_site(AppSpec(), cookies=cookies)
    accepted = site.consent_cookie({"action": "accept_all"})
    answer = site.choose({"action": "reject_all"}, cookie=accepted)
    assert ("/shop", None, False) in places(deletions(answer))
    # Nothing of a granted category goes.
    kept = site.choose({"action": "save", "categories": ["marketing"]}, cookie=accepted)
    assert deletions(kept) == []


def test_a_refusal_expires_a_cookie_where_the_app_set_it(
    make_site: Callable[..., Site],
) -> None:
    site = make_site(AppSpec(set_cookies=["_fbp=fb.1; Path=/blog; Max-Age=7776000"]))
    accepted = site.consent_cookie({"action": "accept_all"})
    site.get("/blog/post", cookie=accepted)  # the app sets it: its place is learned
    answer = site.choose({"action": "reject_all"}, cookie=accepted)
    assert ("/blog", None, False) in places(deletions(answer))
    # Carried, it is expired once per place, not twice.
    carried = site.choose({"action": "reject_all"}, cookie=f"{accepted}; _fbp=fb.1")
    values = deletions(carried)
    assert len(values) == len(set(values))
    assert ("/blog", None, False) in places(values)


def test_the_answer_to_a_refusal_stays_within_the_deletion_budget(
    make_site: Callable[..., Site],
) -> None:
    cookies = {**RULES, **{f"_mk{i}": CookieRule("marketing", path=f"/p{i}") for i in range(200)}}
    site = make_site(AppSpec(), cookies=cookies)
    accepted = site.consent_cookie({"action": "accept_all"})
    answer = site.choose({"action": "reject_all"}, cookie=accepted)
    values = [v for v in answer.headers.get_list("set-cookie") if "Max-Age=0" in v]
    assert values
    assert sum(len(v) + 14 for v in values) <= MAX_EXPIRY_BYTES
    # Carried refused cookies take the same budget: one budget for the whole answer.
    carried = "; ".join(f"_mk{i}=1" for i in range(40))
    answer = site.choose({"action": "reject_all"}, cookie=f"{accepted}; {carried}")
    values = [v for v in answer.headers.get_list("set-cookie") if "Max-Age=0" in v]
    assert any(v.startswith("_mk0=;") for v in values)  # the carried ones come first
    assert sum(len(v) + 14 for v in values) <= MAX_EXPIRY_BYTES
