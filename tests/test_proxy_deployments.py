"""What nginx in front of the app really does, without nginx: the scope and the headers it
hands the server, and what the visitor's browser then keeps.

Found by running the example sites behind nginx 1.22 with headless Chromium (probe-B):

- TLS terminated at nginx with nothing but `proxy_pass` (nginx sends no
  `X-Forwarded-Proto` unless told to): the app sees http. A refused partitioned (CHIPS)
  cookie, the kind analytics tags set from script with `Secure; Partitioned`, then
  survives withdrawal, even with the two remedies docs/deploying.md gives for an
  https-only site (`secure=True`, the cookie named `__Host-consent`).
- Two apps on one host under two prefixes (two nginx locations, or two mounted
  sub-applications), each with its own consent middleware and its own key: the consent
  cookie of one is at `Path=/`, so the other reads it as forged and expires it, and the
  visitor's choice on the first app is lost each time they visit the second.
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from consent_middleware import ConsentConfig, ConsentMiddleware

from .raw import http_scope, run_asgi

RULES = {"session": "authentication", "_ga*": "analytics", "_fbp": "marketing"}
PAGE = "<!doctype html><html><head><title>Shop</title></head><body><p>Hi</p></body></html>"


def _page(request: Request) -> HTMLResponse:
    return HTMLResponse(PAGE)


def _app(**options: Any) -> ConsentMiddleware:
    config = ConsentConfig(
        secret_key="proxy-probe-secret-0123456789abcdef", cookies=RULES, **options
    )
    return ConsentMiddleware(Starlette(routes=[Route("/", _page)]), config=config)


def _behind_nginx_without_forwarded_proto(path: str, cookie: str, body: bytes) -> dict[str, Any]:
    """The scope uvicorn builds for a form post that nginx forwarded from an https page
    with `proxy_pass` alone: scheme http, Host kept by `proxy_set_header Host $host`,
    Chromium's own headers passed on, no X-Forwarded-Proto."""
    scope = http_scope(path, cookie=cookie, method="POST")
    scope["http_version"] = "1.0"  # nginx's default proxy_http_version
    scope["headers"] = [
        (b"host", b"www.example.com"),
        (b"connection", b"close"),
        (b"content-length", str(len(body)).encode()),
        (b"content-type", b"application/x-www-form-urlencoded"),
        (b"origin", b"https://www.example.com"),
        (b"sec-fetch-site", b"same-origin"),
        (b"sec-fetch-mode", b"navigate"),
        (b"cookie", cookie.encode()),
    ]
    return scope


def _expires_partitioned(set_cookies: list[str], name: str) -> bool:
    """Whether Chromium would expire the partitioned cookie `name` (set from script with
    `Secure; Partitioned; path=/`) on these Set-Cookie headers: only a deletion that is
    itself `Secure; Partitioned`, at that path, reaches it."""
    for value in set_cookies:
        parts = [p.strip() for p in value.split(";")]
        attributes = {p.split("=", 1)[0].lower(): p.partition("=")[2] for p in parts[1:]}
        if (
            parts[0] == f"{name}="
            and attributes.get("max-age") == "0"
            and attributes.get("path") == "/"
            and "secure" in attributes
            and "partitioned" in attributes
        ):
            return True
    return False


@pytest.mark.parametrize(
    "options",
    [{"secure": True}, {"cookie_name": "__Host-consent"}],
    ids=["secure-true", "host-prefixed-consent-cookie"],
)
def test_withdrawal_behind_tls_nginx_expires_a_partitioned_analytics_cookie(
    options: dict[str, Any],
) -> None:
    """docs/deploying.md: "Or set `secure=True` on an https-only site, and name the cookie
    `__Host-consent`". Chromium, on https://…, holds `_ga_p` (set by the analytics tag
    from script, `Secure; Partitioned`) and withdraws on the preferences page; nginx
    forwards the post as http. Seen in Chromium: `_ga_p` stays in the jar, and stays
    readable by every script of the site, after the withdrawal and on every page after it.
    Over https the same answer carries the Partitioned deletion; here it carries none."""
    app = _app(**options)
    body = b"action=reject_all"
    cookie = "_ga_p=GA1.1.123.456; _ga=GA1.1.42"
    sent = run_asgi(app, _behind_nginx_without_forwarded_proto("/consent", cookie, body), body)
    start = sent[0]
    assert start["status"] == 303
    set_cookies = [v.decode("latin-1") for k, v in start["headers"] if k == b"set-cookie"]
    assert _expires_partitioned(set_cookies, "_ga_p"), set_cookies


def test_withdrawal_behind_tls_nginx_expires_a_partitioned_cookie_the_app_set() -> None:
    """The app itself sets `_fbp` partitioned (`Secure; Partitioned`) through the
    middleware, which therefore knows the browser is on https (a browser stores a Secure
    cookie from a secure page only). Withdrawn later through the same nginx, the answer
    must expire it where it lives: with a Partitioned deletion."""

    def page(request: Request) -> HTMLResponse:
        response = HTMLResponse(PAGE)
        response.headers.append("set-cookie", "_fbp=fb.1.2.3; Path=/; Secure; Partitioned")
        return response

    config = ConsentConfig(
        secret_key="proxy-probe-secret-0123456789abcdef", cookies=RULES, secure=True
    )
    app = ConsentMiddleware(Starlette(routes=[Route("/", page)]), config=config)
    body = b"action=accept_all"
    accepted = run_asgi(app, _behind_nginx_without_forwarded_proto("/consent", "", body), body)
    consent = next(
        v.decode().split(";")[0]
        for k, v in accepted[0]["headers"]
        if k == b"set-cookie" and v.startswith(b"consent=")
    )
    page_scope = http_scope("/", cookie=consent)
    shown = run_asgi(app, page_scope)
    assert any(v.startswith(b"_fbp=fb.1.2.3") for k, v in shown[0]["headers"] if k == b"set-cookie")
    body = b"action=reject_all"
    scope = _behind_nginx_without_forwarded_proto("/consent", f"{consent}; _fbp=fb.1.2.3", body)
    withdrawn = run_asgi(app, scope, body)
    set_cookies = [v.decode("latin-1") for k, v in withdrawn[0]["headers"] if k == b"set-cookie"]
    assert _expires_partitioned(set_cookies, "_fbp"), set_cookies


def test_two_apps_under_two_prefixes_keep_their_own_choices() -> None:
    """nginx: `location /a/ { proxy_pass http://app-a/; }` and `location /b/ { ... app-b }`
    (or two mounted sub-applications), each app with the consent middleware and its own
    secret key. Seen in Chromium: Accept all on /a/, then one visit to /b/, then /a/
    again: the banner is back on /a/ and `consent`, `_ga`, `_fbp` are gone from the jar;
    deciding on /b/ then undoes the choice on /a/, and so on, for ever."""
    first = ConsentConfig(secret_key="first-app-secret-0123456789abcdef", cookies=RULES)
    second = ConsentConfig(secret_key="second-app-secret-0123456789abcdef", cookies=RULES)
    site = Starlette(
        routes=[
            Mount("/a", app=ConsentMiddleware(Starlette(routes=[Route("/", _page)]), config=first)),
            Mount(
                "/b", app=ConsentMiddleware(Starlette(routes=[Route("/", _page)]), config=second)
            ),
        ]
    )
    choose = {"Sec-Fetch-Site": "same-origin"}
    with TestClient(site, follow_redirects=False) as browser:
        chosen = browser.post("/a/consent", data={"action": "accept_all"}, headers=choose)
        assert chosen.status_code == 303
        assert browser.get("/a/consent").json()["decided"] is True
        browser.get("/b/")  # one look at the other app
        assert browser.get("/a/consent").json()["decided"] is True, "the choice on /a/ is lost"
        browser.post("/b/consent", data={"action": "reject_all"}, headers=choose)
        assert browser.get("/b/consent").json()["decided"] is True
        assert browser.get("/a/consent").json()["decided"] is True, "deciding on /b/ undid /a/"
