"""The ways a refused cookie used to get out, each one over both adapters (issue 7):
deletions that browsers keep, header names in other forms, websockets, shared header
lists and late headers, pages the banner or gating missed, replayed consent, a failing
page filter, and memory that hostile Cookie headers could pin."""

from __future__ import annotations

import asyncio
import logging
import tracemalloc
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from consent_middleware import ConsentMiddleware, ConsentWSGIMiddleware
from consent_middleware.consent import ConsentCodec
from consent_middleware.cookies import cookie_paths, default_path
from consent_middleware.html import MAX_TAG

from .conftest import AppSpec, Site, cookie_names, deleted_names, make_config
from .fixtures.lookalikes import DELETIONS, LOOKALIKES
from .raw import http_scope, raw_set_cookies_asgi, raw_set_cookies_wsgi, run_asgi, wsgi_call

# -- 1. deletions that browsers keep ---------------------------------------------------


@pytest.mark.parametrize("lookalike", LOOKALIKES, ids=[item.id for item in LOOKALIKES])
def test_lookalike_deletions_are_stripped(make_site: Callable[..., Site], lookalike: Any) -> None:
    site = make_site(AppSpec(set_cookies=[lookalike.value]))
    # Raw calls: the values hold latin-1 bytes that an HTTP test client would choke on.
    call = raw_set_cookies_asgi if site.kind == "asgi" else raw_set_cookies_wsgi
    assert call(site.middleware, None) == []
    rejected = site.consent_cookie({"action": "reject_all"})
    assert call(site.middleware, rejected) == []
    # Granted, the app's header leaves byte for byte, whatever it says.
    accepted = site.consent_cookie({"action": "accept_all"})
    assert call(site.middleware, accepted) == [lookalike.value]


@pytest.mark.parametrize("page", ["/", "/shop/item"])
@pytest.mark.parametrize("value", DELETIONS)
def test_real_deletions_pass(make_site: Callable[..., Site], value: str, page: str) -> None:
    site = make_site(AppSpec(set_cookies=[value]))
    response = site.get(page, cookie="_fbp=1")
    sent = response.headers.get_list("set-cookie")
    assert sent[0] == value
    # No second deletion where the app's covers the cookie (at Path=/ given, else at the
    # page's directory); ours go to every other path a cookie sent to the page may be at:
    # the rule's `/`, and where a script may have stored it (`cookies.cookie_paths`).
    covered = "/" if "path=/" in value.lower() else default_path(page)
    wanted = {"/", *cookie_paths(page)} - {covered}
    assert len(sent) == 1 + len(wanted)


def test_a_quoted_value_across_semicolons_is_a_session_cookie_to_a_real_client() -> None:
    """Why `quoted-across-semicolons` is a lookalike: Python's cookie parser (aiohttp's
    client jar uses it) reads the quoted value across `;`, attributes and all."""
    from http.cookies import SimpleCookie

    jar: SimpleCookie = SimpleCookie()
    jar.load('_fbp="x; Max-Age=0; y="')
    assert jar["_fbp"].value == "x; Max-Age=0; y=" and jar["_fbp"]["max-age"] == ""


def test_a_stripped_lookalike_still_expires_the_carried_cookie(
    make_site: Callable[..., Site],
) -> None:
    site = make_site(AppSpec(set_cookies=["_fbp=x; Max-Age=0; Max-Age=abc"]))
    response = site.get("/", cookie="_fbp=old")
    assert deleted_names(response) == ["_fbp"]
    assert "_fbp=x; Max-Age=0; Max-Age=abc" not in response.headers.get_list("set-cookie")


# -- 2. header names in other forms ----------------------------------------------------

ASGI_NAMES: list[Any] = [
    b"set-cookie",
    b"Set-Cookie",
    b"SET-COOKIE",
    b"Set-Cookie ",
    b"set-cookie\t",
    b"sEt-CoOkIe",
    "set-cookie",
    "Set-Cookie ",
]


def asgi_app_sending(headers: list[tuple[Any, Any]], body: bytes = b"ok") -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


@pytest.mark.parametrize("name", ASGI_NAMES, ids=repr)
@pytest.mark.parametrize("value_type", [bytes, str])
def test_asgi_judges_every_spelling_of_set_cookie(name: Any, value_type: type) -> None:
    value: Any = b"_fbp=1; Path=/" if value_type is bytes else "_fbp=1; Path=/"
    kept: Any = b"session=2" if value_type is bytes else "session=2"
    app = ConsentMiddleware(asgi_app_sending([(name, value), (name, kept)]), config=make_config())
    start = run_asgi(app, http_scope())[0]
    assert (name, value) not in start["headers"]
    assert (name, kept) in start["headers"]


@pytest.mark.parametrize("name", ["Set-Cookie", "set-cookie", "Set-Cookie ", "Set-Cookie\t"])
def test_wsgi_judges_every_spelling_of_set_cookie(name: str) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [(name, "_fbp=1; Path=/"), (name, "session=2")])
        return [b"ok"]

    _, headers, _ = wsgi_call(ConsentWSGIMiddleware(app, config=make_config()))
    assert headers == [(name, "session=2")]


@pytest.mark.parametrize(
    ("status", "sent"),
    [
        ("200 OK\r\nSet-Cookie: _fbp=1; Max-Age=31536000; Path=/", "200 OK"),
        ("404 Gone\nSet-Cookie: _fbp=1", "404 Not Found"),
        ("299 Odd\r\nX: y", "299 Unknown"),
        ("200 Fine", "200 Fine"),  # the app's own phrase stays
        # No status at all: werkzeug reads "20_0" as 200 and wsgiref writes "²00" as it is,
        # with the header after the line break (Chromium stored the cookie).
        (
            "20_0 OK\r\nSet-Cookie: _ga=GA1.LEAK; Max-Age=63072000; Path=/",
            "500 Internal Server Error",
        ),
        ("\u00b200 OK\r\nSet-Cookie: _fbp=fb.1.LEAK; Path=/", "500 Internal Server Error"),
        ("OK", "500 Internal Server Error"),
    ],
)
def test_wsgi_a_status_line_cannot_carry_headers(
    status: str, sent: str, caplog: pytest.LogCaptureFixture
) -> None:
    """werkzeug and wsgiref write the status line as it is: a line break in it would put
    a Set-Cookie on the wire that no judgement saw."""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response(status, [("Content-Type", "text/plain")])
        return [b"ok"]

    with caplog.at_level(logging.WARNING, logger="consent_middleware"):
        for _ in range(2):  # the second time from the memo
            line, _, _ = wsgi_call(ConsentWSGIMiddleware(app, config=make_config()))
            assert line == sent
    assert ("status line" in caplog.text) == (sent != status)


@pytest.mark.parametrize("lead", [" ", "\t"])
def test_a_header_line_that_would_fold_into_a_deletion_is_dropped(lead: str) -> None:
    """Browsers read a header line that starts with a space or tab as more of the line
    before: after `_fbp=...; Max-Age=0` it would make the deletion a one-year cookie
    (werkzeug and wsgiref write the app's names as they are). The line goes, and a carried
    `_fbp` still gets the middleware's own deletion."""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response(
            "200 OK",
            [
                ("Set-Cookie", "_fbp=fb.1.2; Max-Age=0"),
                (lead + "X-Trace", "; Max-Age=31536000; Path=/; HttpOnly"),
            ],
        )
        return [b"ok"]

    _, headers, _ = wsgi_call(ConsentWSGIMiddleware(app, config=make_config()))
    assert all(not name[:1].isspace() for name, _ in headers)
    assert ("Set-Cookie", "_fbp=fb.1.2; Max-Age=0") in headers


@pytest.mark.parametrize(
    "header",
    [
        ("Set-Cookie: _fbp=1; x", "y"),  # a name a raw server writes as a Set-Cookie line
        ("X-Note", "a\r\nSet-Cookie: _fbp=1"),
        ("X-Note", "a\nSet-Cookie: _fbp=1"),
        ("Set-Cookie", "session=1\r\nSet-Cookie: _fbp=1"),
        ("", "_fbp=1"),
        (" Set-Cookie", "session=1"),  # werkzeug and wsgiref would write it as it is
        ("\tX-Trace", "; Max-Age=31536000"),
    ],
    ids=[
        "colon-in-name",
        "crlf-in-value",
        "lf-in-value",
        "crlf-in-set-cookie",
        "empty-name",
        "space-before-name",
        "tab-before-name",
    ],
)
def test_headers_that_a_server_could_split_are_dropped(
    header: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [header, ("X-Fine", "1")])
        return [b"ok"]

    with caplog.at_level(logging.WARNING, logger="consent_middleware"):
        _, headers, _ = wsgi_call(ConsentWSGIMiddleware(app, config=make_config()))
    assert headers == [("X-Fine", "1")]
    asgi_headers = [(header[0].encode(), header[1].encode()), (b"x-fine", b"1")]
    asgi = ConsentMiddleware(asgi_app_sending(asgi_headers), config=make_config())
    assert run_asgi(asgi, http_scope())[0]["headers"] == [(b"x-fine", b"1")]


# -- 3. websockets -----------------------------------------------------------------------


def run_websocket(cookie: str | None, *, accept: bool) -> tuple[list[Any], dict[str, Any]]:
    sent: list[Any] = []
    seen: dict[str, Any] = {}

    async def inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen["cookie"] = [v for k, v in scope["headers"] if k == b"cookie"]
        await receive()
        headers = [(b"set-cookie", b"_fbp=1"), (b"set-cookie", b"session=1")]
        if accept:
            await send({"type": "websocket.accept", "headers": headers})
            await send({"type": "websocket.close", "code": 1000})
        else:
            await send({"type": "websocket.http.response.start", "status": 403, "headers": headers})
            await send({"type": "websocket.http.response.body", "body": b"no"})

    headers = [(b"host", b"testserver")]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    scope = {
        "type": "websocket",
        "path": "/ws",
        "headers": headers,
        "scheme": "ws",
        "query_string": b"",
        "root_path": "",
        "extensions": {"websocket.http.response": {}},
    }

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(ConsentMiddleware(inner, config=make_config())(scope, receive, send))
    return sent, seen


@pytest.mark.parametrize("accept", [True, False], ids=["accepted", "refused-handshake"])
def test_websocket_handshakes_are_judged(accept: bool) -> None:
    sent, seen = run_websocket("_ga=1; lang=en; session=s", accept=accept)
    first = sent[0]
    assert first["type"] == ("websocket.accept" if accept else "websocket.http.response.start")
    values = [v for k, v in first["headers"] if k == b"set-cookie"]
    assert b"_fbp=1" not in values and b"session=1" in values
    # Refused cookies the visitor carries are expired, and hidden from the app.
    assert any(v.startswith(b"_ga=;") for v in values)
    assert seen["cookie"] == [b"session=s"]


# -- 4. shared header lists and late headers -----------------------------------------------

PAGE = b"<!doctype html><html><body><p>" + b"x" * 3000 + b"</p></body></html>"


def test_a_reused_starlette_response_stays_the_same_for_every_visitor() -> None:
    response = HTMLResponse(PAGE)
    response.set_cookie("_ga", "GA1.1", path="/")
    response.set_cookie("session", "s1", path="/")
    app = Starlette(routes=[Route("/", response)])
    config = make_config()
    client = TestClient(ConsentMiddleware(app, config=config))
    codec = ConsentCodec(config)
    accepted = "consent=" + codec.encode(codec.decide(["analytics"]))
    lengths = []
    for cookie in (None, accepted, "_fbp=carried", accepted, None):
        client.cookies.clear()
        answer = client.get("/", headers={"cookie": cookie} if cookie else {})
        assert int(answer.headers["content-length"]) == len(answer.content)
        lengths.append(len(answer.content))
        names = cookie_names(answer)
        assert ("_ga" in names) == (cookie == accepted)
        assert "session" in names
        assert ("_fbp" in deleted_names(answer)) == (cookie == "_fbp=carried")
    assert response.raw_headers == HTMLResponse(PAGE).raw_headers[:2] + response.raw_headers[2:]
    assert len(set(lengths)) <= 3  # undecided, decided, and the visitor carrying _fbp


def test_the_app_header_list_is_never_modified() -> None:
    headers = [
        (b"content-type", b"text/html"),
        (b"set-cookie", b"_fbp=1"),
        (b"content-length", str(len(PAGE)).encode()),
    ]
    before = list(headers)
    message = {"type": "http.response.start", "status": 200, "headers": headers}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send(message)
        await send({"type": "http.response.body", "body": PAGE})

    for _ in range(3):
        sent = run_asgi(ConsentMiddleware(app, config=make_config()), http_scope(cookie="_ga=1"))
        assert sent[0]["headers"] is not headers
    assert headers == before and message["headers"] is headers


def test_wsgi_headers_appended_after_start_response_do_not_leave() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        headers = [("Content-Type", "text/plain")]
        start_response("200 OK", headers)
        headers.append(("Set-Cookie", "_fbp=late"))
        return [b"ok"]

    _, sent, body = wsgi_call(ConsentWSGIMiddleware(app, config=make_config()))
    b"".join(body)
    assert sent == [("Content-Type", "text/plain")]


# -- 5. pages ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    ["text/HTML", " text/html", "Text/Html; charset=utf-8", "application/XHTML+xml", "text/html\t"],
)
def test_any_spelling_of_html_gets_banner_and_gating(
    make_site: Callable[..., Site], content_type: str
) -> None:
    body = b'<html><body><script data-consent-category="analytics">a()</script></body></html>'
    site = make_site(AppSpec(body=body, content_type=content_type), gate_scripts=True)
    page = site.get("/").content
    assert b'id="consent-banner"' in page
    assert b'<script type="text/plain" data-consent-category="analytics">' in page


def test_a_gated_tag_longer_than_any_chunk_cannot_run(make_site: Callable[..., Site]) -> None:
    tag = b'<script data-x="' + b"y" * (MAX_TAG + 100) + b'" data-consent-category="marketing">'
    body = b"<html><body>" + tag + b"track()</script></body></html>"

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/html")],
            }
        )
        for k in range(0, len(body), 8192):
            await send(
                {"type": "http.response.body", "body": body[k : k + 8192], "more_body": True}
            )
        await send({"type": "http.response.body", "body": b""})

    config = make_config(gate_scripts=True)
    sent = run_asgi(ConsentMiddleware(app, config=config), http_scope())
    page = b"".join(m.get("body", b"") for m in sent[1:])
    assert page.startswith(b'<html><body><script type="text/plain" data-x=')


def test_xhtml_pages_get_a_well_formed_banner(make_site: Callable[..., Site]) -> None:
    import xml.etree.ElementTree as ET

    body = (
        b'<?xml version="1.0" encoding="utf-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml">'
        b"<head><title>t</title></head><body><p>x</p>"
        b'<iframe src="/v" data-consent-category="marketing"></iframe></body></html>'
    )
    site = make_site(AppSpec(body=body, content_type="application/xhtml+xml"), gate_scripts=True)
    for cookie in (None, site.consent_cookie({"action": "reject_all"})):
        page = site.get("/", cookie=cookie).content
        assert b'id="consent-banner"' in page
        ET.fromstring(page)  # raises on anything that is not well-formed XML


# -- 6. replayed consent -------------------------------------------------------------------


def test_the_least_permissive_consent_cookie_counts(make_site: Callable[..., Site]) -> None:
    site = make_site(AppSpec(set_cookies=["_ga=1", "_fbp=2", "lang=3", "session=4"]))
    reject = site.consent_cookie({"action": "reject_all"})
    accept = site.consent_cookie({"action": "accept_all"})
    analytics = site.consent_cookie({"action": "save", "categories": ["analytics", "settings"]})
    # A planted accept-all (a longer Path puts it first) cannot override the visitor's reject.
    for cookie in (f"{accept}; {reject}", f"{reject}; {accept}"):
        assert cookie_names(site.get("/", cookie=cookie)) == ["session"]
        assert site.get("/consent", cookie=cookie).json()["categories"]["analytics"] is False
    assert cookie_names(site.get("/", cookie=f"{accept}; {analytics}")) == [
        "_ga",
        "lang",
        "session",
    ]
    assert "consent" not in deleted_names(site.get("/", cookie=f"{accept}; {reject}"))


def test_check_config_recommends_host_prefix() -> None:
    from consent_middleware.checks import config_hints

    assert any("__Host-consent" in h for h in config_hints(make_config()))
    for options in ({"cookie_name": "__Host-consent"}, {"cookie_domain": ".example.com"}):
        assert not any("__Host-" in h for h in config_hints(make_config(**options)))


# -- 7. a failing page filter ----------------------------------------------------------------


def test_a_failing_page_filter_serves_the_rest_untouched(
    make_site: Callable[..., Site],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from consent_middleware import html

    site = make_site(AppSpec(body=PAGE))
    calls = {"n": 0}
    original = html.HtmlRewriter.feed

    def flaky(self: Any, chunk: bytes) -> bytes:
        calls["n"] += 1
        raise RuntimeError("tokenizer bug")

    monkeypatch.setattr(html.HtmlRewriter, "feed", flaky)
    with caplog.at_level(logging.ERROR, logger="consent_middleware"):
        response = site.get("/")
    assert response.status_code == 200
    assert response.content.startswith(PAGE)  # the page as the app wrote it, padded at most
    assert int(response.headers["content-length"]) == len(response.content)
    assert calls["n"] >= 1
    assert sum("could not rewrite a page" in r.getMessage() for r in caplog.records) == 1
    monkeypatch.setattr(html.HtmlRewriter, "feed", original)


# -- 8. memory -------------------------------------------------------------------------------


def test_caches_are_bounded_by_bytes() -> None:
    """4096 distinct 8 KB Cookie headers full of refused names: the caches hold at most
    about the configured budget (without the bound they pinned ~300 MB per worker)."""
    budget = 4 * 1024 * 1024
    assert make_config().cache_bytes == 32 * 1024 * 1024  # the default, per process
    config = make_config(cache_bytes=budget)
    app = ConsentMiddleware(
        asgi_app_sending([(b"content-type", b"application/json")]), config=config
    )
    filler = "v" * 100
    headers = [
        "; ".join(f"_ga{k}_{n}={filler}" for k in range(72))[:8000].encode() for n in range(4096)
    ]

    async def drive() -> None:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b""}

        async def send(message: dict[str, Any]) -> None:
            return None

        for cookie in headers:
            scope = http_scope()
            scope["headers"].append((b"cookie", cookie))
            await app(scope, receive, send)

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        asyncio.run(drive())
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < budget * 1.5 + 2 * 1024 * 1024, held
    policy = app.core.policy
    assert 0 < len(policy._requests) < 4096


def test_remembered_gated_tags_stay_within_the_budget() -> None:
    """Pages whose gated tags differ on every response (a fresh value in each) are gated
    every time, and what the middleware remembers of them stays within its budget."""
    from consent_middleware.core import ConsentCore

    budget = 1024 * 1024
    core = ConsentCore(make_config(cache_bytes=budget, gate_scripts=True))
    ctx = core.begin("", False)
    for n in range(3000):
        tag = f'<script data-consent-category="analytics" src="/a.js?v={n}&{"x" * 900}">'
        page = f"<html><body>{tag}</script></body></html>".encode()
        sent, page_filter = core.plan_response(ctx, 200, [(b"content-type", b"text/html")], True)
        assert page_filter is not None
        out = page_filter.feed(page) + page_filter.finish()
        assert b'<script type="text/plain" data-consent-category="analytics"' in out, n
    memo = core._tag_memo
    assert 0 < len(memo) < 3000
    assert memo.size <= memo.max_bytes <= budget * 0.05


# -- One Set-Cookie header read as several: a client that splits it at commas ------------------

#: Clients that take the Set-Cookie headers of a response as one folded value split it at
#: ", " (NSHTTPCookie's `cookiesWithResponseHeaderFields` on Apple's systems, which WebKit
#: there uses): the text after a comma that holds "=" is a cookie of its own.
FOLDED = [
    "lang=en, _fbp=fb.1.1700000000; Path=/; Max-Age=31536000",
    "lang=en,_fbp=fb.1; Path=/",
    "lang=en; Path=/, _fbp=fb.1; Max-Age=31536000",
    "session=s1, ads_id=42; Path=/; HttpOnly",
]


@pytest.mark.parametrize("header", FOLDED)
def test_a_refused_cookie_folded_into_a_granted_ones_header_never_leaves(
    make_site: Callable[..., Site], header: str
) -> None:
    """`lang` (settings) is granted, marketing is not: whoever reads the header as two
    cookies would store `_fbp` too. The same name and attributes without the comma leave
    (the verdict remembered for that shape must not pass the folded one)."""
    plain = header.split(",", 1)[0].split(";", 1)[0] + "; Path=/"
    site = make_site(AppSpec(set_cookies=[plain, header]))
    cookie = site.consent_cookie({"action": "save", "categories": ["settings"]})
    for _ in range(2):  # the second time the shape's verdict is remembered
        sent = site.get("/", cookie=cookie).headers.get_list("set-cookie")
        assert plain in sent
        assert header not in sent


def test_an_unknown_name_after_a_comma_is_left_to_browsers_reading(
    make_site: Callable[..., Site],
) -> None:
    """Even where unknown cookies count as marketing: no rule names `baz`."""
    header = "lang=en, baz=qux; Path=/"
    site = make_site(AppSpec(set_cookies=[header]), unknown_cookies="marketing")
    cookie = site.consent_cookie({"action": "save", "categories": ["settings"]})
    assert header in site.get("/", cookie=cookie).headers.get_list("set-cookie")


@pytest.mark.parametrize(
    "header",
    [
        "lang=en; Expires=Thu, 01 Jan 2037 00:00:00 GMT; Path=/",  # a date's comma
        "lang=en, baz=qux; Path=/",  # IETF comma0001: one cookie; no rule names baz
        "lang=en, _ga=1; Path=/",  # analytics, granted here
    ],
)
def test_a_comma_that_folds_in_no_refused_cookie_leaves(
    make_site: Callable[..., Site], header: str
) -> None:
    site = make_site(AppSpec(set_cookies=[header]))
    cookie = site.consent_cookie({"action": "save", "categories": ["settings", "analytics"]})
    assert header in site.get("/", cookie=cookie).headers.get_list("set-cookie")


# -- 9. what Chromium and Python's cookie readers do that the judgement had missed --------
# Found by the differential test against Chromium's jar (tests/browser/test_differential.py).

#: Granted (`lang`, settings) or required (`session`) cookies whose value holds a refused
#: name after a space: Chromium stores one cookie `lang` with the value `en _fbp=1` and
#: sends `Cookie: lang=en _fbp=1`, which `http.cookies.SimpleCookie` (Bottle, CherryPy,
#: aiohttp, hand-written apps) reads as two cookies, `lang` and `_fbp`.
SPACED = [
    "lang=en _fbp=1; Path=/",
    'lang="x" _fbp=1; Path=/',
    "lang=a=b _fbp=1; Path=/",
    "lang=en  _fbp = 1; Path=/",
    "session=s1 _ga=GA1.1.1; Path=/; HttpOnly",
]


@pytest.mark.parametrize("header", SPACED)
def test_a_refused_cookie_after_a_space_in_a_granted_ones_value_never_leaves(
    make_site: Callable[..., Site], header: str
) -> None:
    """The same name and attributes without the space leave (the verdict remembered for
    that shape must not pass the spaced one), and so does a space before no refused name."""
    plain = header.split(" ", 1)[0].split(";", 1)[0] + "; Path=/"
    harmless = header.split(";", 1)[0].split(" ", 1)[0] + " and more; Path=/"
    site = make_site(AppSpec(set_cookies=[plain, header, harmless]))
    cookie = site.consent_cookie({"action": "save", "categories": ["settings"]})
    for _ in range(2):  # the second time the shape's verdict is remembered
        sent = site.get("/", cookie=cookie).headers.get_list("set-cookie")
        assert plain in sent
        assert header not in sent
        assert harmless in sent


#: Deletions that Chromium ignores whole over plain http (it stores nothing from them, so
#: they delete nothing): a `Secure` one from an insecure page, `SameSite=None` without
#: `Secure`, a `Partitioned` one (another cookie than the unpartitioned `_fbp`), a degenerate
#: `Domain=.`, a tab or a control character inside the name or value (name and value past
#: 4096 bytes too: see tests/test_cookies.py, such a header leaves no room for ours).
IGNORED_DELETIONS = [
    "_fbp=; Max-Age=0; Path=/; Secure",
    "_fbp=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; Secure",
    "_fbp=; Max-Age=0; Path=/; SameSite=None",
    "_fbp=; Max-Age=0; Path=/; Partitioned",
    "_fbp=; Max-Age=0; Path=/; Secure; Partitioned",
    "_fbp=; Max-Age=0; Path=/; Domain=.",
    "_fbp=a\tb; Max-Age=0; Path=/",
    "_fbp=\x01; Max-Age=0; Path=/",
]


@pytest.mark.parametrize("value", IGNORED_DELETIONS, ids=lambda v: repr(v)[:48])
def test_a_deletion_chromium_ignores_does_not_replace_ours(value: str) -> None:
    """The app's deletion leaves (it deletes nothing), but the middleware's own deletion of
    the carried `_fbp` goes with it: withheld, the refused cookie stayed in the browser for
    as long as the app sent that deletion (checked in Chromium by the differential test)."""
    app = ConsentMiddleware(
        asgi_app_sending([(b"set-cookie", value.encode("latin-1"))]), config=make_config()
    )
    start = run_asgi(app, http_scope(cookie="_fbp=old"))[0]
    sent = [v.decode("latin-1") for k, v in start["headers"] if k == b"set-cookie"]
    assert value in sent
    assert "_fbp=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/" in sent


@pytest.mark.parametrize(
    "value",
    [
        "_fbp=; Max-Age=0; Path=/; Secure",
        "_fbp=; Max-Age=0; Path=/; Secure; SameSite=None",
        "__Secure-fbp=; Max-Age=0; Path=/; Secure",
    ],
)
def test_over_https_a_secure_deletion_replaces_ours(value: str) -> None:
    name = value.split("=", 1)[0]
    config = make_config(cookies={"_fbp": "marketing", "__Secure-fbp": "marketing"})
    app = ConsentMiddleware(asgi_app_sending([(b"set-cookie", value.encode())]), config=config)
    scope = {**http_scope(cookie=f"{name}=old"), "scheme": "https"}
    start = run_asgi(app, scope)[0]
    sent = [v.decode() for k, v in start["headers"] if k == b"set-cookie"]
    # Only the partitioned one of the middleware's own goes too (a cookie of its own).
    assert [v for v in sent if "Partitioned" not in v] == [value]


#: Cookie headers that Chromium sends, with what Python's readers make of them (checked in
#: Chromium by the differential test): a cookie that the app or a sibling site set before
#: (or a script, for the nameless one) that the app must not read once refused.
CARRIED = [
    # Starlette and Django trim a name with `str.strip()`, NBSP and \x1c-\x1f included.
    ("_fbp\xa0=1", "_fbp\xa0"),
    ("\xa0_fbp=1", "\xa0_fbp"),
    ("_fbp\x85=1", "_fbp\x85"),
    # Django's WSGI request decodes the header as UTF-8 before it trims: a script's
    # `document.cookie = "\u2003_fbp=1"` (EM SPACE) is its `_fbp`.
    ("\u2003_fbp=1".encode().decode("latin-1"), "\u2003_fbp".encode().decode("latin-1")),
    ("_fbp\u00a0=1".encode().decode("latin-1"), "_fbp\u00a0".encode().decode("latin-1")),
    # werkzeug (Flask) reads the nameless cookie `_fbp` (`document.cookie = "_fbp"`) as a
    # cookie named `_fbp`; expired as the nameless cookie it is.
    ("_fbp", ""),
]


@pytest.mark.parametrize(("carried", "expired"), CARRIED, ids=repr)
def test_a_carried_cookie_that_an_app_reads_under_a_refused_name_is_hidden_and_expired(
    make_site: Callable[..., Site], carried: str, expired: str
) -> None:
    from http.cookies import SimpleCookie

    from django.http.cookie import parse_cookie as django_parse_cookie
    from starlette.requests import cookie_parser
    from werkzeug.http import parse_cookie

    site = make_site(AppSpec())
    # Raw calls: test clients refuse the latin-1 bytes that Chromium sends.
    call = raw_set_cookies_asgi if site.kind == "asgi" else raw_set_cookies_wsgi
    sent = call(site.middleware, f"session=s1; {carried}; lang=en")
    seen = site.spec.seen[-1]["cookie"]
    assert "_fbp" not in cookie_parser(seen)
    assert "_fbp" not in parse_cookie(seen)
    # Django: ASGI reads latin-1, WSGI decodes UTF-8 (`get_str_from_wsgi`).
    assert "_fbp" not in django_parse_cookie(seen)
    assert "_fbp" not in django_parse_cookie(seen.encode("latin-1").decode(errors="replace"))
    jar = SimpleCookie()
    jar.load(seen)
    assert "_fbp" not in jar
    assert "session=s1" in seen
    deletions = [v for v in sent if "Max-Age=0" in v]
    assert any(v.split("=", 1)[0] == expired for v in deletions), deletions


def test_a_granted_cookie_that_http_cookies_reads_as_a_refused_one_is_hidden(
    make_site: Callable[..., Site],
) -> None:
    """`Cookie: lang=en _fbp=1` (set before the middleware came, or by a script): the app
    does not get the pair, and the browser loses it (the app could not read it anyway)."""
    from http.cookies import SimpleCookie

    site = make_site(AppSpec())
    cookie = site.consent_cookie({"action": "save", "categories": ["settings"]})
    response = site.get("/", cookie=f"{cookie}; lang=en _fbp=1; session=s1")
    seen = site.spec.seen[-1]["cookie"]
    jar = SimpleCookie()
    jar.load(seen)
    assert "_fbp" not in jar
    assert "lang=" not in seen
    assert "session=s1" in seen
    assert deleted_names(response) == ["lang"]


def test_the_nameless_cookie_deletion_is_one_browsers_store() -> None:
    """`=; Max-Age=0` has neither name nor value: Chromium ignores it whole (RFC 6265bis
    5.6 step 7), so the nameless cookie stayed; a value makes it a deletion."""
    from consent_middleware.cookies import deletion_header, parse_set_cookie

    header = deletion_header("")
    cookie = parse_set_cookie(header)
    assert header.startswith("=") and cookie.name == "" and cookie.value
    assert cookie.max_age == 0


@pytest.mark.parametrize("name", ["\u2003_fbp", "_fbp\u00a0", "\u3000_ga"])
def test_a_name_that_is_refused_once_decoded_as_utf8_never_leaves(
    make_site: Callable[..., Site], name: str
) -> None:
    """Where unknown cookies are allowed: Chromium stores a Set-Cookie's UTF-8 name as it
    is, and Django's WSGI request decodes it and trims the EM SPACE off."""
    header = name.encode().decode("latin-1") + "=1; Path=/"
    site = make_site(AppSpec(set_cookies=[header]), unknown_cookies="allow")
    call = raw_set_cookies_asgi if site.kind == "asgi" else raw_set_cookies_wsgi
    cookie = site.consent_cookie({"action": "save", "categories": ["settings"]})
    assert call(site.middleware, cookie) == []


@pytest.mark.parametrize("name", ["__secure-fbp", "__SECURE-fbp", "__host-fbp", "__HOST-fbp"])
def test_a_prefixed_cookie_in_any_case_is_expired_with_secure(name: str) -> None:
    """Chromium applies the `__Secure-` and `__Host-` prefixes in any case (it refused
    `__host-fbp=1; Path=/` without Secure in the differential test): a deletion without
    `Secure` (the app sees http behind a proxy that ends TLS) left the cookie there."""
    config = make_config(cookies={name: "marketing"})
    app = ConsentMiddleware(asgi_app_sending([]), config=config)
    start = run_asgi(app, http_scope(cookie=f"{name}=old"))[0]
    sent = [v.decode() for k, v in start["headers"] if k == b"set-cookie"]
    assert sent
    for value in sent:
        attributes = [a.strip().lower() for a in value.split(";")[1:]]
        assert "secure" in attributes, value
        if name.lower().startswith("__host-"):
            assert "path=/" in attributes and not any(a.startswith("domain") for a in attributes)


@pytest.mark.parametrize("lead", ["\x0b", "\x0c", " \x0b"])
def test_a_name_of_whitespace_is_no_name_once_a_server_strips_the_value(lead: str) -> None:
    """Hypercorn strips the whole value (`bytes.strip()`): `\\v=_fbp` goes out as `=_fbp`,
    the nameless cookie `_fbp` (Chromium stored it). Where unknown names are allowed, the
    whitespace name must not let it pass."""
    value = lead + "=_fbp; Max-Age=63072000; Path=/"

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Set-Cookie", value), ("Set-Cookie", lead + "=x; Path=/")])
        return [b"ok"]

    config = make_config(unknown_cookies="allow")
    for _ in range(2):  # the second time from what was learned
        _, headers, _ = wsgi_call(ConsentWSGIMiddleware(app, config=config))
        assert headers == [("Set-Cookie", lead + "=x; Path=/")]
