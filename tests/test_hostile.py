"""Hostile input (issue 11, part 3), each with the answer that docs/security.md writes down.

Every test runs over ASGI and over WSGI (the `adapter` fixture). Most requests go straight
into the middleware as raw ASGI or WSGI calls (tests/raw.py), because an HTTP client
refuses to send much of this: CR/LF in a header, bytes beyond ASCII, a method that is no
method, a body in a thousand pieces. A few go through real servers over a raw socket.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urljoin, urlsplit

import pytest

from consent_middleware import Category, ConsentConfig, ConsentMiddleware, ConsentWSGIMiddleware
from consent_middleware.config import CookieRule
from consent_middleware.cookies import deletion_time, parse_cookie_header
from consent_middleware.i18n import TEXT_KEYS

from .conftest import SECRET, AppSpec, make_config, raw_asgi_app, raw_wsgi_app
from .raw import RawAnswer, asgi_request, wsgi_request
from .servers import free_port, running, server_command, serving

FORM = (b"content-type", b"application/x-www-form-urlencoded")
JSON = (b"content-type", b"application/json")
TEXT = (b"content-type", b"text/plain")


class Raw:
    """The test app behind one adapter, called directly."""

    def __init__(self, kind: str, spec: AppSpec, config: ConsentConfig) -> None:
        self.kind = kind
        self.spec = spec
        self.config = config
        if kind == "asgi":
            self.app: Any = ConsentMiddleware(raw_asgi_app(spec), config=config)
        else:
            self.app = ConsentWSGIMiddleware(raw_wsgi_app(spec), config=config)

    def __call__(
        self,
        method: str = "GET",
        path: str = "/",
        *,
        headers: list[tuple[bytes, bytes]] | None = None,
        body: bytes = b"",
        query: bytes = b"",
        root: str = "",
        cookie: str | bytes | None = None,
    ) -> RawAnswer:
        sent = list(headers or [])
        if cookie is not None:
            sent.append((b"cookie", cookie if isinstance(cookie, bytes) else cookie.encode()))
        if body and not any(n == b"content-length" for n, _ in sent):
            sent.append((b"content-length", str(len(body)).encode()))
        if self.kind == "asgi":
            answer, _ = asgi_request(
                self.app, method, path, headers=sent, body=body, query=query, root=root
            )
            return answer
        return wsgi_request(
            self.app,
            method,
            path,
            headers=[h for h in sent if h[0] != b"content-length"],
            body=body,
            query=query,
            root=root,
        )

    def consent_cookie(self, action: str, **extra: Any) -> str:
        """`consent=<value>` for a choice made through the real endpoint."""
        answer = self(
            "POST",
            "/consent",
            headers=[JSON],
            body=json.dumps({"action": action, **extra}).encode(),
        )
        assert answer.status == 200, answer.body
        (value,) = [v for v in answer.set_cookies() if v.startswith("consent=")]
        return value.split(";", 1)[0]

    def state(self, cookie: str | None) -> dict[str, Any]:
        answer = self("GET", "/consent", cookie=cookie)
        assert answer.status == 200
        state: dict[str, Any] = json.loads(answer.body)
        return state


@pytest.fixture
def make_raw(adapter: str) -> Callable[..., Raw]:
    def build(spec: AppSpec | None = None, **config: Any) -> Raw:
        return Raw(adapter, spec or AppSpec(), make_config(**config))

    return build


@pytest.fixture
def raw(make_raw: Callable[..., Raw]) -> Raw:
    return make_raw()


def no_line_breaks(answer: RawAnswer) -> None:
    """Nothing the server writes could become a second header line."""
    for name, value in answer.headers:
        assert not set(b"\r\n\x00") & set(name + value), (name, value)


# -- same-site redirects -----------------------------------------------------------------

#: Values that try to send the visitor elsewhere, or to break out of an attribute.
OFF_SITE = [
    "//evil.example/x",
    "/\\evil.example",
    "\\/evil.example",
    "\\\\evil.example",
    "/%2F%2Fevil.example",
    "/%5Cevil.example",
    "///evil.example",
    "/.//evil.example",
    "https://evil.example/",
    "HTTPS:evil.example",
    "javascript:alert(1)",
    " javascript:alert(1)",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "\t//evil.example",
    "/\x00/evil.example",
    "/\uff0fevil.example",  # fullwidth solidus
    "/\u2215evil.example",  # division slash
    "/\u3002evil.example",  # ideographic full stop
    "//evil.example@testserver/",
    "/" + "a" * 3000,  # longer than any return path kept, shorter than the body limit
    '/"><script>window.__pwned=1</script>',
    "/'onmouseover='alert(1)",
    "/<img src=x onerror=alert(1)>",
    "",
]


def short(value: object) -> str:
    return repr(value)[:48]


def assert_same_site(location: str, root: str = "") -> None:
    """A URL that a browser can only resolve to this site, and that needs no escaping in
    HTML or in a header: an absolute path in printable ASCII under the mount prefix."""
    assert location.isascii() and location.isprintable(), location
    assert not set(location) & set(' "<>\\`'), location
    assert location.startswith((root or "") + "/"), location
    assert not location.startswith(("//", "/\\")), location
    resolved = urlsplit(urljoin("http://testserver/a/b", location))
    assert (resolved.scheme, resolved.netloc) == ("http", "testserver"), location
    assert len(location) <= 8000


def post_form(raw: Raw, fields: str, *headers: tuple[bytes, bytes], root: str = "") -> RawAnswer:
    return raw("POST", "/consent", headers=[FORM, *headers], body=fields.encode(), root=root)


def quoted(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


@pytest.mark.parametrize("target", OFF_SITE, ids=short)
def test_form_return_to_stays_on_the_site(raw: Raw, target: str) -> None:
    answer = post_form(raw, f"action=reject_all&return_to={quoted(target)}")
    assert answer.status == 303
    location = answer.first(b"location")
    assert location is not None
    assert_same_site(location)
    no_line_breaks(answer)


@pytest.mark.parametrize("target", OFF_SITE, ids=short)
def test_referer_fallback_stays_on_the_site(raw: Raw, target: str) -> None:
    for referer in ("http://testserver" + target, target):
        sent = referer.encode("utf-8")
        answer = post_form(raw, "action=accept_all", (b"referer", sent))
        assert answer.status == 303
        location = answer.first(b"location")
        assert location is not None
        assert_same_site(location)
        no_line_breaks(answer)


@pytest.mark.parametrize("target", OFF_SITE, ids=short)
def test_customize_redirect_stays_on_the_site(raw: Raw, target: str) -> None:
    answer = post_form(raw, f"action=customize&return_to={quoted(target)}")
    assert answer.status == 303
    assert answer.set_cookies() == []
    location = answer.first(b"location")
    assert location is not None
    assert_same_site(location)
    parts = urlsplit(location)
    assert parts.path == "/consent/preferences"
    (back,) = parse_qs(parts.query)["return_to"]
    assert_same_site(back)


class Links(HTMLParser):
    """Every URL-valued attribute of a page, and the value of its return_to fields."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self.return_to: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        for name in ("href", "src", "action"):
            if found.get(name) is not None:
                self.urls.append(str(found[name]))
        if found.get("name") == "return_to":
            self.return_to.append(str(found.get("value")))


def links(body: bytes) -> Links:
    parser = Links()
    parser.feed(body.decode("utf-8"))
    parser.close()
    return parser


@pytest.mark.parametrize("target", OFF_SITE, ids=short)
def test_preferences_page_links_stay_on_the_site(raw: Raw, target: str) -> None:
    answer = raw("GET", "/consent/preferences", query=b"return_to=" + quoted(target).encode())
    assert answer.status == 200
    found = links(answer.body)
    assert found.return_to and found.urls
    for url in found.urls + found.return_to:
        assert_same_site(url)


@pytest.mark.parametrize("target", OFF_SITE[:12], ids=short)
def test_error_page_links_stay_on_the_site(raw: Raw, target: str) -> None:
    """A refused form post answers with a page that leads back: to this site only."""
    answer = post_form(raw, "action=nope", (b"referer", ("http://testserver" + target).encode()))
    assert answer.status == 400
    for url in links(answer.body).urls:
        assert_same_site(url)


def test_redirects_keep_the_mount_prefix(raw: Raw) -> None:
    prefix = "/app"
    answer = post_form(raw, "action=customize&return_to=%2Fapp%2Fdeals", root=prefix)
    location = answer.first(b"location")
    assert location is not None and location.startswith(prefix + "/consent/preferences?")
    answer = post_form(raw, "action=accept_all", root=prefix)
    assert answer.first(b"location") == prefix + "/"
    page = raw("GET", "/consent/preferences", query=b"return_to=//evil.example", root=prefix)
    for url in links(page.body).urls + links(page.body).return_to:
        assert_same_site(url, prefix)


@pytest.mark.parametrize(
    "root", ["//evil.example", "/\\evil.example", '/a"><script>alert(1)</script>', "/a b", "/\n"]
)
def test_a_hostile_mount_prefix_counts_as_none(raw: Raw, root: str) -> None:
    """A proxy header may set root_path or SCRIPT_NAME: what no path could be is dropped."""
    page = raw("GET", "/", root=root)
    found = links(page.body)
    assert found.urls
    for url in found.urls + found.return_to:
        assert_same_site(url)


# -- markup in every text the banner and the preferences page show --------------------------

XSS = (
    "</title></textarea></script><script>window.__pwned=1</script>"
    '<img src=x onerror="window.__pwned=1">\'"` {{7*7}} &amp; \u2028'
)
HOSTILE_PRIVACY_URL = '/privacy?a="><script>window.__pwned=1</script>&b=<x>'
HOSTILE_VERSION = "</script><script>window.__pwned=1</script><!--"


def hostile_config(**extra: Any) -> dict[str, Any]:
    """Every text (config texts, category labels and descriptions, the privacy link, the
    policy version that the state JSON carries) holding markup."""
    return {
        "categories": [
            Category("authentication", label=XSS + "a", description=XSS + "b", required=True),
            Category("stats", label=XSS + "c", description=XSS + "d"),
        ],
        "cookies": {"session": "authentication", "_ga*": "stats"},
        "texts": {"en": {key: XSS + key for key in TEXT_KEYS}},
        "privacy_policy_url": HOSTILE_PRIVACY_URL,
        "policy_version": HOSTILE_VERSION,
        **extra,
    }


def benign_config(**extra: Any) -> dict[str, Any]:
    return {
        "categories": [
            Category("authentication", label="a", description="b", required=True),
            Category("stats", label="c", description="d"),
        ],
        "cookies": {"session": "authentication", "_ga*": "stats"},
        "texts": {"en": {key: "x" for key in TEXT_KEYS}},
        "privacy_policy_url": "/privacy",
        "policy_version": "v",
        **extra,
    }


class Structure(HTMLParser):
    """A page as markup: every tag with its attribute names, comments and declarations,
    and the text and attribute values apart."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.shape: list[tuple[str, ...]] = []
        self.texts: list[str] = []
        self.attributes: list[tuple[str, str, str]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.shape.append(("start", tag, *sorted(name for name, _ in attrs)))
        self.attributes += [(tag, name, value or "") for name, value in attrs]
        self._in_script = tag == "script"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        self._in_script = False

    def handle_endtag(self, tag: str) -> None:
        self.shape.append(("end", tag))
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)
        elif data.strip():
            self.texts.append(data)

    def handle_comment(self, data: str) -> None:
        self.shape.append(("comment",))

    def handle_decl(self, decl: str) -> None:
        self.shape.append(("decl", decl.lower()))

    def handle_pi(self, data: str) -> None:
        self.shape.append(("pi",))

    def unknown_decl(self, data: str) -> None:
        self.shape.append(("unknown",))


def structure(body: bytes) -> Structure:
    parser = Structure()
    parser.feed(body.decode("utf-8"))
    parser.close()
    return parser


def assert_safe_attributes(page: Structure, privacy_url: str) -> None:
    for tag, name, value in page.attributes:
        assert not name.startswith("on"), (tag, name)
        if name in ("href", "src", "action"):
            if value == privacy_url:
                continue
            assert_same_site(value)


#: (path, query) of the page the banner is on: both end up in its return_to and links.
HOSTILE_PAGES = [
    ('/"><script>window.__pwned=1</script>', b""),
    ("/deals", b'q="><script>window.__pwned=1</script>&x=<img src=x onerror=alert(1)>'),
    ("/a'b/\u00e9t\u00e9", b"x='&y=\xff\xfe"),
    ("/%2F%2Fevil.example", b"a=%22%3E%3Cscript%3E"),
    ("//evil.example", b""),
]


@pytest.mark.parametrize(("path", "query"), HOSTILE_PAGES, ids=short)
def test_the_injected_banner_adds_no_markup_of_the_visitor(
    make_raw: Callable[..., Raw], path: str, query: bytes
) -> None:
    """Render the page with hostile texts and a hostile page URL, and with plain ones:
    the markup (elements, attribute names, comments) is the same, and the texts show as
    text."""
    hostile = make_raw(**hostile_config())
    benign = make_raw(**benign_config())
    junk_language = (b"accept-language", b'"><script>alert(1)</script>;q=1, en;q=0.1')
    bad = structure(hostile("GET", path, query=query, headers=[junk_language]).body)
    good = structure(benign("GET", "/plain", headers=[junk_language]).body)
    assert bad.shape == good.shape
    assert_safe_attributes(bad, HOSTILE_PRIVACY_URL)
    shown = "\n".join(bad.texts)
    for key in ("title", "body", "privacy_link", "accept_all", "reject_all", "customize", "save"):
        assert XSS + key in shown, key
    for text in ("c", "d", "category.authentication.label"):
        assert XSS + text in shown
    (state,) = [json.loads(s) for s in bad.scripts if s.strip()]
    assert state["state"]["policy_version"] == HOSTILE_VERSION
    assert state["texts"]["saved"] == XSS + "saved"
    (lang,) = {value for _, name, value in bad.attributes if name == "lang"}
    assert lang == "en"
    # The page's own URL, escaped for the form and encoded for the link, and whole.
    returns = [value for _, name, value in bad.attributes if name == "value" and value[:1] == "/"]
    assert returns, bad.attributes
    for value in returns:
        assert_same_site(value)
    if hostile.kind == "asgi" and "%" not in path and not path.startswith("//") and query.isascii():
        wanted = path + ("?" + query.decode() if query else "")
        assert unquote(returns[0]) == wanted


@pytest.mark.parametrize("choice", [None, "reject_all", "accept_all"])
def test_the_preferences_and_error_pages_add_no_markup(
    make_raw: Callable[..., Raw], choice: str | None
) -> None:
    """Also for a visitor who decided: the consent id and the time of the choice show."""
    hostile = make_raw(**hostile_config())
    benign = make_raw(**benign_config())
    query = b"return_to=" + quoted('/"><script>window.__pwned=1</script>').encode()
    bad_cookie = hostile.consent_cookie(choice) if choice else None
    good_cookie = benign.consent_cookie(choice) if choice else None
    page = hostile("GET", "/consent/preferences", query=query, cookie=bad_cookie)
    bad = structure(page.body)
    good = structure(
        benign("GET", "/consent/preferences", query=b"return_to=/x", cookie=good_cookie).body
    )
    assert bad.shape == good.shape
    if choice:
        state = hostile.state(bad_cookie)
        assert state["consent_id"] in "\n".join(bad.texts)
        # The banner on a page of a decided visitor: hidden, and just as inert.
        assert (
            structure(hostile("GET", "/x", cookie=bad_cookie).body).shape
            == structure(benign("GET", "/x", cookie=good_cookie).body).shape
        )
    assert_safe_attributes(bad, HOSTILE_PRIVACY_URL)
    assert XSS + "preferences_title" in "\n".join(bad.texts)
    referer = (b"referer", b'http://testserver/"><script>window.__pwned=1</script>')
    bad = structure(post_form(hostile, "action=nope", referer).body)
    good = structure(post_form(benign, "action=nope").body)
    assert bad.shape == good.shape
    assert_safe_attributes(bad, HOSTILE_PRIVACY_URL)


@pytest.mark.parametrize("length", [2001, 10_000, 100_000])
def test_a_very_long_page_url_returns_to_the_root(raw: Raw, length: int) -> None:
    path = "/" + "a" * (length - 1)
    page = structure(raw("GET", path, query=b"q=" + b"b" * length).body)
    returns = [value for _, name, value in page.attributes if name == "value" and value[:1] == "/"]
    assert returns == ["/"]
    links = [value for _, name, value in page.attributes if name == "href"]
    assert "/consent/preferences?return_to=/" in links


@pytest.mark.parametrize(
    ("csp", "nonce"),
    [
        ("script-src 'nonce-\"><script>alert(1)</script>'", None),
        ("script-src 'nonce-abc\" onload=\"alert(1)'", None),
        ("script-src 'nonce-'", None),
        ("script-src 'nonce-" + "a" * 10000 + "'", None),
        ("script-src 'nonce-r4nd0m+/=='", "r4nd0m+/=="),
    ],
    ids=["markup", "attribute", "empty", "huge", "valid"],
)
def test_a_csp_nonce_is_copied_only_when_it_is_one(
    make_raw: Callable[..., Raw], csp: str, nonce: str | None
) -> None:
    site = make_raw(AppSpec(extra_headers=[("content-security-policy", csp)]))
    page = structure(site("GET", "/").body)
    nonces = {value for _, name, value in page.attributes if name == "nonce"}
    assert nonces == (set() if nonce is None else {nonce})
    assert_safe_attributes(page, "")


@pytest.mark.parametrize(
    "header",
    [
        b"",
        b"*",
        b'"><script>alert(1)</script>',
        b"en;q=abc, uk;q=nan, de;q=inf, fr;q=-1",
        b"\xff\xfe\x00\x01",
        b"uk-UA\x00en",
        b"x-" * 40000,
        b",".join(b"l%d;q=0.%d" % (i, i % 10) for i in range(5000)),
    ],
    ids=["empty", "star", "markup", "bad-q", "bytes", "nul", "huge", "many"],
)
def test_accept_language_junk_picks_a_configured_language(raw: Raw, header: bytes) -> None:
    for path in ("/", "/consent/preferences"):
        started = time.monotonic()
        answer = raw("GET", path, headers=[(b"accept-language", header)])
        assert time.monotonic() - started < 2
        assert answer.status == 200
        page = structure(answer.body)
        languages = {value for _, name, value in page.attributes if name == "lang"}
        assert languages <= set(raw.config.enabled_languages), languages
        assert_safe_attributes(page, "")


# -- CR, LF and bytes beyond latin-1 -----------------------------------------------------------


def refused_names(config: ConsentConfig, header: str) -> list[str]:
    """The cookies of a Cookie header that an undecided visitor may not keep: every one
    that a rule puts in an optional category."""
    names = []
    for name, _ in parse_cookie_header(header):
        rule = config.rules.match(name)
        if rule is not None and rule.category in config.optional_categories and name not in names:
            names.append(name)
    return names


ODD_COOKIE_HEADERS = [
    b"_ga=1\r\nSet-Cookie: _fbp=1",
    b"_ga=1\nX-Evil: 1; session=s",
    b"_ga\r\n=1; _fbp=2",
    b"_g\x00a=1; _fbp\x00=2; lang=\x00",
    b"_ga=\xff\xfe\xfd; _fbp=\xc3\xa9; session=\xe2\x80\x8b",
    b"\xff=1; _ga\xa0=2; _fbp\x85=3",
    b"consent=\xff\r\n; _ga=1",
    b";;;;=;=;==;_ga",
]


@pytest.mark.parametrize("cookie", ODD_COOKIE_HEADERS, ids=short)
def test_odd_bytes_in_the_cookie_header(raw: Raw, cookie: bytes) -> None:
    """No 500, no header that could split, and refused cookies neither reach the app nor
    stay unexpired; the app gets the rest as the browser sent it."""
    answer = raw("GET", "/", cookie=cookie)
    assert answer.status == 200
    no_line_breaks(answer)
    for value in answer.set_cookies():
        assert deletion_time(value.partition(";")[2]) == float("-inf"), value
    text = cookie.decode("latin-1")
    refused = refused_names(raw.config, text)
    seen = [name for name, _ in parse_cookie_header(raw.spec.seen[-1]["cookie"])]
    assert not set(refused) & set(seen)
    expired = {value.split("=", 1)[0] for value in answer.set_cookies()}
    for name in refused:
        if name.isprintable():
            assert name in expired, name
    api = raw("GET", "/consent", cookie=cookie)
    assert api.status == 200 and json.loads(api.body)["decided"] is False


@pytest.mark.parametrize(
    "header",
    [
        (b"origin", b"http://testserver\r\nX-Evil: 1"),
        (b"referer", b"http://testserver/\r\nLocation: //evil.example"),
        (b"host", b"testserver\r\n"),
        (b"content-type", b"application/json\r\n\xff"),
        (b"sec-fetch-site", b"same-origin\x00cross-site"),
        (b"accept-language", b"uk\r\nSet-Cookie: _fbp=1"),
        (b"x-requested-with", b"\xffXMLHttpRequest"),
        (b"hx-request", b"\r\n"),
        (b"sec-gpc", b"1\r\n"),
        (b"user-agent", "Mozilla/5.0 \u0444".encode()),
    ],
    ids=lambda h: h[0].decode() if isinstance(h, tuple) else repr(h),
)
def test_odd_bytes_in_other_request_headers(raw: Raw, header: tuple[bytes, bytes]) -> None:
    for method, path, body in (
        ("GET", "/", b""),
        ("GET", "/consent/preferences", b""),
        ("POST", "/consent", b"action=accept_all"),
        ("POST", "/consent", b'{"action": "accept_all"}'),
        ("DELETE", "/consent", b""),
    ):
        kind = JSON if body.startswith(b"{") else FORM
        answer = raw(method, path, headers=[kind, header], body=body)
        assert answer.status < 500, (method, path)
        no_line_breaks(answer)
        if answer.status not in (200, 303):
            assert answer.set_cookies() == []


SPLITTING = [
    "session=1\r\nSet-Cookie: _fbp=1",
    "session=1\nSet-Cookie: _fbp=1",
    "session=1\rSet-Cookie: _fbp=1",
    "_ga=1; Path=/\r\n",
    "lang=\n",
    "session=\r",
]


@pytest.mark.parametrize("value", SPLITTING, ids=short)
@pytest.mark.parametrize("choice", [None, "accept_all"])
def test_a_set_cookie_a_server_would_split_never_leaves(
    make_raw: Callable[..., Raw], value: str, choice: str | None
) -> None:
    """Whatever the consent: a Set-Cookie with a line break could put a second header on
    the wire, so it is dropped, granted category or not."""
    site = make_raw(AppSpec(set_cookies=[value, "session=ok"]))
    cookie = site.consent_cookie(choice) if choice else None
    answer = site("GET", "/", cookie=cookie)
    no_line_breaks(answer)
    assert answer.set_cookies() == ["session=ok"]


@pytest.mark.parametrize(
    "header",
    [("X-Note", "a\r\nSet-Cookie: _fbp=1"), ("X-Note", "a\rb"), ("X-Note\r\nSet-Cookie", "_fbp=1")],
    ids=["crlf-value", "cr-value", "crlf-name"],
)
def test_other_app_headers_that_a_server_would_split_never_leave(
    make_raw: Callable[..., Raw], header: tuple[str, str]
) -> None:
    site = make_raw(AppSpec(extra_headers=[header]))
    answer = site("GET", "/")
    no_line_breaks(answer)
    assert answer.status == 200 and answer.set_cookies() == []


@pytest.mark.parametrize(
    "options",
    [
        {"cookie_name": "consent\r"},
        {"cookie_name": "con\nsent"},
        {"cookie_name": "consent\r\n"},
        {"cookie_name": "c\u00f6nsent"},
        {"cookie_name": "consent\u2028"},
        {"cookie_domain": ".example.com\r\nX: 1"},
        {"cookie_domain": ".ex\u00e4mple.com"},
        {"path_prefix": "/con\nsent"},
        {"path_prefix": "/consent\r"},
        {"policy_version": "v1\r\nX: 1"},
        {"policy_version": "v\u00e91"},
        {"privacy_policy_url": "/privacy\n"},
        {"privacy_policy_url": "java\nscript:alert(1)"},
        {"privacy_policy_url": "\x01javascript:alert(1)"},
        {"privacy_policy_url": "\u00a0javascript:alert(1)"},
        {"cookies": {"_ga\r\n": "analytics"}},
        {"cookies": {"_g a": "analytics"}},
        {"cookies": {"_\u00e9": "analytics"}},
        {"trusted_origins": ["https://a.example/\r\nX: 1"]},
        {"trusted_origins": ["https://\u00e4.example"]},
        {"secret_key": ""},
        {"secret_key": " \t\r\n"},
    ],
    ids=short,
)
def test_line_breaks_and_odd_characters_in_config_are_refused_at_construction(
    options: dict[str, Any],
) -> None:
    with pytest.raises(ValueError) as raised:
        ConsentConfig(**{"secret_key": SECRET, **options})
    option = next(iter(options))
    assert option.split("_")[0] in str(raised.value).lower() or "cookie" in str(raised.value)


@pytest.mark.parametrize(
    "place",
    [{"path": "/a\r\nb"}, {"path": "/a\rb"}, {"domain": "exa\nmple.com"}, {"path": "/\u00e9"}],
)
def test_cookie_rules_with_line_breaks_are_refused(place: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="CookieRule"):
        CookieRule("analytics", **place)


def test_category_names_with_line_breaks_are_refused() -> None:
    for name in ("st\nats", "stats\r", "st ats", "st\u00e4ts"):
        with pytest.raises(ValueError, match="category name"):
            Category(name)


# -- size bombs --------------------------------------------------------------------------------

MAX_EXPIRIES = 64


def expiries(answer: RawAnswer) -> list[str]:
    return [v for v in answer.set_cookies() if deletion_time(v.partition(";")[2]) < 0]


@pytest.mark.parametrize(
    "cookie",
    [
        pytest.param("_ga=" + "x" * 65536, id="one-64k-cookie"),
        pytest.param("; ".join(f"_ga{i}=1" for i in range(10_000)), id="10000-refused"),
        pytest.param(
            "; ".join(f"{('_ga', 'x', 'session', '_fbp')[i % 4]}{i}=v" for i in range(10_000)),
            id="10000-mixed",
        ),
        pytest.param("; ".join(["_ga=1"] * 10_000), id="10000-same-name"),
        pytest.param(("_fbp=" + "y" * 60 + "; ") * 1000, id="64k-of-fbp"),
        pytest.param("; ".join(f"consent=forged{i}" for i in range(10_000)), id="10000-consent"),
        pytest.param(";" * 65536, id="64k-semicolons"),
        pytest.param("=" * 65536, id="64k-equals"),
    ],
)
def test_huge_cookie_headers(raw: Raw, cookie: str) -> None:
    """A 64 KB Cookie header, or 10,000 cookies: answered in bounded time, with at most 64
    expiries (and the stale consent cookie's), and refused cookies hidden from the app."""
    for path in ("/", "/consent"):
        started = time.monotonic()
        answer = raw("GET", path, cookie=cookie)
        assert time.monotonic() - started < 3, path
        assert answer.status == 200
    started = time.monotonic()
    answer = raw("GET", "/", cookie=cookie)
    assert time.monotonic() - started < 1  # the second time, from the cache if it fits
    gone = expiries(answer)
    assert len([v for v in gone if not v.startswith("consent=")]) <= MAX_EXPIRIES
    assert len(gone) == len(answer.set_cookies())
    seen = raw.spec.seen[-1]["cookie"]
    assert "_ga" not in seen and "_fbp=" not in seen
    if "session2=" in cookie:
        assert "session2=v" in seen and "x1=v" in seen


def test_a_huge_cookie_header_on_a_choice(raw: Raw) -> None:
    cookie = "; ".join(f"_ga{i}=1" for i in range(10_000))
    answer = raw("POST", "/consent", headers=[JSON], body=b'{"action":"reject_all"}', cookie=cookie)
    assert answer.status == 200
    assert len(expiries(answer)) <= MAX_EXPIRIES
    assert len(answer.set_cookies()) <= MAX_EXPIRIES + 1


def test_a_thousand_set_cookie_headers(make_raw: Callable[..., Raw]) -> None:
    """Only the allowed ones leave, in bounded time, under every consent."""
    values = []
    for i in range(1000):
        values.append(
            (f"_ga{i}=1", f"session=s{i}", f"unknown{i}=1", f"_fbp=1; Max-Age={i}", f"lang=x{i}")[
                i % 5
            ]
        )
    site = make_raw(AppSpec(set_cookies=values))
    for choice, allowed in (
        (None, {"session"}),
        ("reject_all", {"session"}),
        ("accept_all", {"session", "_ga", "_fbp", "lang"}),
    ):
        cookie = site.consent_cookie(choice) if choice else None
        started = time.monotonic()
        answer = site("GET", "/", cookie=cookie)
        assert time.monotonic() - started < 3
        left = answer.set_cookies()
        names = {v.split("=", 1)[0].rstrip("0123456789") for v in left}
        assert names == allowed, choice
        assert left == [v for v in values if v.split("=", 1)[0].rstrip("0123456789") in allowed]


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 2000 + b"]" * 2000,
        b'{"a":' * 650 + b"1" + b"}" * 650,
        b'{"action": "save", "categories": ' + b"[" * 2000 + b"]" * 2000 + b"}",
        b'{"action": "accept_all", "gpc": ' + b"[" * 1300 + b"]" * 1300 + b"}",
        b'{"action": ' + b'"' + b"\\" * 3000 + b'"}',
        b'{"action": 1' + b"0" * 4000 + b"}",
        b'{"action": "accept_all", "action": "\\ud800"}',
        b"\xef\xbb\xbf" + b'{"action": "accept_all"}',
    ],
    ids=["arrays", "objects", "categories", "gpc", "backslashes", "long-int", "surrogate", "bom"],
)
def test_json_bombs_are_a_400(raw: Raw, body: bytes) -> None:
    answer = raw("POST", "/consent", headers=[JSON], body=body)
    assert answer.status == 400
    assert json.loads(answer.body)["error"] in (
        "malformed_json",
        "malformed_choice",
        "missing_action",
        "unknown_action",
    )
    assert answer.set_cookies() == []


def test_json_nesting_bombs_under_a_large_body_limit(make_raw: Callable[..., Raw]) -> None:
    site = make_raw(max_body_size=2_000_000)
    for body in (b"[" * 1_000_000, b'{"a":' * 200_000 + b"1" + b"}" * 200_000):
        started = time.monotonic()
        answer = site("POST", "/consent", headers=[JSON], body=body)
        assert time.monotonic() - started < 3
        assert answer.status == 400
        assert json.loads(answer.body)["error"] == "malformed_json"


@pytest.mark.parametrize(
    "method", ["OPTIONS", "PROPFIND", "TRACE", "CONNECT", "FOO", "PATCH", "PUT"]
)
@pytest.mark.parametrize(
    "path", ["/consent", "/consent/", "/consent/preferences", "/consent/banner.js"]
)
def test_unknown_methods_are_a_405_with_allow(raw: Raw, method: str, path: str) -> None:
    answer = raw(method, path, headers=[JSON], body=b'{"action":"accept_all"}')
    assert answer.status == 405
    allow = answer.first(b"allow")
    assert allow is not None and "GET" in allow and method not in allow.split(", ")
    assert json.loads(answer.body)["error"] == "method_not_allowed"
    assert answer.set_cookies() == []


# -- slow and chunked bodies -------------------------------------------------------------------

CHOICE = b'{"action": "reject_all"}'


def test_a_body_in_many_small_messages_is_read_whole() -> None:
    app = ConsentMiddleware(raw_asgi_app(AppSpec()), config=make_config())
    pieces = [CHOICE[i : i + 1] for i in range(len(CHOICE))] + [b""] * 50
    answer, received = asgi_request(app, "POST", "/consent", headers=[JSON], body=pieces)
    assert answer.status == 200
    assert received == len(pieces)
    assert any(v.startswith("consent=") for v in answer.set_cookies())


def test_a_body_over_the_limit_is_a_413_without_reading_it_all() -> None:
    app = ConsentMiddleware(raw_asgi_app(AppSpec()), config=make_config(max_body_size=4096))
    pieces = [b" "] * 20_000 + [CHOICE]
    answer, received = asgi_request(app, "POST", "/consent", headers=[JSON], body=pieces)
    assert answer.status == 413
    assert received <= 4097
    assert answer.set_cookies() == []
    # A Content-Length that lies low does not help.
    lying = [(b"content-length", b"10"), JSON]
    answer, _ = asgi_request(app, "POST", "/consent", headers=lying, body=[b" " * 5000, CHOICE])
    assert answer.status == 413


def test_a_client_that_goes_away_mid_body_gets_no_consent() -> None:
    app = ConsentMiddleware(raw_asgi_app(AppSpec()), config=make_config())
    pieces = [CHOICE[:5], CHOICE[5:10], CHOICE[10:]]
    answer, _ = asgi_request(
        app, "POST", "/consent", headers=[JSON], body=pieces, disconnect_after=2
    )
    assert answer.status == 400
    assert answer.set_cookies() == []


@pytest.mark.parametrize(("size", "status"), [(len(CHOICE), 200), (5000, 413)])
def test_wsgi_chunked_bodies(size: int, status: int) -> None:
    """A chunked body that the server ends itself (`wsgi.input_terminated`)."""
    app = ConsentWSGIMiddleware(raw_wsgi_app(AppSpec()), config=make_config())
    body = CHOICE.ljust(size)
    answer = wsgi_request(app, "POST", "/consent", headers=[JSON], body=body, chunked=True)
    assert answer.status == status
    assert any(v.startswith("consent=") for v in answer.set_cookies()) == (status == 200)


@pytest.mark.parametrize(
    "repeated",
    [
        [(b"origin", b"http://testserver"), (b"origin", b"http://evil.example")],
        [(b"sec-fetch-site", b"same-origin"), (b"sec-fetch-site", b"cross-site")],
    ],
    ids=["origin-twice", "sec-fetch-site-twice"],
)
@pytest.mark.parametrize("adapter", ["asgi", "wsgi"])
def test_a_cross_site_header_given_twice_is_refused(
    adapter: str, repeated: list[tuple[bytes, bytes]]
) -> None:
    """Repeated, the values count together (WSGI servers join them): the first alone
    must not let a choice through under ASGI."""
    headers = [JSON, (b"host", b"testserver"), *repeated]
    if adapter == "asgi":
        asgi = ConsentMiddleware(raw_asgi_app(AppSpec()), config=make_config())
        answer, _ = asgi_request(asgi, "POST", "/consent", headers=headers, body=CHOICE)
    else:
        wsgi = ConsentWSGIMiddleware(raw_wsgi_app(AppSpec()), config=make_config())
        answer = wsgi_request(wsgi, "POST", "/consent", headers=headers, body=CHOICE)
    assert answer.status == 403
    assert answer.set_cookies() == []


class _UnreadableInput:
    """A request body the endpoint must not read: a server would wait for it (gunicorn
    waits for every byte of a Content-Length it was given)."""

    def read(self, size: int = -1) -> bytes:
        raise AssertionError("the body was read")


@pytest.mark.parametrize(
    ("length", "status", "error"),
    [
        ("99999999999999999999", 413, "body_too_large"),  # 20 digits
        ("1" * 5000, 413, "body_too_large"),
        ("12abc", 400, "bad_length"),
        ("-5", 400, "bad_length"),
    ],
)
def test_wsgi_a_length_too_big_or_no_number_is_answered_without_reading(
    length: str, status: int, error: str
) -> None:
    """gunicorn passes such a Content-Length on and ends the input stream itself
    (`wsgi.input_terminated`): reading would hang the worker until it is killed."""
    app = ConsentWSGIMiddleware(raw_wsgi_app(AppSpec()), config=make_config())
    environ_extra = {"CONTENT_LENGTH": length}
    answer = wsgi_request(
        app,
        "POST",
        "/consent",
        headers=[JSON],
        chunked=True,
        environ=environ_extra,
        stream=_UnreadableInput(),
    )
    assert answer.status == status
    assert json.loads(answer.body)["error"] == error
    assert answer.set_cookies() == []


@pytest.mark.server
def test_gunicorn_answers_a_twenty_digit_length_at_once(tmp_path: Path) -> None:
    port = free_port()
    command = server_command("gunicorn", "tests.fixtures.wire_apps:wsgi", port)
    with (
        running(command, port, tmp_path / "gunicorn.log"),
        socket.create_connection(("127.0.0.1", port), 10) as sock,
    ):
        started = time.monotonic()
        sock.sendall(
            b"POST /consent HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            b"Content-Type: application/json\r\n"
            b"Content-Length: 99999999999999999999\r\n\r\n" + CHOICE
        )
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
        elapsed = time.monotonic() - started
    answer = b"".join(chunks)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b"set-cookie" not in answer.lower()
    assert elapsed < 5


# -- on a real server: a body sent slowly, in chunks ---------------------------------------


@pytest.fixture(scope="module", params=["uvicorn-h11", "uvicorn-httptools", "waitress"])
def real_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[int]:
    with serving("tests.fixtures.wire_apps", request.param, tmp_path_factory) as site:
        yield site.port


def send_slowly(port: int, parts: list[bytes], pause: float) -> tuple[int, bytes]:
    """Headers, then each part as an HTTP/1.1 chunk with a pause before it; the status
    line and the whole answer."""
    head = (
        b"POST /consent HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), 10) as sock:
        sock.sendall(head)
        for part in parts:
            time.sleep(pause)
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(part), part))
            except OSError:
                break  # the server answered early and closed
        else:
            sock.sendall(b"0\r\n\r\n")
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
    raw_answer = b"".join(chunks)
    return int(raw_answer.split(b" ", 2)[1]), raw_answer


@pytest.mark.server
def test_a_slow_chunked_choice_on_a_real_server(real_server: int) -> None:
    parts = [CHOICE[i : i + 3] for i in range(0, len(CHOICE), 3)]
    status, answer = send_slowly(real_server, parts, 0.05)
    assert status == 200, answer
    assert b"\r\nset-cookie: consent=" in answer.lower()


@pytest.mark.server
def test_a_chunked_body_over_the_limit_on_a_real_server(real_server: int) -> None:
    status, answer = send_slowly(real_server, [b" " * 1000] * 6 + [CHOICE], 0.01)
    assert status == 413, answer
    assert b"set-cookie" not in answer.lower()


# -- cross-site writes as a browser on another port sends them ---------------------------------

#: What Chromium sends from a page on http://testserver:8081 (another origin of the same
#: site), by form, by `fetch(mode: "no-cors")` with a text/plain body, and by fetch with JSON.
OTHER_PORT = [
    pytest.param(
        [FORM, (b"origin", b"http://testserver:8081"), (b"sec-fetch-site", b"same-site")],
        b"action=accept_all",
        id="form",
    ),
    pytest.param(
        [TEXT, (b"origin", b"http://testserver:8081"), (b"sec-fetch-site", b"same-site")],
        b"action=accept_all",
        id="no-cors-text",
    ),
    pytest.param(
        [JSON, (b"origin", b"http://testserver:8081"), (b"sec-fetch-site", b"same-site")],
        b'{"action":"accept_all"}',
        id="cors-json",
    ),
    pytest.param(
        [TEXT, (b"origin", b"http://testserver:8081")], b'{"action":"accept_all"}', id="origin-only"
    ),
    pytest.param(
        [TEXT, (b"origin", b"null"), (b"sec-fetch-site", b"cross-site")],
        b"action=accept_all",
        id="sandboxed",
    ),
]


@pytest.mark.parametrize(("headers", "body"), OTHER_PORT)
@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_another_origin_cannot_change_the_consent(
    raw: Raw, headers: list[tuple[bytes, bytes]], body: bytes, method: str
) -> None:
    for before in ("reject_all", "accept_all"):
        cookie = raw.consent_cookie(before)
        state = raw.state(cookie)
        answer = raw(method, "/consent", headers=headers, body=body, cookie=cookie)
        assert answer.status == 403
        assert answer.set_cookies() == []
        assert raw.state(cookie) == state


# -- what review of the hostile runs found ---------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {"cookie_name": "consent\n"},
        {"cookie_domain": ".example.com\n"},
        {"path_prefix": "/consent\n"},
        {"policy_version": "v1\n"},
        {"cookies": {"_ga\n": "analytics"}},
        {"languages": ["en", "uk\n"]},
        {"texts": {"en": {"close": "\x00state\x00"}}},
        {"texts": {"en": {"title": "a\x1bb"}}},
    ],
)
def test_a_trailing_newline_or_a_control_byte_is_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ConsentConfig(secret_key="s", **options)


@pytest.mark.parametrize(
    ("options", "part"),
    [({"path": "/x\n"}, "path"), ({"domain": "example.com\n"}, "domain")],
)
def test_cookie_rules_refuse_a_trailing_newline(options: dict[str, str], part: str) -> None:
    from consent_middleware import CookieRule

    with pytest.raises(ValueError, match=part):
        CookieRule("analytics", **options)


def test_category_texts_refuse_control_bytes() -> None:
    from consent_middleware import Category

    with pytest.raises(ValueError, match="control"):
        Category("stats", "Stats\x00")
    with pytest.raises(ValueError):
        Category("stats\n")


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/café", "/caf%C3%A9"), ("/сторінка", "/%D1%81%D1%82%D0%BE%D1%80%D1%96%D0%BD%D0%BA%D0%B0")],
)
def test_non_ascii_paths_return_to_themselves_over_wsgi(path: str, expected: str) -> None:
    """PEP 3333 gives PATH_INFO as latin-1-decoded bytes: read as UTF-8, like ASGI's path."""
    import re as _re

    from consent_middleware import ConsentWSGIMiddleware

    from .raw import wsgi_environ

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/html")])
        return [b"<html><body>x</body></html>"]

    environ = wsgi_environ()
    environ["PATH_INFO"] = path.encode("utf-8").decode("latin-1")
    sent: list[Any] = []
    body = ConsentWSGIMiddleware(app, config=ConsentConfig(secret_key="s"))(
        environ, lambda s, h, e=None: sent.append(h)
    )
    page = b"".join(body).decode()
    assert _re.search(r'name="return_to" value="([^"]*)"', page)[1] == expected  # type: ignore[index]


def test_raw_bytes_in_a_query_are_encoded_once() -> None:
    from consent_middleware.core import ConsentCore

    core = ConsentCore(ConsentConfig(secret_key="s"))
    ctx = core.begin("", False, path="/p", query="q=caf\xc3\xa9&x=%41")
    assert ctx.return_to == "/p?q=caf%C3%A9&x=%41"
