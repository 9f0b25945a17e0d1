"""Set-Cookie values that the deletion test once passed as deletions, but that Firefox's or
WebKit's own cookie parser stores as a live cookie (a source-level differential: there is
no Firefox or Safari here). Each must be removed when its category is refused.

The sources read:

- Firefox: netwerk/cookie/CookieParser.cpp, `CookieParser::GetExpiry`. An `Expires` is
  moved by the response's `Date` header: expiry = Expires + (client now - Date), with
  `network.cookie.useServerTime` (modules/libpref/init/StaticPrefList.yaml: true by
  default). So Firefox compares Expires with the response's Date, not with its clock: an
  app (or a cache replaying a stored answer) that sends `Date` a week old makes
  `Expires=<two days ago>` a cookie that lives five more days.
- WebKit: Source/WebCore/platform/network/curl/CookieUtil.cpp, `parseCookieAttributes`
  trims attribute names with `String::stripWhiteSpace` (SP and HTAB, and also VT, FF),
  where RFC 6265bis, Firefox and Chromium trim SP and HTAB only; the rightmost Max-Age
  wins, and each Expires overwrites the one before.
- WebKit: same file, `parseCookieHeader` runs `parseCookieAttributes` over every
  `;`-separated part, the cookie-pair included: a cookie *named* `Max-Age` sets its own
  Max-Age, and any Expires after it is ignored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pytest

from consent_middleware import ConsentMiddleware, ConsentWSGIMiddleware

from .conftest import AppSpec, Site, deleted_names, make_config
from .fixtures.lookalikes import EPOCH, http_date
from .raw import http_scope, raw_set_cookies_asgi, raw_set_cookies_wsgi, wsgi_call

DAY = 86400.0

FIREFOX_DATE = (
    "Firefox: netwerk/cookie/CookieParser.cpp CookieParser::GetExpiry "
    "(Expires + now - Date; network.cookie.useServerTime, on by default)"
)
WEBKIT_TRIM = (
    "WebKit: Source/WebCore/platform/network/curl/CookieUtil.cpp parseCookieAttributes "
    "(String::stripWhiteSpace trims VT and FF around an attribute name)"
)
WEBKIT_PAIR = (
    "WebKit: Source/WebCore/platform/network/curl/CookieUtil.cpp parseCookieHeader "
    "(the cookie-pair is read as an attribute too)"
)


@dataclass(frozen=True)
class Lookalike:
    id: str
    value: str
    #: The app's other response headers (a `Date` of its own).
    headers: tuple[tuple[str, str], ...]
    #: The browser that stores a live cookie from it, and where its source says so.
    stores: str
    #: Whether the value leaves once its category is granted (False: no rule names it).
    granted_passes: bool = True


LOOKALIKES = [
    # Firefox: Expires=1970-01-02 with Date=1970-01-01 lives one day from now.
    Lookalike(
        "firefox-date-at-the-epoch",
        "_ga=GA1.1.1; Path=/; Expires=Fri, 02 Jan 1970 00:00:00 GMT",
        (("Date", EPOCH),),
        FIREFOX_DATE,
    ),
    # Firefox: Expires two days ago, Date a week ago: lives five more days.
    Lookalike(
        "firefox-date-a-week-old",
        "_ga=GA1.1.1; Path=/; Expires=" + http_date(-2 * DAY),
        (("Date", http_date(-7 * DAY)),),
        FIREFOX_DATE,
    ),
    Lookalike(
        "firefox-date-lowercase-name",
        "_fbp=fb.1.2; Path=/; Expires=" + http_date(-2 * DAY),
        (("date", http_date(-30 * DAY)),),
        FIREFOX_DATE,
    ),
    # PR_ParseTimeString reads the asctime form of a Date as well.
    Lookalike(
        "firefox-date-in-asctime-form",
        "_fbp=fb.1.2; Expires=Fri, 02 Jan 1970 00:00:00 GMT",
        (("Date", "Thu Jan  1 00:00:00 1970"),),
        FIREFOX_DATE,
    ),
    # WebKit: "\vMax-Age" is Max-Age, and the rightmost one wins: a one-year cookie.
    Lookalike(
        "webkit-vt-before-max-age", "_fbp=x; Max-Age=0; \x0bMax-Age=31536000", (), WEBKIT_TRIM
    ),
    Lookalike(
        "webkit-ff-after-max-age", "_fbp=x; Max-Age=0; max-age\x0c=31536000", (), WEBKIT_TRIM
    ),
    # WebKit: the last Expires wins (no Max-Age): a cookie until 2100.
    Lookalike(
        "webkit-ff-before-expires",
        f"_fbp=x; Expires={EPOCH}; \x0cExpires=Fri, 01 Jan 2100 00:00:00 GMT",
        (),
        WEBKIT_TRIM,
    ),
    # WebKit: a cookie named Max-Age sets its own Max-Age; the Expires after it is ignored.
    Lookalike(
        "webkit-cookie-named-max-age",
        f"Max-Age=31536000; Path=/; Expires={EPOCH}",
        (),
        WEBKIT_PAIR,
        granted_passes=False,
    ),
    Lookalike(
        "webkit-cookie-named-max-age-spaced",
        f" max-age =31536000; Expires={EPOCH}",
        (),
        WEBKIT_PAIR,
        granted_passes=False,
    ),
]


def sent_set_cookies(site: Site, cookie: str | None) -> list[str]:
    call = raw_set_cookies_asgi if site.kind == "asgi" else raw_set_cookies_wsgi
    return call(site.middleware, cookie)


@pytest.mark.parametrize("lookalike", LOOKALIKES, ids=[item.id for item in LOOKALIKES])
def test_firefox_and_webkit_lookalikes_are_stripped(
    make_site: Callable[..., Site], lookalike: Lookalike
) -> None:
    site = make_site(AppSpec(set_cookies=[lookalike.value], extra_headers=list(lookalike.headers)))
    # Undecided, and refused: a live cookie in the browser of `lookalike.stores`.
    assert sent_set_cookies(site, None) == [], lookalike.stores
    rejected = site.consent_cookie({"action": "reject_all"})
    assert sent_set_cookies(site, rejected) == [], lookalike.stores
    accepted = site.consent_cookie({"action": "accept_all"})
    expected = [lookalike.value] if lookalike.granted_passes else []
    assert sent_set_cookies(site, accepted) == expected


# -- the app's Date after its Set-Cookie, and what still passes ------------------------


def asgi_app(headers: list[tuple[str, str]]) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        raw = [(k.encode(), v.encode("latin-1")) for k, v in headers]
        await send({"type": "http.response.start", "status": 200, "headers": raw})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


def wsgi_app(headers: list[tuple[str, str]]) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("200 OK", list(headers))
        return [b"ok"]

    return app


def set_cookies_of(adapter: str, headers: list[tuple[str, str]], cookie: str) -> list[str]:
    config = make_config()
    if adapter == "asgi":
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        middleware = ConsentMiddleware(asgi_app(headers), config=config)
        asyncio.run(middleware(http_scope(cookie=cookie), receive, send))
        return [v.decode("latin-1") for k, v in sent[0]["headers"] if k.lower() == b"set-cookie"]
    wsgi = ConsentWSGIMiddleware(wsgi_app(headers), config=config)
    _, out, body = wsgi_call(wsgi, cookie=cookie)
    b"".join(body)
    return [v for k, v in out if k.lower() == "set-cookie"]


@pytest.mark.parametrize("adapter", ["asgi", "wsgi"])
def test_a_date_after_the_set_cookie_counts_too(
    make_site: Callable[..., Site], adapter: str
) -> None:
    rejected = make_site().consent_cookie({"action": "reject_all"})
    value = "_ga=GA1.1.1; Path=/; Expires=" + http_date(-2 * DAY)
    headers = [("Set-Cookie", value), ("Date ", http_date(-7 * DAY))]
    assert value not in set_cookies_of(adapter, headers, rejected)
    # Without the app's Date, the same Expires deletion passes (browsers use their clock).
    assert set_cookies_of(adapter, headers[:1], rejected) == [value]


@pytest.mark.parametrize("adapter", ["asgi", "wsgi"])
def test_max_age_deletions_pass_whatever_the_date(
    make_site: Callable[..., Site], adapter: str
) -> None:
    """Max-Age counts from the browser's clock in every browser: the Date does not move it."""
    rejected = make_site().consent_cookie({"action": "reject_all"})
    value = f"_fbp=; Path=/; Max-Age=0; Expires={EPOCH}"
    headers = [("Date", EPOCH), ("Set-Cookie", value)]
    assert set_cookies_of(adapter, headers, rejected) == [value]


def test_a_stripped_dated_deletion_is_replaced_by_ours(make_site: Callable[..., Site]) -> None:
    value = "_ga=; Path=/; Expires=" + http_date(-2 * DAY)
    site = make_site(AppSpec(set_cookies=[value], extra_headers=[("Date", http_date(-7 * DAY))]))
    rejected = site.consent_cookie({"action": "reject_all"})
    response = site.get("/", cookie=f"_ga=GA1.1.9; {rejected}")
    assert value not in response.headers.get_list("set-cookie")
    assert deleted_names(response) == ["_ga"]
