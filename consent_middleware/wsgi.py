"""The WSGI adapter: `app.wsgi_app = ConsentWSGIMiddleware(app.wsgi_app, config=config)`.

It wraps `start_response` to filter Set-Cookie headers, passes `exc_info` on, and returns
the app's own iterable (so `close()` and `wsgi.file_wrapper` keep working) unless the
banner must be streamed into an HTML page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any

from .api import ApiRequest, ApiResponse
from .config import ConsentConfig
from .core import CONSENT_KEY, CORE_KEY, BodyFilter, ConsentCore, injectable
from .policy import RequestConsent

__all__ = ["ConsentWSGIMiddleware"]

ExcInfo = tuple[type[BaseException], BaseException, TracebackType]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIEnviron = dict[str, Any]
WSGIApp = Callable[[WSGIEnviron, StartResponse], Iterable[bytes]]

_SET_COOKIE, _CONTENT_TYPE, _CONTENT_ENCODING, _CSP, _CONTENT_LENGTH = range(5)
_RESPONSE_HEADERS = {
    "set-cookie": _SET_COOKIE,
    "Set-Cookie": _SET_COOKIE,
    "content-type": _CONTENT_TYPE,
    "Content-Type": _CONTENT_TYPE,
    "content-encoding": _CONTENT_ENCODING,
    "Content-Encoding": _CONTENT_ENCODING,
    "content-security-policy": _CSP,
    "Content-Security-Policy": _CSP,
    "content-length": _CONTENT_LENGTH,
    "Content-Length": _CONTENT_LENGTH,
}

_API_ENVIRON = {
    "CONTENT_TYPE": "content-type",
    "CONTENT_LENGTH": "content-length",
    "HTTP_ORIGIN": "origin",
    "HTTP_SEC_FETCH_SITE": "sec-fetch-site",
    "HTTP_HOST": "host",
    "HTTP_REFERER": "referer",
    "HTTP_ACCEPT_LANGUAGE": "accept-language",
    "HTTP_ACCEPT_ENCODING": "accept-encoding",
    "HTTP_IF_NONE_MATCH": "if-none-match",
}


class ConsentWSGIMiddleware:
    """Consent enforcement for Flask and any WSGI application."""

    def __init__(self, app: WSGIApp, *, config: ConsentConfig) -> None:
        self.app = app
        self.core = ConsentCore(config)
        self.config = config
        self._place_yourself = not config.inject_banner

    def __call__(self, environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        core = self.core
        cookie: str = environ.get("HTTP_COOKIE", "")
        request = core.begin(
            cookie,
            environ.get("wsgi.url_scheme") == "https",
            environ.get("HTTP_SEC_GPC", "").strip() == "1",
            environ.get("HTTP_DNT", "").strip() == "1",
        )
        environ[CONSENT_KEY] = request.consent
        if self._place_yourself:
            environ[CORE_KEY] = core  # for consent_banner(request) in the app's templates

        subpath = core.api_subpath(environ.get("PATH_INFO", ""))
        if subpath is not None:
            return self._answer_api(environ, start_response, subpath, request)

        filtered = request.filtered_cookie_header
        if filtered is not None:
            environ["HTTP_COOKIE"] = filtered

        method = environ.get("REQUEST_METHOD", "GET")
        htmx = "HTTP_HX_REQUEST" in environ
        body_filter: list[BodyFilter] = []
        started = False

        def wrapped_start(
            status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
        ) -> Callable[[bytes], object]:
            nonlocal started
            started = True
            new_headers, made = _edit_headers(core, request, environ, status, headers, method, htmx)
            body_filter[:] = [made] if made is not None else []
            write = start_response(status, new_headers, exc_info)
            if made is None:
                return write

            def write_injected(data: bytes) -> object:
                return write(made.feed(data))

            return write_injected

        body = self.app(environ, wrapped_start)
        if started or body_filter:
            return _FilteredBody(body, body_filter) if body_filter else body
        # A generator app calls start_response at its first step, after this returns:
        # whether its page needs the filter is known only then.
        return _FilteredBody(body, body_filter)

    def _answer_api(
        self,
        environ: WSGIEnviron,
        start_response: StartResponse,
        subpath: str,
        request: RequestConsent,
    ) -> Iterable[bytes]:
        wanted = {key: environ[env] for env, key in _API_ENVIRON.items() if env in environ}
        if "host" not in wanted and "SERVER_NAME" in environ:
            port = environ.get("SERVER_PORT", "")
            default = "443" if environ.get("wsgi.url_scheme") == "https" else "80"
            host = environ["SERVER_NAME"]
            wanted["host"] = host if port in ("", default) else f"{host}:{port}"
        method = environ.get("REQUEST_METHOD", "GET")
        body = b""
        if method in ("POST", "DELETE", "PUT", "PATCH"):
            body = _read_body(environ, self.config.max_body_size)
        query = environ.get("QUERY_STRING", "")
        response = self.core.api.handle(ApiRequest(method, subpath, query, wanted, body, request))
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


def _edit_headers(
    core: ConsentCore,
    request: RequestConsent,
    environ: WSGIEnviron,
    status: str,
    headers: list[tuple[str, str]],
    method: str,
    htmx: bool,
) -> tuple[list[tuple[str, str]], BodyFilter | None]:
    """The headers to send (the app's own list when nothing changes), and the body filter."""
    dropped: set[int] | None = None
    # What leaves anyway, so as not to repeat a deletion the app sends: only if any is due.
    kept_cookies: list[str] | None = [] if request.needs_response_work else None
    content_type = encoding = csp = None
    length: int | None = None
    for index, (name, value) in enumerate(headers):
        kind = _RESPONSE_HEADERS.get(name)
        if kind is None:
            kind = _RESPONSE_HEADERS.get(name.lower())
            if kind is None:
                continue
        if kind == _SET_COOKIE:
            if not core.keeps(value, request):
                if dropped is None:
                    dropped = {index}
                else:
                    dropped.add(index)
            elif kept_cookies is not None:
                kept_cookies.append(value)
        elif kind == _CONTENT_TYPE:
            content_type = value
        elif kind == _CONTENT_ENCODING:
            encoding = value
        elif kind == _CSP:
            csp = value
        else:
            length = index
    html = False
    if content_type is not None and core.rewrites_html:
        try:
            code = int(status.split(" ", 1)[0])
        except ValueError:
            code = 200
        html = injectable(method, code, content_type, encoding)
    extra = core.expirations(request, kept_cookies) if kept_cookies is not None else []
    if dropped is None and not extra and not html:
        return headers, None
    body: BodyFilter | None = None
    added: int | None = 0
    if html:
        return_to = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "/")
        if environ.get("QUERY_STRING"):
            return_to += "?" + environ["QUERY_STRING"]
        body, added = core.page_filter(
            request,
            accept_language=environ.get("HTTP_ACCEPT_LANGUAGE"),
            csp=csp,
            return_to=return_to,
            partial=htmx,
        )
    new_headers: list[tuple[str, str]] = []
    for index, (name, value) in enumerate(headers):
        if dropped is not None and index in dropped:
            continue
        if index == length and body is not None:
            if added is None:
                continue  # unknown length: the server streams it
            try:
                value = str(int(value) + added)
            except ValueError:
                continue  # a broken length would be wrong after the filter too: drop it
        new_headers.append((name, value))
    new_headers.extend(("Set-Cookie", value) for value in extra)
    if html:
        _add_vary_cookie(new_headers)
    return new_headers, body


def _add_vary_cookie(headers: list[tuple[str, str]]) -> None:
    for index, (name, value) in enumerate(headers):
        if name.lower() == "vary":
            tokens = {token.strip().lower() for token in value.split(",")}
            if "cookie" not in tokens and "*" not in tokens:
                headers[index] = (name, value + ", Cookie")
            return
    headers.append(("Vary", "Cookie"))


def _read_body(environ: WSGIEnviron, limit: int) -> bytes:
    declared = environ.get("CONTENT_LENGTH", "") or ""
    if not declared.isdigit():
        # Without a length a WSGI app may not read the input (PEP 3333).
        return b""
    length = int(declared)
    if length > limit:
        return b""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    data: bytes = stream.read(length)
    return data


def _send_response(start_response: StartResponse, response: ApiResponse) -> list[bytes]:
    reason = _REASONS.get(response.status, "Unknown")
    start_response(f"{response.status} {reason}", list(response.headers))
    return [response.body]


_REASONS = {
    200: "OK",
    204: "No Content",
    303: "See Other",
    304: "Not Modified",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    503: "Service Unavailable",
}
