"""The WSGI adapter: `app.wsgi_app = ConsentWSGIMiddleware(app.wsgi_app, config=config)`.

It translates: the environ into `core.begin`, `start_response` into `core.plan_response`,
and hands the server a new header list (never the app's own: headers the app appends after
`start_response` must not slip out). `exc_info` is passed on, and the app's own iterable is
returned (so `close()` and `wsgi.file_wrapper` keep working) unless a page is rewritten.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any

from .api import API_HEADERS, ApiResponse
from .app_kind import check_wsgi_app, reentered
from .config import ConsentConfig
from .context import ACTIVE, CONSENT_KEY, CONTEXT_KEY, RequestContext
from .core import BodyFilter, ConsentCore
from .headers import is_fragment, is_navigation

__all__ = ["ConsentWSGIMiddleware"]

ExcInfo = tuple[type[BaseException], BaseException, TracebackType]
StartResponse = Callable[..., Any]
WSGIEnviron = dict[str, Any]
WSGIApp = Callable[[Any, Any], Iterable[bytes]]

#: Environ key -> the header name the endpoints read it under.
_API_ENVIRON = {
    (
        h.upper().replace("-", "_")
        if h.startswith("content-")
        else "HTTP_" + h.upper().replace("-", "_")
    ): h
    for h in API_HEADERS
}
_LENGTH_RE = re.compile(r"[0-9]{1,18}")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class ConsentWSGIMiddleware:
    """Consent enforcement for Flask and any WSGI application."""

    def __init__(self, app: WSGIApp, *, config: ConsentConfig) -> None:
        check_wsgi_app(app)
        self.app = app
        self.core = ConsentCore(config)
        self.config = config

    def __call__(self, environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        outer = ACTIVE.get()
        if outer is not None:
            # Installed twice, and the outer one is handling this very request: it decides,
            # once (two would put two banners in every page). An outer ConsentMiddleware of
            # an ASGI app that mounts this one left its request in the context only: the
            # app's get_consent reads it.
            if outer.core is self.core:  # this very middleware, again: a loop?
                reentered(environ, "ConsentWSGIMiddleware", "wsgi_app")
            self.core.log_nested()
            if CONTEXT_KEY not in environ:
                environ[CONTEXT_KEY] = outer
                environ[CONSENT_KEY] = outer.state.consent
            return self.app(environ, start_response)
        earlier = environ.get(CONTEXT_KEY)
        if isinstance(earlier, RequestContext):
            # The same environ passed through once already (a middleware outside that
            # retries, or serves an error page through the app again): this pass is judged
            # too, from the Cookie header as the browser sent it.
            environ["HTTP_COOKIE"] = earlier.state.cookie_header
        core = self.core
        ctx = self._begin(environ)
        state = ctx.state
        environ[CONTEXT_KEY] = ctx
        environ[CONSENT_KEY] = state.consent
        subpath = ctx.subpath
        if subpath is not None:
            return self._answer(environ, start_response, ctx, subpath)
        filtered = state.filtered_cookie_header
        if filtered is not None:
            environ["HTTP_COOKIE"] = filtered
        revalidation = ctx.revalidation
        if revalidation is not None:  # validators of ours, translated (validators.py)
            if revalidation.if_none_match is None:
                environ.pop("HTTP_IF_NONE_MATCH", None)
            else:
                environ["HTTP_IF_NONE_MATCH"] = revalidation.if_none_match
            if revalidation.drop_modified_since:
                environ.pop("HTTP_IF_MODIFIED_SINCE", None)
        chosen: list[BodyFilter] = []
        started = False
        statuses = core.status_lines

        def wrapped_start(
            status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
        ) -> Callable[[bytes], object]:
            nonlocal started
            started = True
            known = statuses.get(status) if type(status) is str else None
            code, status = known if known is not None else core.status_line(status)
            sent, made = core.plan_response(ctx, code, headers, False)
            if made is not None or chosen:  # a second call (exc_info) may drop the filter
                chosen[:] = () if made is None else (made,)
            write: Callable[[bytes], object] = start_response(status, sent, exc_info)
            if made is None:
                return write
            return lambda data: write(made.feed(data))

        active = ACTIVE.set(ctx)  # while the app runs: an inner one steps aside
        try:
            body = self.app(environ, wrapped_start)
        finally:
            ACTIVE.reset(active)
        if started and not chosen:
            return body
        # A generator app calls start_response at its first step, after this returns:
        # whether its page needs the filter is known only then.
        return _FilteredBody(body, chosen)

    def _begin(self, environ: WSGIEnviron) -> RequestContext:
        get = environ.get
        root = get("SCRIPT_NAME", "")
        path = get("PATH_INFO", "")
        gpc = get("HTTP_SEC_GPC")
        dnt = get("HTTP_DNT")
        htmx = "HTTP_HX_REQUEST" in environ
        frame = "HTTP_TURBO_FRAME" in environ or "HTTP_X_UP_TARGET" in environ
        requested_with = get("HTTP_X_REQUESTED_WITH")
        fragment = (htmx or frame or requested_with is not None) and is_fragment(
            htmx, get("HTTP_HX_BOOSTED"), frame, requested_with
        )
        dest = get("HTTP_SEC_FETCH_DEST")
        return self.core.begin(  # positional: the hot path
            get("HTTP_COOKIE", ""),
            get("wsgi.url_scheme") == "https",
            gpc is not None and gpc.strip() == "1",
            dnt is not None and dnt.strip() == "1",
            get("REQUEST_METHOD", "GET"),
            root if root.isascii() else _text(root),
            (path if path.isascii() else _text(path)) or "/",
            get("QUERY_STRING", ""),
            get("HTTP_ACCEPT_LANGUAGE"),
            fragment,
            "HTTP_X_CONSENT_REFRESH" in environ,
            get("HTTP_IF_NONE_MATCH"),
            # The path as sent: waitress and werkzeug set REQUEST_URI, gunicorn RAW_URI.
            get("REQUEST_URI") or get("RAW_URI"),
            ("HTTP_IF_NONE_MATCH" in environ or "HTTP_IF_MODIFIED_SINCE" in environ)
            and dest is not None
            and is_navigation(dest),
        )

    def _answer(
        self,
        environ: WSGIEnviron,
        start_response: StartResponse,
        ctx: RequestContext,
        subpath: str,
    ) -> Iterable[bytes]:
        wanted = {key: environ[env] for env, key in _API_ENVIRON.items() if env in environ}
        if "host" not in wanted and "SERVER_NAME" in environ:
            port = environ.get("SERVER_PORT", "")
            default = "443" if environ.get("wsgi.url_scheme") == "https" else "80"
            host = environ["SERVER_NAME"]
            wanted["host"] = host if port in ("", default) else f"{host}:{port}"
        body, too_large = b"", False
        if ctx.method in _BODY_METHODS:
            body, too_large = _read_body(environ, self.config.max_body_size)
        client = environ.get("REMOTE_ADDR")
        response = self.core.answer(
            ctx, subpath, wanted, body, too_large=too_large, client=client or None
        )
        return _send_response(start_response, response)


class _FilteredBody:
    """The app's body streamed through the page filter that `start_response` chose (if any,
    by the first chunk); `close()` reaches the app's iterable."""

    def __init__(self, body: Iterable[bytes], chosen: list[BodyFilter]) -> None:
        self._body = body
        self._chosen = chosen

    def __iter__(self) -> Iterator[bytes]:
        chosen = self._chosen
        for chunk in self._body:
            out = chosen[0].feed(chunk) if chosen else chunk
            if out:
                yield out
        if chosen:
            tail = chosen[0].finish()
            if tail:
                yield tail

    def close(self) -> None:
        close = getattr(self._body, "close", None)
        if close is not None:
            close()


def _text(value: str) -> str:
    """A path as ASGI gives it: WSGI hands over its bytes decoded as latin-1 (PEP 3333)."""
    if value.isascii():
        return value
    try:
        return value.encode("latin-1").decode("utf-8", "replace")
    except UnicodeEncodeError:  # a server that already decoded it
        return value


def _read_body(environ: WSGIEnviron, limit: int) -> tuple[bytes, bool]:
    """A small request body, and whether it is longer than `limit`. Without a valid
    Content-Length a WSGI app may not read the input (PEP 3333), so the body is empty."""
    declared = str(environ.get("CONTENT_LENGTH", "") or "").strip()
    stream = environ.get("wsgi.input")
    if stream is None:
        return b"", False
    if not _LENGTH_RE.fullmatch(declared):
        if declared.isdigit() and declared.isascii():
            return b"", True  # 19 digits or more: far over any limit, and never read
        if declared or not environ.get("wsgi.input_terminated"):
            # No number (the endpoint answers bad_length); reading would wait on the
            # server's idea of that length (gunicorn waits for all of 10**20 bytes).
            return b"", False
        # A chunked body the server ends for us (gunicorn, werkzeug): read one byte more
        # than allowed, to tell a body over the limit.
        head: bytes = stream.read(limit + 1)
        return (b"", True) if len(head) > limit else (head, False)
    length = int(declared)
    if length > limit:
        return b"", True
    data: bytes = stream.read(length)
    return data, False


def _send_response(start_response: StartResponse, response: ApiResponse) -> list[bytes]:
    start_response(response.status_line, list(response.headers))
    return [response.body]
