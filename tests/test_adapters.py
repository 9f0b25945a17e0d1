"""Protocol behaviour of the two adapters: streaming, pass-through scopes, WSGI rules, and
the real frameworks (FastAPI, Starlette, Flask)."""

from __future__ import annotations

import asyncio
import io
import wsgiref.validate
from collections.abc import Iterator
from typing import Any, cast

import httpx2 as httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from flask import Flask, make_response
from flask import request as flask_request
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket

from consent_middleware import ConsentMiddleware, ConsentWSGIMiddleware, get_consent

from .conftest import make_config
from .raw import http_scope, run_asgi, wsgi_call, wsgi_environ


def chunked_app(chunks: list[bytes], content_type: bytes, set_cookies: list[bytes]) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = [(b"content-type", content_type)] + [(b"set-cookie", c) for c in set_cookies]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for index, chunk in enumerate(chunks):
            more = index < len(chunks) - 1
            await send({"type": "http.response.body", "body": chunk, "more_body": more})

    return app


def test_asgi_streams_chunk_by_chunk() -> None:
    chunks = [b"line %d\n" % i for i in range(5)]
    app = ConsentMiddleware(
        chunked_app(chunks, b"text/plain", [b"_ga=1; Path=/", b"session=2"]), config=make_config()
    )
    sent = run_asgi(app, http_scope())
    start, *bodies = sent
    assert start["type"] == "http.response.start"
    assert [h for h in start["headers"] if h[0] == b"set-cookie"] == [(b"set-cookie", b"session=2")]
    assert [m["body"] for m in bodies] == chunks
    assert [m["more_body"] for m in bodies] == [True, True, True, True, False]


def test_asgi_streams_html_with_banner_split_across_chunks() -> None:
    chunks = [b"<html><body><p>", b"a</p></bo", b"dy></html>"]
    app = ConsentMiddleware(chunked_app(chunks, b"text/html", []), config=make_config())
    sent = run_asgi(app, http_scope())
    bodies = [m["body"] for m in sent[1:]]
    assert len(bodies) == 3  # still three messages: nothing was buffered whole
    page = b"".join(bodies)
    assert page.count(b'id="consent-banner"') == 1
    assert page.index(b'id="consent-banner"') < page.index(b"</body>")
    assert page.startswith(b"<html><body><p>a</p>")
    assert page.endswith(b"</body></html>")


def test_asgi_non_http_scopes_pass_through() -> None:
    seen: list[str] = []

    async def inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope["type"])
        # A websocket learns the visitor's consent too; lifespan has no visitor.
        assert ("consent_middleware.consent" in scope) == (scope["type"] == "websocket")

    app = ConsentMiddleware(inner, config=make_config())

    async def receive() -> dict[str, Any]:
        return {"type": "lifespan.startup"}

    async def send(message: dict[str, Any]) -> None:
        return None

    asyncio.run(app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send))
    asyncio.run(app({"type": "websocket", "path": "/ws", "headers": []}, receive, send))
    assert seen == ["lifespan", "websocket"]


def test_asgi_header_iterable_that_is_not_a_list() -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = ((b"content-type", b"text/plain"), (b"Set-Cookie", b"_fbp=1"))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    sent = run_asgi(ConsentMiddleware(app, config=make_config()), http_scope())
    assert list(sent[0]["headers"]) == [(b"content-type", b"text/plain")]


@pytest.mark.parametrize("refused", [False, True])
def test_asgi_request_headers_read_once_still_reach_the_app(refused: bool) -> None:
    """ASGI allows any iterable of request headers: a one-shot iterator must reach the app
    whole (and so must the Cookie header, filtered or not)."""
    seen: list[list[tuple[bytes, bytes]]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(list(scope["headers"]))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    cookie = "session=s1; _fbp=1" if refused else "session=s1"
    scope = http_scope(cookie=cookie)
    scope["headers"] = iter([*scope["headers"], (b"authorization", b"Bearer x")])
    run_asgi(ConsentMiddleware(app, config=make_config()), scope)
    names = [name for name, _ in seen[0]]
    assert names.count(b"host") == 1 and names.count(b"authorization") == 1
    assert (b"cookie", b"session=s1") in seen[0]


def test_asgi_duplicate_cookie_headers_are_both_read() -> None:
    seen: list[Any] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(get_consent(scope))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    config = make_config()
    middleware = ConsentMiddleware(app, config=config)
    client = TestClient(middleware)
    cookie = client.post("/consent", json={"action": "accept_all"}).headers["set-cookie"]
    scope = http_scope()
    scope["headers"] += [(b"cookie", b"a=1"), (b"Cookie", cookie.split(";")[0].encode())]
    sent = run_asgi(middleware, scope)
    assert seen[-1].decided
    assert sent[0]["status"] == 204


# -- WSGI -------------------------------------------------------------------------------


class ClosingBody:
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.chunks)

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize("content_type", ["text/html", "text/plain"])
def test_wsgi_close_reaches_the_app_body(content_type: str) -> None:
    body = ClosingBody([b"<html><body>", b"x</body></html>"])

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", content_type), ("Set-Cookie", "_ga=1")])
        return body

    wrapped = wsgiref.validate.validator(ConsentWSGIMiddleware(app, config=make_config()))
    status, headers, result = wsgi_call(wrapped)
    page = b"".join(result)
    result.close()
    assert body.closed
    assert ("Set-Cookie", "_ga=1") not in headers
    assert (b'id="consent-banner"' in page) == (content_type == "text/html")


def test_wsgi_file_wrapper_is_kept_when_nothing_is_injected() -> None:
    class FileWrapper:
        def __init__(self, f: Any, blksize: int = 8192) -> None:
            self.f = f

        def __iter__(self) -> Iterator[bytes]:
            return iter([self.f.read()])

    marker: list[Any] = []

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "application/pdf")])
        wrapped = environ["wsgi.file_wrapper"](io.BytesIO(b"%PDF"))
        marker.append(wrapped)
        return wrapped

    middleware = ConsentWSGIMiddleware(app, config=make_config())
    environ_extra = {"wsgi.file_wrapper": FileWrapper}

    def call(environ: dict[str, Any], start_response: Any) -> Any:
        environ.update(environ_extra)
        return middleware(environ, start_response)

    _, _, result = wsgi_call(call)
    assert result is marker[0]


def test_wsgi_exc_info_is_passed_on() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            import sys

            start_response("500 Error", [("Content-Type", "text/plain")], sys.exc_info())
        return [b"error"]

    seen: list[Any] = []

    def start_response(status: str, headers: list[Any], exc_info: Any = None) -> Any:
        seen.append((status, exc_info))
        return lambda data: None

    middleware = ConsentWSGIMiddleware(app, config=make_config())
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "wsgi.url_scheme": "http"}
    list(middleware(environ, start_response))
    assert seen[1][0] == "500 Error"
    assert seen[1][1] is not None and isinstance(seen[1][1][1], RuntimeError)


@pytest.mark.parametrize(
    ("first", "second", "banner"),
    [("text/html", "text/plain", False), ("text/plain", "text/html", True)],
)
def test_wsgi_second_start_response_chooses_the_body_filter_again(
    first: str, second: str, banner: bool
) -> None:
    """An app that fails after start_response calls it again with exc_info: the body that
    follows is the error page's, filtered (or not) as the second call says."""

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", first)])
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            import sys

            start_response("500 Error", [("Content-Type", second)], sys.exc_info())
        return [b"<html><body><p>error</p></body></html>"]

    def start_response(status: str, headers: list[Any], exc_info: Any = None) -> Any:
        return lambda data: None

    middleware = ConsentWSGIMiddleware(app, config=make_config())
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "wsgi.url_scheme": "http"}
    body = b"".join(middleware(environ, start_response))
    assert (b'id="consent-banner"' in body) is banner
    assert body.startswith(b"<html><body><p>error</p>")


def test_wsgi_generator_body_streams_and_validates() -> None:
    produced: list[int] = []

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        start_response(
            "200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Set-Cookie", "lang=uk")]
        )

        def generate() -> Iterator[bytes]:
            for i in range(3):
                produced.append(i)
                yield b"<p>%d</p>" % i
            yield b"</body>"

        return generate()

    wrapped = wsgiref.validate.validator(ConsentWSGIMiddleware(app, config=make_config()))
    _, headers, result = wsgi_call(wrapped)
    iterator = iter(result)
    try:
        first = next(iterator)
        # One chunk at a time: only a short tail is held back, in case "</body" is split.
        assert first.startswith(b"<p>") and produced == [0]
        rest = first + b"".join(iterator)
    finally:
        result.close()
    assert b'id="consent-banner"' in rest
    assert not any(name == "Set-Cookie" for name, _ in headers)


# -- real frameworks --------------------------------------------------------------------


def fastapi_app() -> FastAPI:
    app = FastAPI()

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request) -> HTMLResponse:
        consent = get_consent(request)
        response = HTMLResponse(
            f"<html><body>analytics={consent.allows('analytics')}</body></html>"
        )
        response.set_cookie("session", "s", httponly=True)
        response.set_cookie("_ga", "GA1", httponly=True)
        response.set_cookie("_fbp", "fb")
        return response

    @app.get("/stream")
    def stream() -> StreamingResponse:
        def gen() -> Iterator[bytes]:
            yield b"<html><body>"
            yield b"streamed</body></html>"

        response = StreamingResponse(gen(), media_type="text/html")
        response.set_cookie("_ga", "GA2")
        return response

    @app.get("/api")
    def api() -> JSONResponse:
        response = JSONResponse({"ok": True})
        response.set_cookie("lang", "uk")
        return response

    app.add_middleware(ConsentMiddleware, config=make_config())
    return app


def starlette_app() -> Starlette:
    async def home(request: Any) -> PlainTextResponse:
        response = PlainTextResponse(str(get_consent(request).allows("analytics")))
        response.set_cookie("_ga", "1")
        response.set_cookie("session", "2")
        return response

    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(f"hi {get_consent(websocket).decided}")
        await websocket.close()

    app = Starlette(routes=[Route("/", home), WebSocketRoute("/ws", ws)])
    app.add_middleware(ConsentMiddleware, config=make_config())
    return app


def flask_app() -> Flask:
    app = Flask(__name__)

    @app.get("/")
    def home() -> Any:
        consent = get_consent(flask_request)
        response = make_response(
            f"<html><body>analytics={consent.allows('analytics')}</body></html>"
        )
        response.set_cookie("session", "s", httponly=True)
        response.set_cookie("_ga", "GA1", httponly=True)
        response.set_cookie("_fbp", "fb")
        return response

    app.wsgi_app = ConsentWSGIMiddleware(app.wsgi_app, config=make_config())  # type: ignore[method-assign]
    return app


def names(response: httpx.Response) -> list[str]:
    return [v.split("=", 1)[0] for v in response.headers.get_list("set-cookie")]


@pytest.mark.parametrize("framework", ["fastapi", "flask"])
def test_framework_flow(framework: str) -> None:
    if framework == "fastapi":
        client: httpx.Client = TestClient(fastapi_app())
    else:
        client = httpx.Client(
            transport=httpx.WSGITransport(app=flask_app()), base_url="http://testserver"
        )
    with client:
        first = client.get("/")
        assert names(first) == ["session"]
        assert "analytics=False" in first.text
        assert 'id="consent-banner"' in first.text
        assert first.headers["content-length"] == str(len(first.content))
        assert "cookie" in first.headers["vary"].lower()
        client.post("/consent", json={"action": "save", "categories": ["analytics"]})
        second = client.get("/")
        assert names(second) == ["session", "_ga"]
        assert "analytics=True" in second.text
        assert second.headers["content-length"] == str(len(second.content))
        client.delete("/consent")
        third = client.get("/")
        assert "analytics=False" in third.text


def test_fastapi_streaming_and_json() -> None:
    with TestClient(fastapi_app()) as client:
        stream = client.get("/stream")
        assert names(stream) == []
        assert "streamed" in stream.text and 'id="consent-banner"' in stream.text
        api = client.get("/api")
        assert names(api) == [] and api.json() == {"ok": True}
        assert "consent-banner" not in api.text


def test_starlette_app_and_websocket() -> None:
    with TestClient(starlette_app()) as client:
        response = client.get("/")
        assert names(response) == ["session"] and response.text == "False"
        with client.websocket_connect("/ws") as ws:
            assert ws.receive_text() == "hi False"


def test_file_send_extensions_are_hidden_from_the_app_when_pages_are_rewritten() -> None:
    seen: list[Any] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(dict(scope.get("extensions", {})))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    scope = http_scope()
    scope["extensions"] = {"http.response.pathsend": {}, "http.response.trailers": {}}
    run_asgi(ConsentMiddleware(app, config=make_config()), scope)
    assert seen[-1] == {"http.response.trailers": {}}
    run_asgi(ConsentMiddleware(app, config=make_config(inject_banner=False)), scope)
    assert "http.response.pathsend" in seen[-1]


def test_wsgi_generator_app_that_starts_lazily_still_gets_the_banner() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        page = b"<html><body><p>lazy</p></body></html>"
        start_response(
            "200 OK",
            [
                ("Content-Type", "text/html"),
                ("Content-Length", str(len(page))),
                ("Set-Cookie", "_ga=1"),
            ],
        )
        yield page

    wrapped = wsgiref.validate.validator(ConsentWSGIMiddleware(app, config=make_config()))
    captured: list[Any] = []

    def start_response(status: str, headers: list[Any], exc_info: Any = None) -> Any:
        captured[:] = [status, headers]
        return lambda data: None

    result = wrapped(wsgi_environ(), start_response)
    assert captured == []  # the generator has not started its response yet
    try:
        page = b"".join(result)
    finally:
        cast(Any, result).close()
    raw_headers = captured[1]
    headers = dict(raw_headers)
    assert page.count(b'id="consent-banner"') == 1
    assert int(headers["Content-Length"]) == len(page)
    assert "Set-Cookie" not in headers


class _ServeErrorPageAgain:
    """A middleware outside the consent middleware that, when the app fails, asks the same
    app (through the consent middleware again) for its error page: a pattern of error and
    retry middlewares. The second pass starts from the scope the server gave."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await self.app(scope, receive, send)
        except RuntimeError:
            await self.app({**scope, "path": "/error"}, receive, send)


def _error_site() -> Any:
    """An ASGI app (a bare one: Starlette would answer a failure with its own page) whose
    `/boom` fails before answering and whose `/error` page sets cookies."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["path"] == "/boom":
            raise RuntimeError("the database is down")
        headers = [
            (b"content-type", b"text/html"),
            (b"set-cookie", b"_fbp=fb.1.2; Path=/"),
            (b"set-cookie", b"session=s1; Path=/"),
        ]
        await send({"type": "http.response.start", "status": 500, "headers": headers})
        await send(
            {"type": "http.response.body", "body": b"<html><body><p>Sorry</p></body></html>"}
        )

    return app


def test_asgi_a_second_pass_through_the_middleware_is_judged_too() -> None:
    """Once a pass had left its context in the server's scope, a second pass over a copy of
    that scope took the middleware for an outer one and sent `_fbp` out unjudged."""
    app = _ServeErrorPageAgain(ConsentMiddleware(_error_site(), config=make_config()))
    response = TestClient(app, raise_server_exceptions=False).get("/boom")  # no lifespan
    assert response.status_code == 500
    names = [v.split("=", 1)[0] for v in response.headers.get_list("set-cookie")]
    assert names == ["session"]
    assert response.text.count('id="consent-banner"') == 1


def test_asgi_the_same_scope_twice_is_judged_both_times() -> None:
    """A middleware that calls the app twice with the very scope the server gave."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"application/json"), (b"set-cookie", b"_fbp=1; Path=/")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"{}"})

    middleware = ConsentMiddleware(app, config=make_config())
    scope = http_scope("/")
    for _ in range(2):
        messages = run_asgi(middleware, scope)
        assert (b"set-cookie", b"_fbp=1; Path=/") not in messages[0]["headers"]


def test_asgi_a_fallback_served_while_the_first_answer_is_on_its_way_is_judged() -> None:
    """A single-page-app fallback outside the middleware: on a 404 it drops that answer and,
    from inside its `send`, asks the app for the index page, which sets `_fbp`."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        found = scope["path"] == "/index.html"
        headers = [(b"content-type", b"text/html")]
        if found:
            headers.append((b"set-cookie", b"_fbp=fb.1.2; Path=/"))
        await send(
            {"type": "http.response.start", "status": 200 if found else 404, "headers": headers}
        )
        await send({"type": "http.response.body", "body": b"<html><body>app</body></html>"})

    middleware = ConsentMiddleware(app, config=make_config())

    async def fallback(scope: Any, receive: Any, send: Any) -> None:
        replaced = False

        async def send_or_fall_back(message: Any) -> None:
            nonlocal replaced
            if message["type"] == "http.response.start" and message["status"] == 404:
                replaced = True
                await middleware({**scope, "path": "/index.html"}, receive, send)
            elif not replaced:
                await send(message)

        await middleware(scope, receive, send_or_fall_back)

    messages = run_asgi(fallback, http_scope("/deals/42"))
    assert messages[0]["status"] == 200
    assert not [v for n, v in messages[0]["headers"] if n == b"set-cookie"]
    assert b"".join(m.get("body", b"") for m in messages[1:]).count(b'id="consent-banner"') == 1


def test_wsgi_a_second_pass_with_the_same_environ_is_judged_too() -> None:
    """A WSGI middleware that serves the app's error page through the app again, with the
    same environ: the second pass is judged, from the Cookie header the browser sent."""
    config = make_config()

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if environ["PATH_INFO"] == "/boom":
            raise RuntimeError("the database is down")
        start_response(
            "500 Internal Server Error",
            [("Content-Type", "text/html"), ("Set-Cookie", "_fbp=1"), ("Set-Cookie", "session=s")],
        )
        return [b"<html><body><p>Sorry</p></body></html>"]

    middleware = ConsentWSGIMiddleware(app, config=config)

    def serve_error_page_again(environ: dict[str, Any], start_response: Any) -> Any:
        try:
            return middleware(environ, start_response)
        except RuntimeError:
            environ["PATH_INFO"] = "/error"
            return middleware(environ, start_response)

    with httpx.Client(transport=httpx.WSGITransport(app=serve_error_page_again)) as client:
        response = client.get("http://testserver/boom", headers={"Cookie": "_fbp=old; lang=en"})
    assert response.status_code == 500
    set_cookies = response.headers.get_list("set-cookie")
    assert [v.split("=", 1)[0] for v in set_cookies if "Max-Age=0" not in v] == ["session"]
    # The refused cookie the browser holds is still expired, on the response that went out.
    assert any(v.startswith("_fbp=") and "Max-Age=0" in v for v in set_cookies)
    assert response.text.count('id="consent-banner"') == 1


def test_installed_twice_the_outer_one_decides_once(caplog: pytest.LogCaptureFixture) -> None:
    """On an app and on a sub-app it mounts: one banner, cookies judged, logged once."""

    def page(request: Any) -> HTMLResponse:
        response = HTMLResponse("<html><body><p>sub</p></body></html>")
        response.set_cookie("_fbp", "1")
        return response

    sub = ConsentMiddleware(Starlette(routes=[Route("/page", page)]), config=make_config())
    outer = ConsentMiddleware(Starlette(routes=[Mount("/sub", app=sub)]), config=make_config())
    with TestClient(outer) as client:
        response = client.get("/sub/page")
    assert response.text.count('id="consent-banner"') == 1
    assert "_fbp" not in response.headers.get("set-cookie", "")
    assert "installed twice" in caplog.text

    def wsgi_page(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/html"), ("Set-Cookie", "_fbp=1")])
        return [b"<html><body><p>sub</p></body></html>"]

    inner_wsgi = ConsentWSGIMiddleware(wsgi_page, config=make_config())
    outer_wsgi = ConsentWSGIMiddleware(inner_wsgi, config=make_config())
    with httpx.Client(transport=httpx.WSGITransport(app=outer_wsgi)) as client:
        response = client.get("http://testserver/")
    assert response.text.count('id="consent-banner"') == 1
    assert "_fbp" not in response.headers.get("set-cookie", "")


def test_wsgi_header_entries_changed_after_start_response_do_not_reach_the_server() -> None:
    """waitress writes the header lines at the first body write: an app whose entries are
    lists (not the tuples PEP 3333 asks for) and that rewrites one after start_response
    must not turn it into a Set-Cookie on the wire."""
    entry = ["X-Note", "1"]

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [["Content-Type", "text/plain"], entry])
        entry[:] = ["Set-Cookie", "_fbp=1; Path=/"]
        return [b"ok"]

    given: list[Any] = []

    def start_response(status: str, headers: list[Any], exc_info: Any = None) -> Any:
        given.append(headers)
        return lambda data: None

    middleware = ConsentWSGIMiddleware(app, config=make_config())
    list(middleware({"REQUEST_METHOD": "GET", "PATH_INFO": "/"}, start_response))
    assert [tuple(h) for h in given[0]] == [("Content-Type", "text/plain"), ("X-Note", "1")]
