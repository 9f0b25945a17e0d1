"""Property tests: no input makes the middleware fail, and no input lets a refused
category's cookie out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consent_middleware.cookies import is_deletion, set_cookie_name

from .conftest import AppSpec, Site
from .raw import raw_set_cookies_asgi, raw_set_cookies_wsgi

latin1 = st.binary(max_size=200).map(lambda b: b.decode("latin-1"))
names = st.sampled_from(["_ga", "_ga_X", "_fbp", "lang", "ads_id", "session", "consent", "x", ""])
no_newlines = st.just(None).flatmap(
    lambda _: latin1.map(lambda s: s.replace("\r", "").replace("\n", ""))
)
set_cookie_values = st.one_of(
    no_newlines,
    st.tuples(names, st.sampled_from(["=", "= ", " =", "==", ""]), no_newlines).map("".join),
    st.tuples(
        names, st.sampled_from(["=1; Max-Age=0", "=1; Max-Age=0; Max-Age=9", "=1; Path=/"])
    ).map("".join),
)
FAST = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def undecided_site(make_site: Callable[..., Site]) -> Site:
    return make_site(AppSpec())


@FAST
@given(cookie=no_newlines, values=st.lists(set_cookie_values, max_size=6))
def test_refused_cookies_never_leave(undecided_site: Site, cookie: str, values: list[str]) -> None:
    site = undecided_site
    site.spec.set_cookies = values
    call = raw_set_cookies_asgi if site.kind == "asgi" else raw_set_cookies_wsgi
    for sent_cookie in (cookie, f"{cookie}; _ga=1; _fbp=2; lang=3", None):
        for value in call(site.middleware, sent_cookie):
            name = set_cookie_name(value)
            if value in values:
                # Only authentication cookies, or deletions the app sent, may leave.
                assert name == "session" or is_deletion(value)
            else:
                assert is_deletion(value)  # the middleware's own expiries


FORM_TYPES = ("application/x-www-form-urlencoded", "text/plain")


@FAST
@given(
    body=st.binary(max_size=300),
    content_type=st.sampled_from(
        [
            "application/json",
            "application/x-www-form-urlencoded",
            "text/plain",
            "",
            "application/json; charset=utf-8",
        ]
    ),
    method=st.sampled_from(["POST", "DELETE", "GET", "PUT"]),
)
def test_any_body_gets_a_clean_answer(
    undecided_site: Site, body: bytes, content_type: str, method: str
) -> None:
    headers: dict[str, Any] = {"content-type": content_type} if content_type else {}
    response = undecided_site.request(method, "/consent", content=body, headers=headers)
    assert response.status_code < 500
    if response.headers["content-type"].startswith("text/html"):
        # A form's error, as a page for the visitor.
        assert method == "POST" and content_type in FORM_TYPES and response.status_code >= 400
        assert "<h1>" in response.text
    else:
        response.json()
