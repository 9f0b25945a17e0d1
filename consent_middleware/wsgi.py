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
from .banner import HtmlInjector
from .config import ConsentConfig
from .core import CONSENT_KEY, CORE_KEY, ConsentCore, injectable
from .policy import RequestConsent

__all__ = ["ConsentWSGIMiddleware"]

ExcInfo = tuple[type[BaseException], BaseException, TracebackType]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIEnviron = dict[str, Any]
WSGIApp = Callable[[WSGIEnviron, StartResponse], Iterable[bytes]]

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

    def __call__(self, environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        core = self.core
        cookie: str = environ.get("HTTP_COOKIE", "")
        request = core.begin(
            cookie,
            https=environ.get("wsgi.url_scheme") == "https",
            gpc=environ.get("HTTP_SEC_GPC", "").strip() == "1",
            dnt=environ.get("HTTP_DNT", "").strip() == "1",
        )
        environ[CONSENT_KEY] = request.consent
        environ[CORE_KEY] = core

        subpath = core.api_subpath(environ.get("PATH_INFO", ""))
        if subpath is not None:
            return self._answer_api(environ, start_response, subpath, request)

        if cookie:
            filtered = core.request_cookie_header(request)
            if filtered is not None:
                environ["HTTP_COOKIE"] = filtered

        method = environ.get("REQUEST_METHOD", "GET")
        htmx = "HTTP_HX_REQUEST" in environ
        injector: list[HtmlInjector] = []

        def wrapped_start(
            status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
        ) -> Callable[[bytes], object]:
            new_headers, made = _edit_headers(core, request, environ, status, headers, method, htmx)
            injector[:] = [made] if made is not None else []
            write = start_response(status, new_headers, exc_info)
            if made is None:
                return write

            def write_injected(data: bytes) -> object:
                return write(made.feed(data))

            return write_injected

        body = self.app(environ, wrapped_start)
        if not injector:
            return body
        return _InjectedBody(body, injector[0])

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


class _InjectedBody:
    """The app's body with the banner streamed in; `close()` reaches the app's iterable."""

    def __init__(self, body: Iterable[bytes], injector: HtmlInjector) -> None:
        self._body = body
        self._injector = injector

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._body:
            out = self._injector.feed(chunk)
            if out:
                yield out
        tail = self._injector.finish()
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
) -> tuple[list[tuple[str, str]], HtmlInjector | None]:
    set_cookies = [value for name, value in headers if name.lower() == "set-cookie"]
    content_type = encoding = csp = None
    for name, value in headers:
        lowered = name.lower()
        if lowered == "content-type":
            content_type = value
        elif lowered == "content-encoding":
            encoding = value
        elif lowered == "content-security-policy":
            csp = value
    try:
        code = int(status.split(" ", 1)[0])
    except ValueError:
        code = 200
    html = core.config.inject_banner and injectable(method, code, content_type, encoding, htmx)
    if not set_cookies and not html and not request.cookie_header:
        return headers, None
    return_to = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "/")
    if environ.get("QUERY_STRING"):
        return_to += "?" + environ["QUERY_STRING"]
    plan = core.plan_response(
        request,
        set_cookies,
        html=html,
        accept_language=environ.get("HTTP_ACCEPT_LANGUAGE"),
        csp=csp,
        return_to=return_to,
    )
    new_headers: list[tuple[str, str]] = []
    cookie_index = 0
    for name, value in headers:
        if name.lower() == "set-cookie":
            keep = plan.keep[cookie_index]
            cookie_index += 1
            if not keep:
                continue
        new_headers.append((name, value))
    new_headers.extend(("Set-Cookie", value) for value in plan.extra_cookies)
    if plan.vary_cookie:
        _add_vary_cookie(new_headers)
    if plan.snippet is None:
        return new_headers, None
    for index, (name, value) in enumerate(new_headers):
        if name.lower() == "content-length":
            try:
                new_headers[index] = (name, str(int(value) + len(plan.snippet)))
            except ValueError:
                return new_headers, None
    return new_headers, HtmlInjector(plan.snippet)


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
