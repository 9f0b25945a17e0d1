"""`check-config --probe PATH`: ask the app itself, in-process, which cookies it sets, and
hold them against the config (cookies no rule names; cookies set at a Path or Domain that
their rule does not name, which only a worker that saw them set could expire).

The request goes to the app below the middleware, as a visitor who accepted everything,
so that code which checks consent first sets its cookies too. It is bounded in time, and an
app that fails or never answers is a finding about that path, not a traceback or a hang.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import threading
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

from .asgi import ConsentMiddleware
from .config import ALWAYS, ConsentConfig
from .context import CONSENT_KEY, CONTEXT_KEY
from .cookies import DELETION_MARGIN, default_path, deletion_time, judged_names, parse_set_cookie
from .discovery import WRAPPED_ATTRS
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
        #: Path -> the Set-Cookie values the whole app (the middleware included, and any
        #: middleware outside it) sends a visitor who has not chosen.
        self.outside: dict[str, list[str]] = {}


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
        for name in WRAPPED_ATTRS:
            inner = getattr(current, name, None)
            if inner is not None and not isinstance(inner, (str, bytes, int, float)):
                todo.append((inner, depth + 1))
    return None


def probe_set_cookies(
    app: Any, paths: list[str], timeout: float = TIMEOUT, root_path: str = ""
) -> ProbeResult:
    """Path -> the Set-Cookie values the app below the middleware answers with. With
    `root_path` (the app's mount prefix, as uvicorn's `--root-path` or WSGI's
    `SCRIPT_NAME` give it), each path is below it, as the browser asks for it."""
    root_path = root_path.rstrip("/")
    if root_path and not root_path.startswith("/"):
        raise ValueError(f"a root path must start with '/': {root_path!r}")
    middleware = _middleware(app)
    if middleware is None:
        raise LookupError("no ConsentMiddleware or ConsentWSGIMiddleware found in the app")
    core = middleware.core
    codec = core.policy.codec
    cookie = f"{core.config.cookie_name}={codec.encode(codec.decide(core.config.category_names))}"
    found = ProbeResult()
    session = _AsgiSession(app, timeout) if isinstance(middleware, ConsentMiddleware) else None
    try:
        if session is not None:
            session.start()
        for path in paths:
            _probe_path(found, middleware, session, root_path, path, cookie, timeout)
            if app is not middleware:
                _probe_outside(found, app, session, root_path, path, timeout)
    finally:
        if session is not None:
            session.stop()
    return found


def _probe_path(
    found: ProbeResult,
    middleware: ConsentMiddleware | ConsentWSGIMiddleware,
    session: _AsgiSession | None,
    root: str,
    path: str,
    cookie: str,
    timeout: float,
) -> None:
    """Probe one path; the result is keyed by the browser's path (`root` + `path`)."""
    ctx = middleware.core.begin(cookie, False, root=root, path=path.partition("?")[0])
    call: Callable[[], tuple[int | None, list[str]]]
    where = root + path
    try:
        if session is not None:
            status, found[where] = session.probe(middleware.app, root, path, cookie, ctx)
        else:
            call = functools.partial(_wsgi_probe, middleware.app, root, path, cookie, ctx)
            status, found[where] = _bounded(call, timeout)
    except _ProbeFailed as exc:
        found[where], found.failures[where] = [], f"could not be probed: {exc}"
    except Exception as exc:  # the app's own error: one line that names it
        found[where] = []
        found.failures[where] = f"could not be probed: the app raised {_one_line(exc)}"
    else:
        if status is not None and status >= 500:
            found.failures[where] = (
                f"answered {status}: the app failed, and only its error page's cookies were seen"
            )


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


def _probe_outside(
    found: ProbeResult,
    app: Any,
    session: _AsgiSession | None,
    root: str,
    path: str,
    timeout: float,
) -> None:
    """GET the path through the whole app, as a server does, for a visitor who has not
    chosen: a cookie of an optional category there was set outside the middleware."""
    if (root + path) in found.failures:
        return
    try:
        if session is not None:
            _, found.outside[root + path] = session.probe(app, root, path, "", None)
        else:
            call = functools.partial(_wsgi_probe, app, root, path, "", None)
            _, found.outside[root + path] = _bounded(call, timeout)
    except Exception:  # noqa: S110 - the path's own probe reported what the app does
        pass


class _AsgiSession:
    """One event loop, in a daemon thread, for every probed path of an ASGI app, with the
    app's lifespan around them as a server runs it: startup first (an app that opens its
    database pool or sets `app.state` there answers as it does when served), the state it
    leaves copied into each request's scope, shutdown last. An app without lifespan support
    (it raises or returns at once, as Django's does) is probed without, as uvicorn's "auto"
    mode does; one whose startup fails or hangs is a finding for every path."""

    def __init__(self, app: Any, timeout: float) -> None:
        self.app = app
        self.timeout = timeout
        self.state: dict[str, Any] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._serve, name="consent-middleware probe", daemon=True
        )
        self._to_app: asyncio.Queue[dict[str, Any]] | None = None
        self._task: asyncio.Future[Any] | None = None
        self._failed: str | None = None
        #: The path whose request still holds the loop (a sync call in an async app).
        self._stuck: str | None = None

    def start(self) -> None:
        self._thread.start()
        try:
            self._failed = self._run(self._startup(), "the app's lifespan startup did not end")
        except _ProbeFailed as exc:
            self._failed = str(exc)

    def probe(
        self, app: Any, root: str, path: str, cookie: str, ctx: Any
    ) -> tuple[int | None, list[str]]:
        """GET `path` from `app`: below the middleware with `ctx`, through it with None."""
        if self._failed is not None:
            raise _ProbeFailed(self._failed)
        if self._stuck is not None:
            raise _ProbeFailed(f"the app was still answering GET {self._stuck}")
        try:
            return self._run(
                _asgi_probe(app, root, path, cookie, ctx, self.timeout, self.state, self.app),
                "the app did not answer",
            )
        except _ProbeFailed:
            self._stuck = path
            raise

    def stop(self) -> None:
        try:
            if self._task is not None and self._failed is None and self._stuck is None:
                self._run(self._shutdown(), "the app's lifespan shutdown did not end")
        except _ProbeFailed:
            pass  # every path is probed already: a slow shutdown changes no finding
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(2 * _GRACE)

    def _serve(self) -> None:
        """The loop's thread: the loop runs until `stop`, then what is left is cancelled
        and the loop closed (also when an app held it past `stop`, once it lets go)."""
        loop = self._loop
        try:
            loop.run_forever()
            left = asyncio.all_tasks(loop)
            for task in left:
                task.cancel()
            if left:
                loop.run_until_complete(asyncio.wait(left, timeout=_GRACE))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()

    def _run(self, coro: Coroutine[Any, Any, _T], late: str) -> _T:
        """`coro` on the session's loop; `late` says what a timeout means (the loop is
        then held by the app: a blocking call, or a task that ignores cancellation)."""
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(self.timeout + 2 * _GRACE)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise _ProbeFailed(f"{late} within {self.timeout:g} s") from None

    async def _startup(self) -> str | None:
        """None once started (or without lifespan support), else why it failed."""
        to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        await to_app.put({"type": "lifespan.startup"})
        scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self.state,
        }
        task = asyncio.ensure_future(self.app(scope, to_app.get, from_app.put))
        answer = asyncio.ensure_future(from_app.get())
        done, _ = await asyncio.wait(
            {task, answer}, timeout=self.timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if answer not in done:
            answer.cancel()
            if not done:
                task.cancel()
                return f"the app's lifespan startup did not end within {self.timeout:g} s"
            if not task.cancelled():
                task.exception()  # retrieved: an app without lifespan support raises here
            return None
        message = answer.result()
        kind = message.get("type")
        if kind == "lifespan.startup.complete":
            self._task, self._to_app = task, to_app
            return None
        task.cancel()
        if kind != "lifespan.startup.failed":
            return None  # an app that takes every scope for HTTP: it has no lifespan
        # Starlette's message is the traceback: its last line names the error.
        reason = str(message.get("message") or "").strip().splitlines()
        failed = "the app's lifespan startup failed"
        return failed + (f": {reason[-1].strip()[:200]}" if reason else "")

    async def _shutdown(self) -> None:
        assert self._task is not None and self._to_app is not None
        await self._to_app.put({"type": "lifespan.shutdown"})
        await asyncio.wait({self._task}, timeout=_GRACE)
        if not self._task.done():
            self._task.cancel()


async def _asgi_probe(
    app: Any,
    root: str,
    path: str,
    cookie: str,
    ctx: Any,
    timeout: float,
    state: dict[str, Any],
    top: Any = None,
) -> tuple[int | None, list[str]]:
    """One GET as a server makes it: the empty body, then, once the response is complete,
    `http.disconnect` (apps that listen for it, e.g. while they stream, then return)."""
    path, _, query = path.partition("?")
    headers = [(b"host", b"localhost")]
    if cookie:
        headers.append((b"cookie", cookie.encode("latin-1")))
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": root + path,  # the ASGI path includes the root path
        "raw_path": (root + path).encode(),
        "query_string": query.encode("latin-1"),
        "root_path": root,
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("localhost", 80),
        "state": dict(state),  # what lifespan startup left, as servers copy it per request
    }
    if ctx is not None:  # below the middleware: what it hands the app
        scope[CONTEXT_KEY], scope[CONSENT_KEY] = ctx, ctx.consent
    if ctx is not None and top is not None and not isinstance(top, ConsentMiddleware):
        scope["app"] = top  # what Starlette and Litestar set above the middleware (request.app)
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


def _wsgi_probe(
    app: Any, root: str, path: str, cookie: str, ctx: Any
) -> tuple[int | None, list[str]]:
    import io
    import sys

    path, _, query = path.partition("?")
    environ = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": root,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "localhost",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if cookie:
        environ["HTTP_COOKIE"] = cookie
    if ctx is not None:  # below the middleware: what it hands the app
        environ[CONTEXT_KEY], environ[CONSENT_KEY] = ctx, ctx.consent
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
    outside = set_cookies.outside if isinstance(set_cookies, ProbeResult) else {}
    for path, values in outside.items():
        for name in _unjudged(config, values):
            reported.add(name)
            findings.append(
                f"GET {path} sends cookie {name!r} to a visitor who has not chosen: it is set"
                " outside ConsentMiddleware, where nothing judges it (by a middleware added"
                " after it, such as an @app.middleware('http') function): add"
                " ConsentMiddleware last, so that it runs outermost"
            )
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
                where_path = parsed.path or default_path(path.partition("?")[0])
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


def _unjudged(config: ConsentConfig, values: list[str]) -> list[str]:
    """Names of optional cookies set (not deleted) in `values`, which the middleware would
    have removed for a visitor who has not chosen."""
    names = []
    for value in values:
        attributes = value.split(";", 1)[1] if ";" in value else ""
        if deletion_time(attributes) <= time.time() - DELETION_MARGIN:
            continue  # a deletion: it takes nothing to the visitor
        for name in judged_names(value):
            rule = config.rules.match(name)
            category = rule.category if rule is not None else None
            if name == config.cookie_name or category == ALWAYS:
                continue
            if category in config.required_categories:
                continue
            if category is None and config.unknown_rule is not None:
                continue
            names.append(name)
    return list(dict.fromkeys(names))


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
