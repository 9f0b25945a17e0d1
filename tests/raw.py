"""Direct ASGI and WSGI calls, for what an HTTP client would hide (every `send`, raw
latin-1 headers, the returned iterable)."""

from __future__ import annotations

import asyncio
import io
from typing import Any


def run_asgi(app: Any, scope: dict[str, Any], body: bytes = b"") -> list[dict[str, Any]]:
    """Call an ASGI app directly and record every message it sends."""
    sent: list[dict[str, Any]] = []
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def http_scope(path: str = "/", cookie: str | None = None, method: str = "GET") -> dict[str, Any]:
    headers = [(b"host", b"testserver")]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }


def wsgi_environ(path: str = "/") -> dict[str, Any]:
    """A complete GET environ, as `wsgiref.validate` wants it."""
    return {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


def wsgi_call(
    app: Any, path: str = "/", cookie: str | None = None, extra: dict[str, Any] | None = None
) -> tuple[str, list[Any], Any]:
    environ = wsgi_environ(path)
    if cookie:
        environ["HTTP_COOKIE"] = cookie
    environ.update(extra or {})
    captured: list[Any] = []

    def start_response(status: str, headers: list[Any], exc_info: Any = None) -> Any:
        captured[:] = [status, headers]
        return lambda data: None

    body = app(environ, start_response)
    return captured[0], captured[1], body


def raw_set_cookies_asgi(app: Any, cookie: str | None) -> list[str]:
    scope = http_scope(cookie=None)
    if cookie is not None:
        scope["headers"].append((b"cookie", cookie.encode("latin-1")))
    start = run_asgi(app, scope)[0]
    return [v.decode("latin-1") for k, v in start["headers"] if k.lower() == b"set-cookie"]


def raw_set_cookies_wsgi(app: Any, cookie: str | None) -> list[str]:
    _, headers, body = wsgi_call(app, cookie=cookie)
    b"".join(body)
    getattr(body, "close", lambda: None)()
    return [v for k, v in headers if k.lower() == "set-cookie"]
