"""`check-config --probe PATH`: ask the app itself, in-process, which cookies it sets, and
hold them against the config (cookies no rule names; cookies set at a Path or Domain that
their rule does not name, which only a worker that saw them set could expire).

The request goes to the app below the middleware, as a visitor who accepted everything,
so that code which checks consent first sets its cookies too. It is bounded in time, and an
app that fails or never answers is a finding about that path, not a traceback or a hang.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from .asgi import ConsentMiddleware
from .config import ALWAYS, ConsentConfig
from .context import CONSENT_KEY, CONTEXT_KEY
from .cookies import default_path, judged_names, parse_set_cookie
from .wsgi import ConsentWSGIMiddleware

__all__ = ["ProbeResult", "probe_findings", "probe_set_cookies"]

_MAX_DEPTH = 32
#: Seconds one probed request may take: long enough for a cold first request, short enough
#: that an app which never answers is reported, not waited for.
TIMEOUT = 5.0
#: Once its response is complete, how long the app has to return before it is cancelled.
_GRACE = 1.0

_T = TypeVar("_T")


class ProbeResult(dict[str, list[str]]):
    """Path -> the Set-Cookie values the app answered with; `failures` holds, per path, why
    the app gave no (or no trustworthy) answer, so that `probe_findings` reports it too."""

    def __init__(self) -> None:
        super().__init__()
        self.failures: dict[str, str] = {}


class _ProbeFailed(Exception):
    """The app did not answer the probe usefully; the message is the finding's tail."""


def _middleware(obj: Any) -> ConsentMiddleware | ConsentWSGIMiddleware | None:
    """The middleware instance inside an app (a Starlette app's stack is built for it)."""
    todo: list[tuple[Any, int]] = [(obj, 0)]
    seen: set[int] = set()
    while todo:
        current, depth = todo.pop(0)
        if current is None or id(current) in seen or depth > _MAX_DEPTH:
            continue
        seen.add(id(current))
        if isinstance(current, (ConsentMiddleware, ConsentWSGIMiddleware)):
            return current
        build = getattr(current, "build_middleware_stack", None)
        if callable(build) and getattr(current, "user_middleware", None) is not None:
            todo.append((build(), depth + 1))
        # Flask's wsgi_app, Quart's asgi_app, ASGI/WSGI middleware's .app, a built stack.
        for name in ("wsgi_app", "asgi_app", "middleware_stack", "app", "application"):
            inner = getattr(current, name, None)
            if inner is not None and not isinstance(inner, (str, bytes, int, float)):
                todo.append((inner, depth + 1))
    return None


def probe_set_cookies(app: Any, paths: list[str], timeout: float = TIMEOUT) -> ProbeResult:
    """Path -> the Set-Cookie values the app below the middleware answers with."""
    middleware = _middleware(app)
    if middleware is None:
        raise LookupError("no ConsentMiddleware or ConsentWSGIMiddleware found in the app")
    core = middleware.core
    codec = core.policy.codec
    cookie = f"{core.config.cookie_name}={codec.encode(codec.decide(core.config.category_names))}"
    found = ProbeResult()
    for path in paths:
        ctx = core.begin(cookie, False, path=path)
        call: Callable[[], tuple[int | None, list[str]]]
        if isinstance(middleware, ConsentMiddleware):
            call = functools.partial(_asgi_run, middleware.app, path, cookie, ctx, timeout)
        else:
            call = functools.partial(_wsgi_probe, middleware.app, path, cookie, ctx)
        try:
            status, found[path] = _bounded(call, timeout)
        except _ProbeFailed as exc:
            found[path], found.failures[path] = [], f"could not be probed: {exc}"
        except Exception as exc:  # the app's own error: one line that names it
            found[path] = []
            found.failures[path] = f"could not be probed: the app raised {_one_line(exc)}"
        else:
            if status is not None and status >= 500:
                found.failures[path] = (
                    f"answered {status}: the app failed, and only its error page's cookies"
                    " were seen"
                )
    return found


def _bounded(call: Callable[[], _T], timeout: float) -> _T:
    """`call()` in a daemon thread, given up on soon after `timeout`: even an app that blocks
    its thread (a sync view, a WSGI app) cannot hang the command."""
    result: list[_T] = []
    error: list[BaseException] = []

    def run() -> None:
        try:
            result.append(call())
        except BaseException as exc:  # handed over to the caller's thread
            error.append(exc)

    thread = threading.Thread(target=run, name="consent-middleware probe", daemon=True)
    thread.start()
    thread.join(timeout + 2 * _GRACE)  # the ASGI probe gives up by itself, and cleanly, first
    if thread.is_alive():
        raise _ProbeFailed(f"the app did not answer within {timeout:g} s")
    if error:
        raise error[0]
    return result[0]


def _asgi_run(
    app: Any, path: str, cookie: str, ctx: Any, timeout: float
) -> tuple[int | None, list[str]]:
    return asyncio.run(_asgi_probe(app, path, cookie, ctx, timeout))


async def _asgi_probe(
    app: Any, path: str, cookie: str, ctx: Any, timeout: float
) -> tuple[int | None, list[str]]:
    """One GET as a server makes it: the empty body, then, once the response is complete,
    `http.disconnect` (apps that listen for it, e.g. while they stream, then return)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost"), (b"cookie", cookie.encode("latin-1"))],
        "client": ("127.0.0.1", 1),
        "server": ("localhost", 80),
        "state": {},
        CONTEXT_KEY: ctx,
        CONSENT_KEY: ctx.consent,
    }
    out: list[str] = []
    status: int | None = None
    trailers = False
    body_read = False
    complete = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal body_read
        if not body_read:
            body_read = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await complete.wait()  # a client that reads the whole answer, then goes away
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, trailers
        kind = message.get("type")
        if kind == "http.response.start" and status is None:
            status = int(message.get("status", 200))
            trailers = bool(message.get("trailers"))
            for name, value in message.get("headers") or ():
                if _text(name).strip().lower() == "set-cookie":
                    out.append(_text(value))
        last_body = kind == "http.response.body" and not message.get("more_body")
        if (last_body and not trailers) or (
            kind == "http.response.trailers" and not message.get("more_trailers")
        ):
            complete.set()

    task = asyncio.ensure_future(app(scope, receive, send))
    waiter = asyncio.ensure_future(complete.wait())
    try:
        await asyncio.wait({task, waiter}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if not task.done() and complete.is_set():
            await asyncio.wait({task}, timeout=_GRACE)
    finally:
        waiter.cancel()
        if not task.done():
            task.cancel()
            await asyncio.wait({task})
    error = None if task.cancelled() else task.exception()
    if error is not None:
        raise error
    if status is None:
        raise _ProbeFailed(f"the app did not answer within {timeout:g} s")
    # Its headers are all the probe needs: a body still streaming at the timeout is no failure.
    return status, out


def _wsgi_probe(app: Any, path: str, cookie: str, ctx: Any) -> tuple[int | None, list[str]]:
    import io
    import sys

    environ = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "localhost",
        "HTTP_COOKIE": cookie,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        CONTEXT_KEY: ctx,
        CONSENT_KEY: ctx.consent,
    }
    out: list[str] = []
    status: list[int] = []

    def start_response(status_line: str, headers: list[tuple[str, str]], exc: Any = None) -> Any:
        code = status_line.split(None, 1)[0] if status_line else ""
        status[:] = [int(code)] if code.isdigit() else []
        out[:] = [v for n, v in headers if n.strip().lower() == "set-cookie"]
        return lambda data: None

    body = app(environ, start_response)
    try:
        for _ in body:
            pass
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    return (status[0] if status else None), out


def probe_findings(config: ConsentConfig, set_cookies: Mapping[str, list[str]]) -> list[str]:
    """What the app's own Set-Cookie headers say about the config."""
    findings: list[str] = []
    reported: set[str] = set()
    failures = set_cookies.failures if isinstance(set_cookies, ProbeResult) else {}
    for path, values in set_cookies.items():
        if path in failures:
            findings.append(f"GET {path} {failures[path]}")
        for value in values:
            parsed = parse_set_cookie(value)
            for name in judged_names(value):
                if not name or name in reported or name == config.cookie_name:
                    continue
                rule = config.rules.match(name)
                if rule is None:
                    if config.unknown_rule is None:
                        reported.add(name)
                        findings.append(
                            f"GET {path} sets cookie {name!r}, which no rule in cookies= names:"
                            " it is blocked for every visitor (give it its category)"
                        )
                    continue
                if rule.category == ALWAYS or rule.category in config.required_categories:
                    continue
                domain = (rule.domain or "").lstrip(".").lower() or None
                # Without a valid Path, the cookie lands in the request's directory.
                where_path = parsed.path or default_path(path)
                if where_path != rule.path or (parsed.domain or None) != domain:
                    reported.add(name)
                    where = f"Path={where_path}" + (
                        f" Domain={parsed.domain}" if parsed.domain else ""
                    )
                    findings.append(
                        f"GET {path} sets {name!r} at {where}, which its rule does not name:"
                        " when refused, it is expired only by a worker that saw the app set it"
                        " (not after a restart): use CookieRule"
                        f"({rule.category!r}, path={where_path!r}"
                        + (f", domain={parsed.domain!r}" if parsed.domain else "")
                        + ")"
                    )
    return findings


def _one_line(exc: BaseException) -> str:
    """`Type: message` on one line (a multi-line message is cut to its first line)."""
    lines = str(exc).strip().splitlines()
    message = lines[0][:200] if lines else ""
    cause = exc.__cause__ or exc.__context__
    if not message and cause is not None:
        return f"{type(exc).__name__} ({_one_line(cause)})"
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _text(value: Any) -> str:
    return value.decode("latin-1") if isinstance(value, (bytes, bytearray)) else str(value)
