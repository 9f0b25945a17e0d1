"""Direct ASGI and WSGI calls, for what an HTTP client would hide (every `send`, raw
latin-1 headers, the returned iterable)."""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
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


@dataclass
class RawAnswer:
    """A response as the adapter handed it to the server: status, every header as latin-1
    bytes (exactly what would go on the wire), and the whole body."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def values(self, name: bytes) -> list[bytes]:
        """Values of the header a server would send as `name` (names trimmed, any case)."""
        return [v for n, v in self.headers if n.strip(b" \t").lower() == name.lower()]

    def set_cookies(self) -> list[str]:
        return [v.decode("latin-1") for v in self.values(b"set-cookie")]

    def first(self, name: bytes) -> str | None:
        found = self.values(name)
        return found[0].decode("latin-1") if found else None


def _wire(value: Any) -> bytes:
    """A header name or value as the server writes it (str headers of WSGI are latin-1;
    anything beyond latin-1 is kept as UTF-8 so that a test can still see it)."""
    if isinstance(value, bytes):
        return value
    text = str(value)
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def asgi_request(
    app: Any,
    method: str = "GET",
    path: str = "/",
    *,
    headers: list[tuple[bytes, bytes]] | None = None,
    body: bytes | list[bytes] = b"",
    query: bytes = b"",
    root: str = "",
    scheme: str = "http",
    disconnect_after: int | None = None,
) -> tuple[RawAnswer, int]:
    """One request straight into an ASGI app, the body as one message or as the list of
    messages given. Returns the answer and how many body messages the app received (a
    middleware that stops reading early receives fewer). `disconnect_after`: the client
    goes away after that many body messages."""
    parts = [body] if isinstance(body, bytes) else list(body)
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": part, "more_body": i < len(parts) - 1}
        for i, part in enumerate(parts)
    ]
    if disconnect_after is not None:
        messages = messages[:disconnect_after] + [{"type": "http.disconnect"}]
    received = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal received
        if messages:
            received += 1
            return messages.pop(0)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": scheme,
        "path": root + path,
        "raw_path": (root + path).encode("utf-8"),
        "query_string": query,
        "root_path": root,
        "headers": [(b"host", b"testserver"), *(headers or [])],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    out = [(_wire(n), _wire(v)) for n, v in start.get("headers") or ()]
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return RawAnswer(start["status"], out, content), received


def wsgi_request(
    app: Any,
    method: str = "GET",
    path: str = "/",
    *,
    headers: list[tuple[bytes, bytes]] | None = None,
    body: bytes = b"",
    query: bytes = b"",
    root: str = "",
    scheme: str = "http",
    chunked: bool = False,
    environ: dict[str, Any] | None = None,
    stream: Any = None,
) -> RawAnswer:
    """One request straight into a WSGI app, with its headers in the environ as a server
    puts them there (latin-1 text, `HTTP_*`). `chunked`: no Content-Length, and the
    server ends the input stream itself (`wsgi.input_terminated`), as gunicorn does.
    `environ`: keys set last, as a server would (a Content-Length of its own, say);
    `stream`: `wsgi.input` instead of `body`."""
    extra = environ
    environ = wsgi_environ(path)
    environ.update(
        REQUEST_METHOD=method,
        SCRIPT_NAME=root,
        QUERY_STRING=query.decode("latin-1"),
        **{"wsgi.url_scheme": scheme, "wsgi.input": io.BytesIO(body) if stream is None else stream},
    )
    if chunked:
        environ["wsgi.input_terminated"] = True
    elif body:
        environ["CONTENT_LENGTH"] = str(len(body))
    environ.update(extra or {})
    environ["HTTP_HOST"] = "testserver"
    for raw_name, raw_value in headers or []:
        name = raw_name.decode("latin-1").upper().replace("-", "_")
        value = raw_value.decode("latin-1")
        key = name if name in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + name
        if key in environ and key.startswith("HTTP_") and key != "HTTP_HOST":
            value = environ[key] + ("; " if key == "HTTP_COOKIE" else ", ") + value
        environ[key] = value
    captured: list[Any] = []

    def start_response(status: str, response_headers: list[Any], exc_info: Any = None) -> Any:
        captured[:] = [status, list(response_headers)]
        return lambda data: None

    result = app(environ, start_response)
    try:
        content = b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    status, response_headers = captured
    out = [(_wire(n), _wire(v)) for n, v in response_headers]
    return RawAnswer(int(status[:3]), out, content)
