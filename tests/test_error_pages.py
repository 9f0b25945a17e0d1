"""A FastAPI or Starlette app's own error page (a handler for `500` or `Exception`) is
judged like any page, although Starlette runs that handler outside every `add_middleware`
middleware: its refused cookies go, its gated scripts wait, the banner is in it, and the
error still reaches the server's log."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient

from consent_middleware import ConsentMiddleware, get_consent

from .fixtures import error_page_apps
from .raw import http_scope
from .servers import free_port, running, server_command

CONFIG = error_page_apps.config

ERROR_PAGE = (
    "<!doctype html><html><head><title>Sorry</title></head><body><h1>Sorry</h1>"
    '<script data-consent-category="analytics">window.ran = true</script></body></html>'
)


def error_page(request: Request, exc: Exception) -> HTMLResponse:
    """The site's error page, as a careless one is: it sets `_ga` and `session`, and tells
    what the view's consent said."""
    response = HTMLResponse(ERROR_PAGE, status_code=500)
    response.set_cookie("_ga", "GA1.1.err", max_age=63072000, httponly=True)
    response.set_cookie("session", "s-err", httponly=True)
    response.headers["x-decided"] = str(get_consent(request).decided)
    return response


async def async_error_page(request: Request, exc: Exception) -> HTMLResponse:
    return error_page(request, exc)


def crash() -> None:
    raise RuntimeError("boom")


def fastapi_app(handler: Callable[..., Any], key: Any, *, debug: bool = False) -> FastAPI:
    app = FastAPI(debug=debug)
    app.add_exception_handler(key, handler)
    app.get("/crash")(crash)
    app.add_middleware(ConsentMiddleware, config=CONFIG)
    return app


def client(app: Any) -> TestClient:
    """Starlette's own client: the app's whole stack, ServerErrorMiddleware included."""
    return TestClient(app, raise_server_exceptions=False)


def set_cookie_names(response: Any) -> list[str]:
    return [v.split("=", 1)[0] for v in response.headers.get_list("set-cookie")]


def accept_all_cookie(app: Any) -> str:
    with client(app) as c:
        answer = c.post("/consent", json={"action": "accept_all"})
    assert answer.status_code == 200
    return str(answer.headers["set-cookie"]).split(";", 1)[0]


@pytest.mark.parametrize(
    ("handler", "key"),
    [
        (async_error_page, Exception),
        (error_page, Exception),  # a plain function runs in the thread pool
        (async_error_page, 500),
        (error_page, 500),
    ],
    ids=["async-Exception", "sync-Exception", "async-500", "sync-500"],
)
def test_the_apps_error_page_is_judged_for_an_undecided_visitor(
    handler: Callable[..., Any], key: Any
) -> None:
    with client(fastapi_app(handler, key)) as c:
        answer = c.get("/crash")
    assert answer.status_code == 500
    assert set_cookie_names(answer) == ["session"]  # `_ga` (analytics) is gone
    page = answer.text
    assert 'id="consent-banner"' in page
    assert '<script data-consent-category="analytics">' not in page  # gated
    assert "window.ran = true" in page
    assert answer.headers["x-decided"] == "False"  # the handler saw the request's consent
    assert "cookie" in answer.headers["vary"].lower()


def test_a_granted_cookie_of_the_error_page_stays() -> None:
    app = fastapi_app(async_error_page, Exception)
    consent = accept_all_cookie(app)
    with client(app) as c:
        answer = c.get("/crash", headers={"cookie": consent})
    assert answer.status_code == 500
    assert set_cookie_names(answer) == ["_ga", "session"]
    assert answer.headers["x-decided"] == "True"
    assert '<script data-consent-category="analytics">' in answer.text  # released


def test_the_error_still_reaches_the_server() -> None:
    """Starlette raises on after its error page, so that the server logs the error."""
    with (
        TestClient(fastapi_app(async_error_page, Exception)) as c,
        pytest.raises(RuntimeError, match="boom"),
    ):
        c.get("/crash")


def test_a_plain_starlette_app_and_its_500_handler() -> None:
    app = Starlette(
        routes=[Route("/crash", lambda request: crash())],
        exception_handlers={500: async_error_page},
    )
    app.add_middleware(ConsentMiddleware, config=CONFIG)
    with client(app) as c:
        answer = c.get("/crash")
    assert answer.status_code == 500
    assert set_cookie_names(answer) == ["session"]
    assert 'id="consent-banner"' in answer.text


def test_the_last_of_500_and_exception_handlers_answers_as_in_starlette() -> None:
    def plain(request: Request, exc: Exception) -> PlainTextResponse:
        return PlainTextResponse("plain", status_code=500)

    app = FastAPI()
    app.add_exception_handler(500, async_error_page)
    app.add_exception_handler(Exception, plain)
    app.get("/crash")(crash)
    app.add_middleware(ConsentMiddleware, config=CONFIG)
    with client(app) as c:
        answer = c.get("/crash")
    assert answer.text == "plain"


def test_debug_mode_keeps_starlettes_traceback_page() -> None:
    with client(fastapi_app(async_error_page, Exception, debug=True)) as c:
        answer = c.get("/crash")
    assert answer.status_code == 500
    assert "RuntimeError" in answer.text
    assert set_cookie_names(answer) == []


def test_an_error_after_the_response_started_is_left_to_starlette() -> None:
    """Once the app has started its response, no second one may follow."""

    async def half(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise RuntimeError("late")

    app = FastAPI()
    app.add_exception_handler(Exception, async_error_page)
    app.mount("/half", half)
    app.add_middleware(ConsentMiddleware, config=CONFIG)
    sent: list[dict[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = http_scope("/half/")
    with pytest.raises(RuntimeError, match="late"):
        asyncio.run(app(scope, receive, send))
    assert [m["type"] for m in sent] == ["http.response.start"]


# -- under uvicorn ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    port = free_port()
    log: Path = tmp_path_factory.mktemp("error-pages") / "uvicorn.log"
    command = server_command("uvicorn", "tests.test_error_pages:served", port)
    with running(command, port, log) as run:
        yield run


served = fastapi_app(async_error_page, Exception)


@pytest.mark.server
def test_under_uvicorn_the_wire_carries_no_refused_cookie(server: Any) -> None:
    with socket.create_connection(("127.0.0.1", server.port), 10) as sock:
        sock.sendall(b"GET /crash HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].startswith("HTTP/1.1 500 ")
    cookies = [line.split(":", 1)[1] for line in lines if line.lower().startswith("set-cookie:")]
    assert [c.strip().split("=", 1)[0] for c in cookies] == ["session"]
    assert b'id="consent-banner"' in body
    assert "RuntimeError: boom" in server.output()  # the server logged the error


def test_an_error_page_that_fails_under_the_filter_is_not_sent_unjudged() -> None:
    """A handler that reads a refused cookie fails where the middleware runs it (the cookie
    is hidden); Starlette's ServerErrorMiddleware then ran it again outside, on the server's
    scope, and sent its page and its cookies unjudged: Chromium stored `_ga` and `_fbp`."""
    seen: list[str | None] = []

    async def reads_ga(request: Request, exc: Exception) -> HTMLResponse:
        seen.append(request.cookies.get("_ga"))
        visitor = request.cookies["_ga"]  # KeyError where the middleware filters
        response = HTMLResponse(f"<p>ref {visitor}</p>", status_code=500)
        response.set_cookie("_fbp", "fb.1.err", max_age=7776000)
        response.set_cookie("_ga", visitor, max_age=63072000)
        return response

    app = Starlette(
        routes=[Route("/crash", lambda request: crash())],
        exception_handlers={Exception: reads_ga},
    )
    app.add_middleware(ConsentMiddleware, config=CONFIG)
    with client(app) as c:
        answer = c.get("/crash", headers={"cookie": "_ga=GA1.2.123"})
    assert answer.status_code == 500
    assert not {"_ga", "_fbp"} & {
        v.split("=", 1)[0] for v in answer.headers.get_list("set-cookie") if "Max-Age=0" not in v
    }
    assert "GA1.2.123" not in answer.text
    assert seen == [None, None]  # called twice, never with the refused cookie
