"""What nginx in front of the app really does, without nginx: the scope and the headers it
hands the server, and what the visitor's browser then keeps.

Found by running the example sites behind nginx 1.22 with headless Chromium (probe-B):

- TLS terminated at nginx with nothing but `proxy_pass` (nginx sends no
  `X-Forwarded-Proto` unless told to): the app sees http. A refused partitioned (CHIPS)
  cookie, the kind analytics tags set from script with `Secure; Partitioned`, then
  survives withdrawal, even with the two remedies docs/deploying.md gives for an
  https-only site (`secure=True`, the cookie named `__Host-consent`).
- nginx reads the upstream's response header into `proxy_buffer_size`, one memory page
  (4 KB) by default, and answers 502 "upstream sent too big header" beyond it. The
  expiries the middleware adds to a page may take up to 3 KB (over https two per cookie,
  the Partitioned one too), whatever the app's own headers take: with an app's own CSP
  and HSTS (1.2 KB), a returning visitor who carries 14 refused cookies (after a new
  `policy_version`) gets nginx's 502 page instead of the site's; Chromium got out of it
  only because the 404 of its favicon request, which has no CSP, carried the expiries.
- An app under a prefix (uvicorn `--root-path /app` behind `location /app/ { proxy_pass
  http://app/; }`) whose shop page sets `_fbp` at `root_path + "/shop/"`: `check-config
  --probe /shop/item` advises `CookieRule('marketing', path='/shop/')`, but the browser
  keeps the cookie at `/app/shop/`; with the advice followed, a worker that did not see the
  app set it (another worker, or after a restart) expires it at `/shop/`, where it is not.
- nginx `proxy_cache` in front: one request with `HX-Request: true` (or `Turbo-Frame`,
  `X-Up-Target`, `X-Requested-With: XMLHttpRequest`), which anyone can send, gets the page
  without the banner, with the app's own caching and `Vary: Cookie` alone. nginx stores it
  and serves it to every undecided visitor: no banner, and "Cookie settings" does nothing.
- nginx `proxy_cache` honours an app's `X-Accel-Expires` before `Cache-Control`: the
  banner page of an undecided visitor, made `private` by the middleware, is stored all the
  same and handed to the next visitors, with its page token; two people who then choose
  get one consent id, and the records show one subject who accepted and then refused.
- nginx `X-Accel-Redirect`: the app checks access and names an internal file, nginx sends
  that file instead of the app's body, which the middleware never sees: no banner, and
  `gate_scripts` cannot hold its analytics tag back (it ran in Chromium). The middleware
  logs it once; docs/deploying.md says to serve HTML from the app.
- Two apps on one host under two prefixes, each with its own key, share the consent
  cookie at `Path=/` and expire each other's as forged: a deployment to configure
  (docs/deploying.md), not tested here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from consent_middleware import ConsentConfig, ConsentMiddleware, CookieRule
from consent_middleware.cli import main

from .raw import http_scope, run_asgi
from .servers import free_port, raw_get, running, server_command

RULES = {"session": "authentication", "_ga*": "analytics", "_fbp": "marketing"}
PAGE = "<!doctype html><html><head><title>Shop</title></head><body><p>Hi</p></body></html>"


def _page(request: Request) -> HTMLResponse:
    return HTMLResponse(PAGE)


def _app(**options: Any) -> ConsentMiddleware:
    config = ConsentConfig(
        secret_key="proxy-probe-secret-0123456789abcdef", cookies=RULES, **options
    )
    return ConsentMiddleware(Starlette(routes=[Route("/", _page)]), config=config)


#: A site's own security headers, as a site with a few third-party tags sends them.
CSP = "default-src 'self'; script-src 'self' " + " ".join(
    f"https://cdn{i}.example.com" for i in range(40)
)
HSTS = "max-age=63072000; includeSubDomains; preload"
NGINX_DEFAULT_PROXY_BUFFER_SIZE = 4096  # one memory page on x86-64 and arm64 Linux


def _secured_page(request: Request) -> HTMLResponse:
    headers = {"content-security-policy": CSP, "strict-transport-security": HSTS}
    return HTMLResponse(PAGE, headers=headers)


#: The app of `test_a_returning_visitors_page_fits_nginx_default_header_buffer`, under uvicorn.
secured_site = ConsentMiddleware(
    Starlette(routes=[Route("/", _secured_page)]),
    config=ConsentConfig(
        secret_key="proxy-probe-secret-0123456789abcdef", cookies=RULES, policy_version="2"
    ),
)


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
    Over https the same answer carries the Partitioned deletion; so it must on a site
    declared https-only. (With the defaults, the app cannot tell: docs/deploying.md says
    to forward `X-Forwarded-Proto`.)"""
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


@pytest.mark.server
def test_a_returning_visitors_page_fits_nginx_default_header_buffer(tmp_path: Path) -> None:
    """nginx `proxy_pass` to uvicorn (which trusts 127.0.0.1's X-Forwarded-Proto by
    default), TLS at nginx. The visitor accepted under the previous policy and still
    carries its analytics and marketing cookies: GA4's `_ga` and one `_ga_<id>` per
    property, `_fbp`. Seen through nginx 1.22 in Chromium: 502 Bad Gateway for the page
    (nginx: "upstream sent too big header"), with 14 of them; 200 with 12."""
    port = free_port()
    command = server_command("uvicorn", "tests.test_proxy_deployments:secured_site", port)
    carried = ["_ga=GA1.1.1.1", "_fbp=fb.1.2.3"]
    carried += [f"_ga_{i:08X}=GS1.1.1700000000.1.1.1700000000.0.0.0" for i in range(12)]
    with running(command, port, tmp_path / "uvicorn.log") as site:
        page = raw_get(
            site.port,
            "/",
            {
                "X-Forwarded-Proto": "https",
                "X-Forwarded-For": "203.0.113.9",
                "Cookie": "; ".join(carried),
            },
        )
    assert page.status == 200
    assert any(v.startswith(b"_ga=;") for v in page.values(b"set-cookie"))
    head = len(b"HTTP/1.1 200 OK\r\n") + sum(len(n) + 2 + len(v) + 2 for n, v in page.headers) + 2
    assert head <= NGINX_DEFAULT_PROXY_BUFFER_SIZE, f"{head} bytes of response header"


def _shop_item(request: Request) -> HTMLResponse:
    """A prefix-aware shop page: its cookie lives below the app's own prefix."""
    response = HTMLResponse(PAGE)
    response.set_cookie("_fbp", "fb.1.2.3", path=request.scope.get("root_path", "") + "/shop/")
    return response


def _shop(config: ConsentConfig) -> ConsentMiddleware:
    return ConsentMiddleware(
        Starlette(routes=[Route("/", _page), Route("/shop/item", _shop_item)]), config=config
    )


#: The shop before its rules name the places: what `check-config --probe` is run on.
shop_site = _shop(ConsentConfig(secret_key="proxy-probe-secret-0123456789abcdef", cookies=RULES))


def test_under_a_prefix_check_config_advice_expires_the_cookie_where_the_browser_keeps_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """docs/deploying.md, several workers: "name non-root places in the rule ... (
    `consent-middleware check-config module:app --probe /path` finds the ones that are
    missing)". Seen in Chromium through nginx, with the rule advised by a probe that knew
    no prefix (`path='/shop/'`): Accept, the shop page (`_fbp` at Path=/app/shop/), uvicorn
    restarted, Reject on the preferences page: `_fbp` is still in the jar at /app/shop/.
    With `--root-path /app`, the probe asks as the browser does, and its advice holds."""
    target = "tests.test_proxy_deployments:shop_site"
    assert main(["check-config", target, "--root-path", "/app", "--probe", "/shop/item"])
    advice = capsys.readouterr().out
    assert "GET /app/shop/item sets '_fbp' at Path=/app/shop/" in advice
    assert "use CookieRule('marketing', path='/app/shop/')" in advice
    advised = ConsentConfig(
        secret_key="proxy-probe-secret-0123456789abcdef",
        cookies={**RULES, "_fbp": CookieRule("marketing", path="/app/shop/")},
    )
    # A fresh worker: it never saw the shop page set `_fbp`. The scope is uvicorn's with
    # --root-path /app for what nginx forwarded without the prefix.
    worker = _shop(advised)
    body = b"action=reject_all"
    scope = _behind_nginx_without_forwarded_proto("/app/consent", "_fbp=fb.1.2.3", body)
    scope["root_path"] = "/app"
    scope["raw_path"] = b"/consent"
    answer = run_asgi(worker, scope, body)
    assert answer[0]["status"] == 303
    expiries = [
        v.decode("latin-1")
        for k, v in answer[0]["headers"]
        if k == b"set-cookie" and v.startswith(b"_fbp=;")
    ]
    assert any("; Path=/app/shop/" in e for e in expiries), expiries


def _public_page(request: Request) -> HTMLResponse:
    return HTMLResponse(PAGE, headers={"cache-control": "public, max-age=300"})


#: A page the app lets shared caches keep for 5 minutes, as many marketing sites do.
public_site = ConsentMiddleware(
    Starlette(routes=[Route("/", _public_page)]),
    config=ConsentConfig(secret_key="proxy-probe-secret-0123456789abcdef", cookies=RULES),
)


def _shared_cache_serves_it_without(headers: list[tuple[bytes, bytes]], header: str) -> bool:
    """Whether a shared cache that honours Cache-Control and Vary (nginx's proxy_cache)
    may store this response and hand it to a request that lacks `header`."""

    def values(name: bytes) -> list[str]:
        return [v.decode("latin-1").lower() for k, v in headers if k.lower() == name]

    directives = {d.strip().split("=")[0] for v in values(b"cache-control") for d in v.split(",")}
    if directives & {"private", "no-store", "no-cache"}:
        return False
    varied = {f.strip() for v in values(b"vary") for f in v.split(",")}
    return not ({"*", header.lower()} & varied)


#: One request header of each kind that makes a request a fragment (no banner).
FRAGMENT_REQUESTS = [
    ("HX-Request", "true"),
    ("Turbo-Frame", "main"),
    ("X-Up-Target", "main"),
    ("X-Requested-With", "XMLHttpRequest"),
]


@pytest.mark.parametrize(("header", "value"), FRAGMENT_REQUESTS)
def test_a_fragment_request_cannot_put_a_bannerless_page_in_a_shared_cache(
    header: str, value: str
) -> None:
    """Seen through nginx (`proxy_cache`): `curl -H 'HX-Request: true' https://site/`
    once, then a new visitor in Chromium gets `X-Cache: HIT`, no `#consent-banner` in the
    page, and a "Cookie settings" button that opens nothing (banner.js is not on the page
    either), for as long as the app lets the page be cached, and again after each such
    request."""
    scope = http_scope("/")
    scope["headers"].append((header.lower().encode(), value.encode()))
    fragment = run_asgi(public_site, scope)
    body = b"".join(m.get("body", b"") for m in fragment if m["type"] == "http.response.body")
    assert b'id="consent-banner"' not in body  # a fragment: rightly no banner
    assert not _shared_cache_serves_it_without(fragment[0]["headers"], header), fragment[0][
        "headers"
    ]


@pytest.mark.parametrize(("header", "value"), FRAGMENT_REQUESTS)
def test_a_page_with_the_banner_is_not_handed_to_a_fragment_request(
    header: str, value: str
) -> None:
    """The reverse: a cached whole page, banner included, answering an htmx request would
    be swapped into a page that has its banner already (two on screen, two sets of forms).
    The page names the fragment headers in its Vary too."""
    page = run_asgi(public_site, http_scope("/"))
    body = b"".join(m.get("body", b"") for m in page if m["type"] == "http.response.body")
    assert b'id="consent-banner"' in body
    assert not _shared_cache_serves_it_without(page[0]["headers"], header), page[0]["headers"]


def _page_with(header: str, value: str) -> ConsentMiddleware:
    def page(request: Request) -> HTMLResponse:
        return HTMLResponse(PAGE, headers={header: value})

    config = ConsentConfig(secret_key="proxy-probe-secret-0123456789abcdef", cookies=RULES)
    return ConsentMiddleware(Starlette(routes=[Route("/", page)]), config=config)


@pytest.mark.parametrize(
    ("header", "value"),
    [
        # nginx: "has higher priority than" Cache-Control (reproduced, nginx 1.22).
        ("X-Accel-Expires", "600"),
        # RFC 9213: a CDN that reads it ignores Cache-Control (Cloudflare, Akamai).
        ("CDN-Cache-Control", "public, max-age=600"),
        # Fastly, Varnish, Akamai: used instead of Cache-Control, and removed.
        ("Surrogate-Control", "max-age=600"),
    ],
)
def test_a_banner_page_for_an_undecided_visitor_stays_out_of_a_shared_cache(
    header: str, value: str
) -> None:
    """docs/deploying.md: a page with the banner for a visitor without a consent id gets
    `Cache-Control: private`, so that no shared cache gives its token to another. Seen
    through nginx with the app sending `X-Accel-Expires: 600`: `X-Cache: HIT` for the next
    visitor, the same `t=` token in both pages; both post their choice (Accept, Reject)
    and get cookies with one consent id, and the records hold accept_all and reject_all
    under that one id."""
    page = run_asgi(_page_with(header, value), http_scope("/"))
    start = page[0]
    body = b"".join(m.get("body", b"") for m in page if m["type"] == "http.response.body")
    assert b'id="consent-banner"' in body and b"/consent?t=" in body
    headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    assert "private" in headers["cache-control"]
    # The cache-specific field that outranks Cache-Control at that cache would still let
    # it store the page: it must go (or say the same as `private`).
    assert header.lower() not in headers or headers[header.lower()].strip() in ("0", "no-store")


REPORT = (
    b"<!doctype html><html><head><title>Report</title>"
    b'<script data-consent-category="analytics">window.ran = true</script>'
    b"</head><body><p>Members-only report.</p></body></html>"
)
#: The files behind nginx's `location /protected/ { internal; root ...; }`.
NGINX_FILES = {"/protected/report.html": REPORT}


def _nginx_serves(start: dict[str, Any], body: bytes) -> bytes:
    """What nginx sends the browser for an upstream answer: the internal file that
    `X-Accel-Redirect` names instead of the body, when the header reaches it."""
    for name, value in start["headers"]:
        if name.lower() == b"x-accel-redirect":
            return NGINX_FILES[value.decode("latin-1")]
    return body


def test_a_page_nginx_sends_for_x_accel_redirect_is_named_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Seen through nginx in Chromium, undecided visitor, `gate_scripts=True`: no
    `#consent-banner` on /report, and `window.ran === true`. The middleware cannot reach a
    body that nginx takes from a file (docs/deploying.md says to serve HTML from the app);
    it says so in the log, once, rather than leave it to be found in a browser."""

    def report(request: Request) -> Response:
        headers = {"x-accel-redirect": "/protected/report.html"}
        return Response(b"", media_type="text/html", headers=headers)

    config = ConsentConfig(
        secret_key="proxy-probe-secret-0123456789abcdef", cookies=RULES, gate_scripts=True
    )
    app = ConsentMiddleware(Starlette(routes=[Route("/report", report)]), config=config)
    with caplog.at_level("WARNING", logger="consent_middleware"):
        for _ in range(3):
            sent = run_asgi(app, http_scope("/report"))
    served = _nginx_serves(sent[0], b"")
    assert served == REPORT  # what the visitor gets: the file, as it is
    warnings = [r.getMessage() for r in caplog.records if "from a file" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert "'x-accel-redirect'" in warnings[0] and "docs/deploying.md" in warnings[0]
