"""The /consent endpoints over both adapters: choices, withdrawal, and every error."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from html.parser import HTMLParser

import pytest

from .conftest import AppSpec, Site, deleted_names, form

JSON = {"content-type": "application/json"}
FORM = {"content-type": "application/x-www-form-urlencoded"}


def test_get_state_undecided(site: Site) -> None:
    response = site.get("/consent")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {
        "decided": False,
        "categories": {
            "authentication": True,
            "settings": False,
            "analytics": False,
            "marketing": False,
        },
        "policy_version": "2024-02-24",
        "consent_id": None,
        "decided_at": None,
        "gpc": False,
    }


@pytest.mark.parametrize(
    ("choice", "granted"),
    [
        ({"action": "accept_all"}, ["authentication", "settings", "analytics", "marketing"]),
        ({"action": "reject_all"}, ["authentication"]),
        ({"action": "save", "categories": ["analytics"]}, ["authentication", "analytics"]),
        ({"action": "save", "categories": []}, ["authentication"]),
        (
            {"action": "save", "categories": ["authentication", "settings", "settings"]},
            ["authentication", "settings"],
        ),
    ],
)
def test_post_json_choice(site: Site, choice: dict[str, object], granted: list[str]) -> None:
    response = site.choose(choice)
    assert response.status_code == 200
    state = response.json()
    assert state["decided"] is True
    assert [name for name, ok in state["categories"].items() if ok] == granted
    assert re.fullmatch(r"[0-9a-f]{32}", state["consent_id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", state["decided_at"])
    (cookie,) = [v for v in response.headers.get_list("set-cookie") if v.startswith("consent=")]
    assert "SameSite=Lax" in cookie and "Path=/" in cookie and "HttpOnly" not in cookie
    assert f"Max-Age={180 * 86400}" in cookie
    assert "Secure" not in cookie  # plain http
    # The new cookie reads back as the same state.
    again = site.get("/consent", cookie=cookie.split(";", 1)[0]).json()
    assert again == state


def test_consent_cookie_is_secure_on_https(site: Site) -> None:
    response = site.client.post(
        "https://testserver/consent", content=b'{"action":"reject_all"}', headers=JSON
    )
    (cookie,) = response.headers.get_list("set-cookie")
    assert "Secure" in cookie


def test_changing_the_choice_keeps_the_consent_id_and_expires_refused(site: Site) -> None:
    first = site.consent_cookie({"action": "accept_all"})
    first_id = site.get("/consent", cookie=first).json()["consent_id"]
    response = site.choose({"action": "reject_all"}, cookie=f"{first}; _ga=1; _fbp=2; lang=uk")
    assert response.json()["consent_id"] == first_id
    assert sorted(deleted_names(response)) == ["_fbp", "_ga", "lang"]


@pytest.mark.parametrize("path", ["/consent", "/consent/preferences"])
def test_state_and_preferences_expire_the_refused_cookies_they_see(site: Site, path: str) -> None:
    """As every answer does: banner.js asks for the state when a page's answer for an
    earlier choice may have brought a cookie that a later choice refuses."""
    rejected = site.consent_cookie({"action": "reject_all"})
    response = site.get(path, cookie=f"{rejected}; _ga=1; _fbp=2; session=x")
    assert response.status_code == 200
    assert sorted(deleted_names(response)) == ["_fbp", "_ga"]
    accepted = site.consent_cookie({"action": "accept_all"})
    assert deleted_names(site.get(path, cookie=f"{accepted}; _ga=1; _fbp=2")) == []


def test_delete_withdraws(site: Site) -> None:
    accepted = site.consent_cookie({"action": "accept_all"})
    response = site.request("DELETE", "/consent", cookie=f"{accepted}; _ga=1; session=x")
    assert response.status_code == 200
    state = response.json()
    assert state["decided"] is True
    assert not any(ok for name, ok in state["categories"].items() if name != "authentication")
    assert deleted_names(response) == ["_ga"]


def test_form_post_redirects_back_same_origin(site: Site) -> None:
    response = site.request(
        "POST",
        "/consent",
        content=form(
            {"action": "save", "category": ["analytics", "marketing"], "return_to": "/a?b=1"}
        ),
        headers=FORM,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/a?b=1"
    (cookie,) = response.headers.get_list("set-cookie")
    state = site.get("/consent", cookie=cookie.split(";", 1)[0]).json()
    assert state["categories"]["analytics"] and state["categories"]["marketing"]
    assert not state["categories"]["settings"]


@pytest.mark.parametrize(
    "return_to",
    ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", ""],
)
def test_form_never_redirects_off_site(site: Site, return_to: str) -> None:
    response = site.request(
        "POST",
        "/consent",
        content=form({"action": "reject_all", "return_to": return_to}),
        headers=FORM,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/"


def test_form_without_return_to_uses_same_origin_referer(site: Site) -> None:
    response = site.request(
        "POST",
        "/consent",
        content=form({"action": "accept_all"}),
        headers={**FORM, "referer": "http://testserver/deals?page=2"},
    )
    assert response.headers["location"] == "/deals?page=2"
    other = site.request(
        "POST",
        "/consent",
        content=form({"action": "accept_all"}),
        headers={**FORM, "referer": "http://evil.example/deals"},
    )
    assert other.headers["location"] == "/"


CROSS_SITE = [
    pytest.param({"origin": "http://evil.example"}, id="foreign-origin"),
    pytest.param({"origin": "null"}, id="null-origin"),
    pytest.param({"sec-fetch-site": "cross-site"}, id="sec-fetch-cross-site"),
    pytest.param({"sec-fetch-site": "same-site"}, id="sec-fetch-same-site"),
    pytest.param({"origin": "http://testserver:8080"}, id="other-port"),
]


@pytest.mark.parametrize("headers", CROSS_SITE)
@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_cross_site_writes_are_refused(site: Site, headers: dict[str, str], method: str) -> None:
    response = site.request(
        method,
        "/consent",
        content=form({"action": "accept_all"}),
        headers={**FORM, **headers},
    )
    assert response.status_code == 403
    assert response.headers.get_list("set-cookie") == []
    if method == "POST":
        # A visitor's form post: a page that says what happened and leads back.
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert "came from another site" in response.text
        assert 'href="/consent/preferences' in response.text
    else:
        assert response.json()["error"] == "cross_site"
    scripted = site.request(
        method,
        "/consent",
        content=b'{"action":"accept_all"}',
        headers={**JSON, "accept": "application/json", **headers},
    )
    assert scripted.status_code == 403
    assert scripted.json()["error"] == "cross_site"
    assert scripted.headers.get_list("set-cookie") == []


@pytest.mark.parametrize(
    "headers",
    [
        # A proxy rewrote Host (nginx's default): the browser's own word is enough.
        {"origin": "https://www.example.com", "sec-fetch-site": "same-origin"},
        {"host": "backend:8000", "origin": "http://testserver", "sec-fetch-site": "same-origin"},
    ],
)
def test_same_origin_by_the_browser_is_enough(site: Site, headers: dict[str, str]) -> None:
    response = site.request(
        "POST", "/consent", content=form({"action": "accept_all"}), headers={**FORM, **headers}
    )
    assert response.status_code == 303
    assert any(v.startswith("consent=") for v in response.headers.get_list("set-cookie"))


def test_trusted_origins(make_site: Callable[..., Site]) -> None:
    site = make_site(trusted_origins=["https://www.example.com"])
    for origin, status in (("https://www.example.com", 200), ("https://evil.example", 403)):
        response = site.request(
            "POST",
            "/consent",
            content=b'{"action":"reject_all"}',
            headers={**JSON, "origin": origin, "sec-fetch-site": "cross-site"},
        )
        assert response.status_code == status, origin


@pytest.mark.parametrize(
    "origin", ["http://[::1", "http://[::1]:99999", "http://a:b:c", "http://%zz", "\x00"]
)
def test_broken_origin_and_referer_are_refused_not_crashed(site: Site, origin: str) -> None:
    response = site.request(
        "POST",
        "/consent",
        content=form({"action": "accept_all"}),
        headers={**FORM, "origin": origin, "referer": origin},
    )
    assert response.status_code == 403
    response = site.request(
        "POST",
        "/consent",
        content=form({"action": "accept_all"}),
        headers={**FORM, "referer": origin},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/"


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "http://testserver", "sec-fetch-site": "same-origin"},
        {"sec-fetch-site": "none"},
        # Behind a TLS-terminating proxy the app sees http while the page is https.
        {"origin": "https://testserver", "sec-fetch-site": "same-origin"},
        {},
    ],
)
def test_same_origin_writes_pass(site: Site, headers: dict[str, str]) -> None:
    response = site.request(
        "POST", "/consent", content=b'{"action":"accept_all"}', headers={**JSON, **headers}
    )
    assert response.status_code == 200


def test_subdomains_share_with_cookie_domain(make_site: Callable[..., Site]) -> None:
    site = make_site(cookie_domain=".testserver")
    response = site.request(
        "POST",
        "/consent",
        content=b'{"action":"accept_all"}',
        headers={**JSON, "origin": "http://shop.testserver", "sec-fetch-site": "same-site"},
    )
    assert response.status_code == 200
    assert "Domain=.testserver" in response.headers["set-cookie"]


BAD_BODIES = [
    pytest.param(JSON, b"{not json", 400, "malformed_json", id="malformed-json"),
    pytest.param(JSON, b"\xff\xfe", 400, "malformed_json", id="not-utf8"),
    pytest.param(JSON, b"[1, 2]", 400, "malformed_choice", id="not-an-object"),
    pytest.param(
        JSON,
        b'{"action": "accept_all", "action": "reject_all"}',
        400,
        "malformed_choice",
        id="json-two-actions",  # parsers differ on which counts, as a form's two do
    ),
    pytest.param(
        JSON,
        b'{"action": "save", "categories": [], "categories": ["analytics"]}',
        400,
        "malformed_choice",
        id="json-two-category-lists",
    ),
    pytest.param(JSON, b"{}", 400, "missing_action", id="no-action"),
    pytest.param(JSON, b'{"action": "sell_soul"}', 400, "unknown_action", id="unknown-action"),
    pytest.param(JSON, b'{"action": 7}', 400, "unknown_action", id="action-not-string"),
    pytest.param(
        JSON,
        b'{"action": "save", "categories": ["analytics", "telepathy"]}',
        400,
        "unknown_category",
        id="unknown-category",
    ),
    pytest.param(
        JSON, b'{"action": "save", "categories": "analytics"}', 400, "malformed_choice", id="cats"
    ),
    pytest.param(
        JSON, b'{"action": "accept_all", "gpc": "yes"}', 400, "malformed_choice", id="gpc"
    ),
    pytest.param(FORM, b"action=nope", 400, "unknown_action", id="form-unknown-action"),
    pytest.param(FORM, b"category=analytics", 400, "missing_action", id="form-no-action"),
    pytest.param(
        FORM, b"action=save&category=x", 400, "unknown_category", id="form-unknown-category"
    ),
    pytest.param(
        FORM, b"action=save&action=accept_all", 400, "malformed_choice", id="form-two-actions"
    ),
    pytest.param(FORM, b"action=%ff", 400, "unknown_action", id="form-bad-percent"),
    pytest.param({"content-type": "text/plain"}, b"x", 415, "unsupported_media_type", id="text"),
    pytest.param({}, b"x", 415, "unsupported_media_type", id="no-content-type"),
    pytest.param(
        {"content-type": "multipart/form-data; boundary=x"},
        b"--x--",
        415,
        "unsupported_media_type",
        id="multipart",
    ),
    pytest.param(
        JSON,
        b'{"action": "accept_all", "x": "' + b"a" * 5000 + b'"}',
        413,
        "body_too_large",
        id="too-large",
    ),
]


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain")


@pytest.mark.parametrize(("headers", "body", "status", "code"), BAD_BODIES)
def test_bad_input_gets_a_json_error(
    site: Site, headers: dict[str, str], body: bytes, status: int, code: str
) -> None:
    """A script gets JSON; a form that a visitor sent gets a page saying what happened."""
    as_json = {**headers, "accept": "application/json"}
    response = site.request("POST", "/consent", content=body, headers=as_json)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    error = response.json()
    assert error["error"] == code
    assert error["detail"]
    assert response.headers.get_list("set-cookie") == []
    plain = site.request("POST", "/consent", content=body, headers=headers)
    assert plain.status_code == status
    assert plain.headers.get_list("set-cookie") == []
    if headers.get("content-type", "").split(";")[0] in FORM_TYPES:
        assert plain.headers["content-type"] == "text/html; charset=utf-8"
        assert "Your choice was not saved" in plain.text
        assert 'href="/consent/preferences?return_to=/"' in plain.text
        assert '<a href="/">' in plain.text
    else:
        assert plain.json()["error"] == code


def test_declared_length_over_the_limit_is_refused(site: Site) -> None:
    response = site.request(
        "POST", "/consent", content=b"{}", headers={**JSON, "content-length": "999999"}
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("PUT", "/consent", 405),
        ("PATCH", "/consent", 405),
        ("POST", "/consent/preferences", 405),
        ("DELETE", "/consent/banner.js", 405),
        ("GET", "/consent/nothing-here", 404),
        ("GET", "/consent/banner.js/x", 404),
    ],
)
def test_wrong_method_or_path(site: Site, method: str, path: str, status: int) -> None:
    response = site.request(method, path)
    assert response.status_code == status
    assert "error" in response.json()
    if status == 405:
        assert "GET" in response.headers["allow"]


def test_prefix_does_not_capture_similar_paths(make_site: Callable[..., Site]) -> None:
    site = make_site(AppSpec(body=b"app"))
    assert site.get("/consentfoo").text.startswith("app")
    assert site.get("/consent-policy").text.startswith("app")


def test_custom_path_prefix(make_site: Callable[..., Site]) -> None:
    site = make_site(AppSpec(body=b"app"), path_prefix="/privacy/cookies")
    assert site.get("/privacy/cookies").json()["decided"] is False
    assert site.get("/consent").text.startswith("app")


def test_state_answers_head(site: Site) -> None:
    response = site.request("HEAD", "/consent")
    assert response.status_code == 200
    assert response.content == b""


def test_endpoint_is_never_a_500_for_hostile_headers(site: Site) -> None:
    hostile = {
        **JSON,
        "origin": "http://[::1",
        "host": "testserver",
        "accept-language": ";;q=x,*;q=-1,en-;q=9e999," * 10,
        "content-length": "abc",
    }
    response = site.request("POST", "/consent", content=b'{"action":"accept_all"}', headers=hostile)
    assert 400 <= response.status_code < 500
    json.loads(response.text)


def test_deeply_nested_json_is_a_400(site: Site) -> None:
    body = b'{"action": ' + b"[" * 1500 + b"]" * 1500 + b"}"
    response = site.request("POST", "/consent", content=body, headers=JSON)
    assert response.status_code == 400
    assert response.json()["error"] == "malformed_json"


def test_customize_without_javascript_goes_to_the_preferences_page(site: Site) -> None:
    response = site.request(
        "POST",
        "/consent",
        content=form({"action": "customize", "return_to": "/deals?x=1"}),
        headers=FORM,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/consent/preferences?return_to=%2Fdeals%3Fx%3D1"
    assert response.headers.get_list("set-cookie") == []
    page = site.get(response.headers["location"])
    assert 'name="return_to" value="/deals?x=1"' in page.text
    # Only a form may ask for it: it is no choice.
    assert site.choose({"action": "customize"}).status_code == 400


def test_unknown_action_names_every_action_accepted(site: Site) -> None:
    """The detail of `unknown_action` lists the actions that work, `withdraw` included (the
    table in docs/api.md names four), so a client is not told that withdrawing is unknown."""
    response = site.request(
        "POST",
        "/consent",
        content=b'{"action": "sell_soul"}',
        headers={**JSON, "accept": "application/json"},
    )
    assert response.json()["error"] == "unknown_action"
    detail = response.json()["detail"]
    for action in ("accept_all", "reject_all", "save", "withdraw"):
        assert action in detail, (action, detail)
    assert site.request("POST", "/consent", json={"action": "withdraw"}).status_code == 200


class _Forms(HTMLParser):
    """The banner's forms as a browser without JavaScript would post them."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[list[tuple[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "form":
            self.forms.append([])
        elif tag == "input" and found.get("type") == "hidden" and self.forms:
            self.forms[-1].append((found["name"] or "", found.get("value") or ""))


@pytest.mark.parametrize("max_body_size", [1024, 4096])
def test_a_page_with_a_long_url_can_still_be_decided_without_javascript(
    make_site: Callable[..., Site], max_body_size: int
) -> None:
    # A search page whose query is long and full of characters that form encoding triples.
    site = make_site(max_body_size=max_body_size)
    path = "/search?q=" + "%26x%3D1/" * 100 + "/" * 1000
    page = site.get(path)
    parser = _Forms()
    parser.feed(page.text)
    fields = next(f for f in parser.forms if any(name == "return_to" for name, _ in f))
    response = site.request(
        "POST",
        "/consent",
        content=form({**dict(fields), "action": "reject_all"}),
        headers=FORM,
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"].startswith("/search")
