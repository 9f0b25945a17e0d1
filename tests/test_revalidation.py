"""A rewritten page's validators name the consent state: after a choice, revalidating the
copy cached before it never gets 304 (which would show the banner again after Accept, or
keep a gated script live after Reject). Over both adapters, with an app that answers
conditional requests the way StaticFiles and Werkzeug do."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import httpx2 as httpx
import pytest
from starlette.testclient import TestClient

from consent_middleware import ConsentMiddleware, ConsentWSGIMiddleware
from consent_middleware.validators import page_etag, revalidation

from .conftest import make_config

PAGE = b"<html><body><p>static page</p></body></html>"
DATE = "Tue, 01 Dec 2026 10:00:00 GMT"


def answer(headers: dict[str, str], content_type: str) -> tuple[int, list[tuple[str, str]]]:
    """200 or 304, as a static file server decides: If-None-Match first (weak comparison),
    If-Modified-Since only without it."""
    validators = [("ETag", '"v1"'), ("Last-Modified", DATE)]
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        fresh = '"v1"' in [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    else:
        fresh = headers.get("if-modified-since") == DATE
    if fresh:
        return 304, validators
    return 200, [("Content-Type", content_type), ("Content-Length", str(len(PAGE))), *validators]


def asgi_app(seen: list[dict[str, str]], content_type: str) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        seen.append(headers)
        status, out = answer(headers, content_type)
        raw = [(k.lower().encode(), v.encode()) for k, v in out]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": PAGE if status == 200 else b""})

    return app


def wsgi_app(seen: list[dict[str, str]], content_type: str) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        headers = {
            k[5:].lower().replace("_", "-"): v for k, v in environ.items() if k.startswith("HTTP_")
        }
        seen.append(headers)
        status, out = answer(headers, content_type)
        start_response("200 OK" if status == 200 else "304 Not Modified", out)
        return [PAGE] if status == 200 else []

    return app


class Client:
    def __init__(
        self, kind: str, content_type: str = "text/html; charset=utf-8", **options: Any
    ) -> None:
        self.seen: list[dict[str, str]] = []
        config = make_config(**options)
        if kind == "asgi":
            middleware: Any = ConsentMiddleware(asgi_app(self.seen, content_type), config=config)
            self.http: httpx.Client = TestClient(middleware, base_url="http://testserver")
        else:
            middleware = ConsentWSGIMiddleware(wsgi_app(self.seen, content_type), config=config)
            self.http = httpx.Client(
                transport=httpx.WSGITransport(app=middleware), base_url="http://testserver"
            )

    def get(self, cookie: str = "", **headers: str) -> httpx.Response:
        self.http.cookies.clear()
        sent = {k.replace("_", "-"): v for k, v in headers.items()}
        if cookie:
            sent["cookie"] = cookie
        return self.http.get("/page", headers=sent)

    def consent(self, action: str) -> str:
        response = self.http.post("/consent", json={"action": action})
        self.http.cookies.clear()
        return next(
            v.split(";", 1)[0]
            for v in response.headers.get_list("set-cookie")
            if v.startswith("consent=")
        )


@pytest.fixture(params=["asgi", "wsgi"])
def client(request: pytest.FixtureRequest) -> Iterator[Client]:
    made = Client(request.param)
    yield made
    made.http.close()


def test_a_rewritten_page_names_its_state_and_loses_its_date(client: Client) -> None:
    first = client.get()
    assert first.status_code == 200 and b'id="consent-banner"' in first.content
    tag = first.headers["etag"]
    assert tag.startswith('W/"v1-cm') and tag.endswith('s"')
    assert "last-modified" not in first.headers


def test_the_same_state_still_gets_304(client: Client) -> None:
    tag = client.get().headers["etag"]
    again = client.get(if_none_match=tag)
    assert again.status_code == 304
    assert client.seen[-1]["if-none-match"] == '"v1"'  # the app's own tag, as it sent it
    assert again.headers["etag"] == tag  # and the 304 carries ours, not the app's
    assert "last-modified" not in again.headers


@pytest.mark.parametrize("action", ["accept_all", "reject_all"])
def test_after_a_choice_the_old_copy_is_sent_whole(client: Client, action: str) -> None:
    before = client.get()
    cookie = client.consent(action)
    after = client.get(cookie, if_none_match=before.headers["etag"], if_modified_since=DATE)
    assert after.status_code == 200 and after.content.startswith(b"<html><body><p>static page")
    assert "if-none-match" not in client.seen[-1] and "if-modified-since" not in client.seen[-1]
    assert after.headers["etag"] != before.headers["etag"]
    # The new copy revalidates for its own state.
    assert client.get(cookie, if_none_match=after.headers["etag"]).status_code == 304


def test_other_tags_and_other_responses_are_left_alone(client: Client) -> None:
    assert client.get(if_none_match='"v1"').status_code == 304  # a copy from before us
    assert client.seen[-1]["if-none-match"] == '"v1"'
    assert client.get(if_modified_since=DATE).status_code == 304
    mixed = client.get(if_none_match='"other", ' + client.get().headers["etag"])
    assert mixed.status_code == 304 and client.seen[-1]["if-none-match"] == '"other", "v1"'


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_no_page_no_change(kind: str) -> None:
    client = Client(kind, content_type="text/css")
    first = client.get()
    assert first.headers["etag"] == '"v1"' and first.headers["last-modified"] == DATE
    assert client.get(if_none_match='"v1"').status_code == 304


def test_page_etag_and_revalidation() -> None:
    assert page_etag('"abc"', "0123456789ab") == 'W/"abc-cm0123456789abs"'
    assert page_etag('W/"abc"', "0123456789ab") == 'W/"abc-cm0123456789abw"'
    assert page_etag("abc", "0123456789ab") is None  # no entity-tag: none is sent
    assert page_etag('"a"b"', "0123456789ab") is None
    state = "0123456789ab"
    assert revalidation('"x"', state) is None
    assert revalidation('W/"abc-cm0123456789abw"', state) == ('W/"abc"', False, True)
    assert revalidation('W/"abc-cmffffffffffffs"', state) == (None, True, False)
    assert revalidation('"x", W/"abc-cmffffffffffffs"', state) == ('"x"', True, False)
    assert revalidation('"a,b-cm0123456789abs"', state) == ('"a,b"', False, True)
    assert revalidation("garbage -cm", state) is None  # no list of tags: as it came


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
@pytest.mark.parametrize(
    "options",
    [
        {"inject_banner": False, "gate_scripts": True},
        {"gate_scripts": True, "exclude_paths": ["/page"]},
    ],
    ids=["gating-only", "excluded-path"],
)
def test_a_page_left_unchanged_for_one_state_still_names_it(
    kind: str, options: dict[str, Any]
) -> None:
    """Accepted, such a page needs no change (no banner, nothing to gate); rejected, its
    scripts are gated. The accepted copy must not be 304'd back after Reject."""
    client = Client(kind, **options)
    accepted = client.consent("accept_all")
    first = client.get(accepted)
    assert first.content == PAGE  # nothing to change for this state
    assert "-cm" in first.headers["etag"] and "last-modified" not in first.headers
    rejected = client.consent("reject_all")
    after = client.get(rejected, if_none_match=first.headers["etag"], if_modified_since=DATE)
    assert after.status_code == 200 and "if-none-match" not in client.seen[-1]
    client.http.close()
