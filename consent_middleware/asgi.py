"""The ASGI adapter: a pure ASGI middleware (no BaseHTTPMiddleware) over `ConsentCore`.

It edits only the `http.response.start` message's header list and streams every body
message on as it comes (through the banner injector for undecided visitors' pages).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .api import ApiRequest, ApiResponse
from .banner import HtmlInjector
from .config import ConsentConfig
from .core import CONSENT_KEY, CORE_KEY, ConsentCore, injectable

__all__ = ["ConsentMiddleware"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_API_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "origin",
        "sec-fetch-site",
        "host",
        "referer",
        "accept-language",
        "accept-encoding",
        "if-none-match",
    }
)


class ConsentMiddleware:
    """`app.add_middleware(ConsentMiddleware, config=config)`."""

    def __init__(self, app: ASGIApp, *, config: ConsentConfig) -> None:
        self.app = app
        self.core = ConsentCore(config)
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        core = self.core
        cookie = ""
        gpc = dnt = htmx = False
        accept_language: str | None = None
        headers = scope.get("headers") or ()
        for raw_name, raw_value in headers:
            name = raw_name.lower()
            if name == b"cookie":
                value = raw_value.decode("latin-1")
                cookie = f"{cookie}; {value}" if cookie else value
            elif name == b"sec-gpc":
                gpc = raw_value.strip() == b"1"
            elif name == b"dnt":
                dnt = raw_value.strip() == b"1"
            elif name == b"accept-language":
                accept_language = raw_value.decode("latin-1")
            elif name == b"hx-request":
                htmx = True
        request = core.begin(cookie, https=scope.get("scheme") == "https", gpc=gpc, dnt=dnt)
        scope[CONSENT_KEY] = request.consent
        scope[CORE_KEY] = core

        path: str = scope.get("path", "")
        subpath = core.api_subpath(path)
        if subpath is not None:
            await self._answer_api(scope, receive, send, subpath, request)
            return

        if cookie:
            filtered = core.request_cookie_header(request)
            if filtered is not None:
                scope = dict(scope)
                scope["headers"] = [(n, v) for n, v in headers if n.lower() != b"cookie"] + [
                    (b"cookie", filtered.encode("latin-1"))
                ]

        method: str = scope.get("method", "GET")
        injector: HtmlInjector | None = None

        async def send_wrapper(message: Message) -> None:
            nonlocal injector
            if message["type"] == "http.response.start":
                injector = _edit_start(core, request, message, method, htmx, accept_language, scope)
            elif injector is not None and message["type"] == "http.response.body":
                body = injector.feed(message.get("body", b""))
                if not message.get("more_body", False):
                    body += injector.finish()
                message["body"] = body
            await send(message)

        await self.app(scope, receive, send_wrapper)

    async def _answer_api(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        subpath: str,
        request: Any,
    ) -> None:
        wanted: dict[str, str] = {}
        for raw_name, raw_value in scope.get("headers") or ():
            name = raw_name.decode("latin-1").lower()
            if name in _API_HEADERS and name not in wanted:
                wanted[name] = raw_value.decode("latin-1")
        method: str = scope.get("method", "GET")
        body = b""
        if method in ("POST", "DELETE", "PUT", "PATCH"):
            body = await _read_body(receive, self.config.max_body_size, wanted)
        query = scope.get("query_string", b"").decode("latin-1")
        response = self.core.api.handle(ApiRequest(method, subpath, query, wanted, body, request))
        await _send_response(send, response)


def _edit_start(
    core: ConsentCore,
    request: Any,
    message: Message,
    method: str,
    htmx: bool,
    accept_language: str | None,
    scope: Scope,
) -> HtmlInjector | None:
    """Filter the Set-Cookie headers of a start message in place; maybe prepare injection."""
    headers = message.get("headers")
    if not isinstance(headers, list):
        headers = list(headers or ())
        message["headers"] = headers
    set_cookies: list[str] = []
    positions: list[int] = []
    content_type = encoding = csp = length = None
    for index, (raw_name, raw_value) in enumerate(headers):
        name = raw_name.lower()
        if name == b"set-cookie":
            positions.append(index)
            set_cookies.append(raw_value.decode("latin-1"))
        elif name == b"content-type":
            content_type = raw_value.decode("latin-1")
        elif name == b"content-encoding":
            encoding = raw_value.decode("latin-1")
        elif name == b"content-security-policy":
            csp = raw_value.decode("latin-1")
        elif name == b"content-length":
            length = index
    html = core.config.inject_banner and injectable(
        method, message.get("status", 200), content_type, encoding, htmx
    )
    if not set_cookies and not html and not request.cookie_header:
        return None
    return_to = scope.get("path", "/")
    query = scope.get("query_string", b"")
    if query:
        return_to += "?" + query.decode("latin-1")
    plan = core.plan_response(
        request,
        set_cookies,
        html=html,
        accept_language=accept_language,
        csp=csp,
        return_to=return_to,
    )
    for index, keep in zip(reversed(positions), reversed(plan.keep)):
        if not keep:
            del headers[index]
            if length is not None and index < length:
                length -= 1
    for value in plan.extra_cookies:
        headers.append((b"set-cookie", value.encode("latin-1")))
    if plan.vary_cookie:
        _add_vary_cookie(headers)
    if plan.snippet is None:
        return None
    if length is not None:
        try:
            new_length = int(headers[length][1]) + len(plan.snippet)
        except ValueError:
            return None
        headers[length] = (headers[length][0], str(new_length).encode("latin-1"))
    return HtmlInjector(plan.snippet)


def _add_vary_cookie(headers: list[tuple[bytes, bytes]]) -> None:
    for index, (name, value) in enumerate(headers):
        if name.lower() == b"vary":
            tokens = {token.strip().lower() for token in value.split(b",")}
            if b"cookie" not in tokens and b"*" not in tokens:
                headers[index] = (name, value + b", Cookie")
            return
    headers.append((b"vary", b"Cookie"))


async def _read_body(receive: Receive, limit: int, headers: dict[str, str]) -> bytes:
    """Read a small request body, stopping once it is past `limit` (the API answers 413)."""
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return b""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= limit + 1:
            chunks.append(chunk)
        if not message.get("more_body", False) or size > limit:
            break
    return b"".join(chunks)


async def _send_response(send: Send, response: ApiResponse) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": response.status,
            "headers": [
                (name.encode("latin-1"), value.encode("latin-1"))
                for name, value in response.headers
            ],
        }
    )
    await send({"type": "http.response.body", "body": response.body})
