"""Ways a refused cookie got out: header values of other types than `str` and `bytes`.

- A value that is a `str` subclass (markupsafe's `Markup`, which `escape()` returns and
  which leaves CR and LF alone), or any object with a `__str__`, skipped the line-break
  check that plain `str` and `bytes` values get. werkzeug's server and wsgiref under
  `python -O` write a header with `"%s: %s"`, so `X-Note: a<CRLF>Set-Cookie: _fbp=...`
  went on the wire as a Set-Cookie of a refused category, and Chromium stored it.
- A `bytearray` value (h11 and httptools send it as it is) made the plan fail: only
  required cookies were sent, and the deletion of a refused cookie the browser carries
  was left off.
- Under WSGI, a `bytes` value was judged by its bytes, but werkzeug's server writes it
  with `"%s"`: `Set-Cookie: b'session=s1; Path=/'`, which Chromium stores as a cookie
  named `b'session`, one no rule names, for a visitor who never decided.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape

from consent_middleware import ConsentMiddleware, ConsentWSGIMiddleware

from .conftest import make_config
from .fixtures import odd_value_apps
from .fixtures.odd_value_apps import INJECTED, Note, Text
from .raw import http_scope, run_asgi, wsgi_call
from .servers import free_port, raw_get, running, server_command

ODD_VALUES = [escape(INJECTED), Text(INJECTED), Note()]
ODD_IDS = ["markup", "str-subclass", "object"]


class Raw(bytes):
    """A bytes subclass."""


@pytest.mark.parametrize("value", ODD_VALUES, ids=ODD_IDS)
def test_wsgi_a_line_break_in_a_value_of_another_type_is_dropped(value: Any) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("X-Note", value), ("X-Fine", "1")])
        return [b"ok"]

    _, headers, _ = wsgi_call(ConsentWSGIMiddleware(app, config=make_config()))
    assert headers == [("X-Fine", "1")]
    assert all(type(v) is str for _, v in headers)


@pytest.mark.parametrize(
    "value",
    [Raw(INJECTED.encode()), bytearray(INJECTED.encode())],
    ids=["bytes-subclass", "bytearray"],
)
def test_asgi_a_line_break_in_a_value_of_another_type_is_dropped(value: Any) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"x-note", value), (b"x-fine", b"1")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    start = run_asgi(ConsentMiddleware(app, config=make_config()), http_scope())[0]
    assert start["headers"] == [(b"x-fine", b"1")]


def test_wsgi_a_set_cookie_of_another_type_is_judged_as_the_server_writes_it() -> None:
    """A str subclass whose `__str__` is not its text: the server writes the `__str__`."""

    class Sly(str):
        def __str__(self) -> str:
            return "_fbp=1; Max-Age=31536000; Path=/"

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Set-Cookie", Sly("session=s1; Path=/"))])
        return [b"ok"]

    _, headers, _ = wsgi_call(ConsentWSGIMiddleware(app, config=make_config()))
    assert [str(v) for n, v in headers if n.lower() == "set-cookie"] == []


def test_asgi_a_bytearray_set_cookie_still_gets_the_carried_cookies_deleted() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"set-cookie", bytearray(b"session=s1; Path=/"))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    middleware = ConsentMiddleware(app, config=make_config())
    start = run_asgi(middleware, http_scope(cookie="_fbp=old; session=s0"))[0]
    cookies = [bytes(v) for n, v in start["headers"] if n == b"set-cookie"]
    assert cookies[0] == b"session=s1; Path=/"
    assert [c for c in cookies if c.startswith(b"_fbp=;") and b"Max-Age=0" in c]


def test_asgi_a_bytearray_set_cookie_of_a_refused_category_never_leaves() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(bytearray(b"set-cookie"), bytearray(b"_fbp=1; Path=/"))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    start = run_asgi(ConsentMiddleware(app, config=make_config()), http_scope())[0]
    assert not [v for n, v in start["headers"] if bytes(n).lower() == b"set-cookie"]


@pytest.mark.server
@pytest.mark.parametrize("path", ["/markup", "/subclass", "/object"])
@pytest.mark.parametrize("server", ["werkzeug", "wsgiref-O"])
def test_on_a_server_that_writes_values_with_percent_s(
    server: str, path: str, tmp_path: Path
) -> None:
    port = free_port()
    command = server_command(server.removesuffix("-O"), "tests.fixtures.odd_value_apps:wsgi", port)
    if server.endswith("-O"):
        command.insert(1, "-O")  # wsgiref checks header types only with assertions on
    with running(command, port, tmp_path / f"{server}.log"):
        control = raw_get(port, "/plain")
        answer = raw_get(port, path)
    assert control.values(b"x-note") == [b"plain"]
    assert answer.status == 200
    assert answer.values(b"set-cookie") == []
    assert answer.values(b"x-note") == []


def test_the_fixture_injects_without_the_middleware() -> None:
    """Control: the bare app's header does break the line (werkzeug writes it as is)."""
    _, headers, _ = wsgi_call(odd_value_apps.bare_wsgi, "/markup")
    assert "\r\nSet-Cookie: _fbp=" in str(dict(headers)["X-Note"])  # as "%s" writes it


def test_wsgi_a_bytes_value_is_judged_as_the_server_writes_it() -> None:
    """PEP 3333 wants text. werkzeug's server writes a bytes value with `"%s"`:
    `Set-Cookie: b'session=s1; Path=/'`, which Chromium stores as a cookie named
    `b'session`, one no rule names (blocked by default), for a visitor who never decided."""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Set-Cookie", b"session=s1; Path=/"), ("X-Fine", "1")])
        return [b"ok"]

    _, headers, _ = wsgi_call(ConsentWSGIMiddleware(app, config=make_config()))
    assert headers == [("X-Fine", "1")]
    assert all(type(v) is str for _, v in headers)


def test_wsgi_a_refused_carried_cookie_is_still_expired_beside_a_bytes_value() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("X-Note", b"plain")])
        return [b"ok"]

    middleware = ConsentWSGIMiddleware(app, config=make_config())
    _, headers, _ = wsgi_call(middleware, cookie="_fbp=old")
    assert [v for n, v in headers if n.lower() == "set-cookie" and v.startswith("_fbp=;")]


@pytest.mark.server
def test_werkzeug_sends_no_cookie_of_a_bytes_value(tmp_path: Path) -> None:
    port = free_port()
    command = server_command("werkzeug", "tests.fixtures.odd_value_apps:wsgi", port)
    with running(command, port, tmp_path / "werkzeug.log"):
        answer = raw_get(port, "/bytes")
    assert answer.status == 200
    assert answer.values(b"set-cookie") == []
