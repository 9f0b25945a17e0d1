"""Faults, in process (the same cases run under real servers in `make load`): the app
failing before or after its response starts, a WSGI body iterator that raises, and the
middleware's own logic failing. The middleware never hides the app's failure, never adds
a response of its own, fails closed, and keeps the app's 200 a 200."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from consent_middleware import ConsentMiddleware, ConsentWSGIMiddleware
from consent_middleware.html import HtmlRewriter
from consent_middleware.policy import ConsentPolicy

from .conftest import AppSpec, Site, cookie_names, make_config
from .raw import http_scope, wsgi_call

TRACKING = [b"session=s; Path=/", b"_ga=GA1.1.1; Path=/", b"_fbp=fb.1.1; Path=/"]
PAGE = b"<html><head><title>t</title></head><body><p>the page</p></body></html>"


class AppFault(RuntimeError):
    pass


def run_until_raises(app: Any, scope: dict[str, Any]) -> tuple[list[dict[str, Any]], Exception]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    try:
        asyncio.run(app(scope, receive, send))
    except Exception as exc:
        return sent, exc
    raise AssertionError(f"the app's exception was swallowed; sent {sent}")


def test_asgi_app_raising_before_its_response_is_not_answered_by_us() -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        raise AppFault("before")

    middleware = ConsentMiddleware(app, config=make_config())
    sent, exc = run_until_raises(middleware, http_scope(cookie="_ga=1; _fbp=2"))
    assert isinstance(exc, AppFault)
    assert sent == []  # the framework or the server answers 500, with nothing of ours


def test_asgi_app_raising_after_its_response_started_gets_no_extra_message() -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"text/html"), *((b"set-cookie", v) for v in TRACKING)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": PAGE[:30], "more_body": True})
        raise AppFault("after")

    middleware = ConsentMiddleware(app, config=make_config())
    sent, exc = run_until_raises(middleware, http_scope())
    assert isinstance(exc, AppFault)
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[0]["status"] == 200
    cookies = [v for k, v in sent[0]["headers"] if k == b"set-cookie"]
    assert cookies == [b"session=s; Path=/"]
    assert sent[1]["more_body"] is True  # the response stays unfinished: the server cuts it


class RaisingBody:
    def __init__(self, raise_at: int) -> None:
        self.raise_at = raise_at
        self.closed = 0

    def __iter__(self) -> Iterator[bytes]:
        yield b"<html><head></head><body>"
        for n in range(5):
            if n == self.raise_at:
                raise AppFault("the body iterator fails")
            yield b"<p>part</p>"
        yield b"</body></html>"

    def close(self) -> None:
        self.closed += 1


@pytest.mark.parametrize("content_type", ["text/html", "text/plain"])
def test_wsgi_body_iterator_raising_still_reaches_close(content_type: str) -> None:
    body = RaisingBody(raise_at=2)

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        headers = [("Content-Type", content_type)]
        headers += [("Set-Cookie", v.decode()) for v in TRACKING]
        start_response("200 OK", headers)
        return body

    status, headers, result = wsgi_call(ConsentWSGIMiddleware(app, config=make_config()))
    assert status == "200 OK"
    assert [v for k, v in headers if k == "Set-Cookie"] == ["session=s; Path=/"]
    chunks = []
    with pytest.raises(AppFault):
        for chunk in result:
            chunks.append(chunk)
    result.close()  # what every WSGI server does after a failed iteration (PEP 3333)
    assert body.closed == 1
    assert b"part" in b"".join(chunks)


def test_wsgi_generator_app_raising_before_start_response() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        raise AppFault("before start_response")
        yield b""  # a generator: the failure comes at the first step

    started: list[Any] = []
    middleware = ConsentWSGIMiddleware(app, config=make_config())
    from .raw import wsgi_environ

    result = middleware(wsgi_environ(), lambda *args: started.append(args))
    with pytest.raises(AppFault):
        list(result)
    assert started == []  # the server sends its own 500


def broken(*args: object, **kwargs: object) -> Any:
    raise RuntimeError("a bug in the middleware")


ACCEPT_ALL = {"action": "accept_all"}
#: Refuses analytics and marketing, whose carried cookies must then be expired.
SETTINGS_ONLY = {"action": "save", "categories": ["settings"]}


@pytest.mark.parametrize(
    ("owner", "name", "choice", "message"),
    [
        (ConsentPolicy, "read_request", ACCEPT_ALL, "could not read the request"),
        (ConsentPolicy, "keeps", ACCEPT_ALL, "failed on a response"),
        (ConsentPolicy, "expirations", SETTINGS_ONLY, "failed on a response"),
    ],
)
def test_failing_cookie_logic_fails_closed_and_keeps_the_200(
    make_site: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    owner: type,
    name: str,
    choice: dict[str, Any],
    message: str,
) -> None:
    spec = AppSpec(
        set_cookies=["session=s; Path=/", "lang=en; Path=/", "_ga=1; Path=/", "_fbp=2; Path=/"]
    )
    site: Site = make_site(spec)
    chosen = site.consent_cookie(choice)
    monkeypatch.setattr(owner, name, broken)
    with caplog.at_level(logging.ERROR, logger="consent_middleware"):
        responses = [site.get("/", cookie=f"{chosen}; _ga=1; _fbp=2") for _ in range(3)]
    for response in responses:
        assert response.status_code == 200
        assert "the page" in response.text or "hello" in response.text
        assert cookie_names(response) == ["session"]  # granted, yet withheld: fail closed
    assert any(message in r.getMessage() for r in caplog.records)


def test_failing_page_rewriting_serves_the_page_whole(
    make_site: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    site: Site = make_site(AppSpec(body=PAGE, set_cookies=["_ga=1; Path=/"]))
    monkeypatch.setattr(HtmlRewriter, "feed", broken)
    with caplog.at_level(logging.ERROR, logger="consent_middleware"):
        response = site.get("/")
    assert response.status_code == 200
    assert response.content.rstrip(b" ").endswith(PAGE[-20:])
    assert int(response.headers["content-length"]) == len(response.content)
    assert cookie_names(response) == []  # undecided: the headers were judged before
    assert any("could not rewrite a page" in r.getMessage() for r in caplog.records)
