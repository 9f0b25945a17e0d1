"""The ASGI adapter: a pure ASGI middleware over `ConsentCore`, with no middleware base class.

It edits only the `http.response.start` message's header list and streams every body
message on as it comes (through the page filter, banner and gating, for HTML pages).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .api import ApiRequest, ApiResponse
from .config import ConsentConfig
from .core import CONSENT_KEY, CORE_KEY, BodyFilter, ConsentCore, injectable
from .policy import RequestConsent

__all__ = ["ConsentMiddleware"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_OTHER, _COOKIE, _GPC, _DNT, _LANGUAGE, _HTMX = range(6)
_MAX_HEADER_NAMES = 256
_PAGE_TYPES = (b"text/html", b"application/xhtml")
_FILE_SENDS = frozenset({"http.response.pathsend", "http.response.zerocopysend"})
_REQUEST_HEADERS = {
    b"cookie": _COOKIE,
    b"sec-gpc": _GPC,
    b"dnt": _DNT,
    b"accept-language": _LANGUAGE,
    b"hx-request": _HTMX,
}
_SET_COOKIE, _CONTENT_TYPE, _CONTENT_ENCODING, _CSP, _CONTENT_LENGTH = range(5)
_RESPONSE_HEADERS = {
    b"set-cookie": _SET_COOKIE,
    b"content-type": _CONTENT_TYPE,
    b"content-encoding": _CONTENT_ENCODING,
    b"content-security-policy": _CSP,
    b"content-length": _CONTENT_LENGTH,
}

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
        # Request header name -> what it is to us (0: nothing). Servers send lowercase names;
        # other spellings are looked up case-insensitively once and remembered (bounded).
        self._header_kinds: dict[bytes, int] = dict(_REQUEST_HEADERS)
        self._read_request = self.core.policy.read_request
        self._prefix = config.path_prefix
        self._place_yourself = not config.inject_banner

    def _read_websocket(self, scope: Scope) -> None:
        headers = list(scope.get("headers") or ())
        cookie = b"; ".join(v for n, v in headers if n.lower() == b"cookie")
        gpc = any(n.lower() == b"sec-gpc" and v.strip() == b"1" for n, v in headers)
        scope[CONSENT_KEY] = self.core.begin(cookie, scope.get("scheme") == "wss", gpc).consent

    def _learn_header(self, name: bytes) -> int:
        kind = _REQUEST_HEADERS.get(name.lower(), _OTHER)
        if len(self._header_kinds) < _MAX_HEADER_NAMES:
            self._header_kinds[name] = kind
        return kind

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                # Passed through untouched, but `get_consent(websocket)` works there too.
                self._read_websocket(scope)
            await self.app(scope, receive, send)
            return
        core = self.core
        cookie = b""
        gpc = dnt = htmx = False
        accept_language: bytes | None = None
        headers = scope.get("headers") or ()
        kinds = self._header_kinds
        for raw_name, raw_value in headers:
            kind = kinds.get(raw_name)
            if kind is None:
                kind = self._learn_header(raw_name)
            if not kind:
                continue
            if kind == _COOKIE:
                cookie = cookie + b"; " + raw_value if cookie else raw_value
            elif kind == _GPC:
                gpc = raw_value.strip() == b"1"
            elif kind == _DNT:
                dnt = raw_value.strip() == b"1"
            elif kind == _LANGUAGE:
                accept_language = raw_value  # decoded only if a page needs it
            else:
                htmx = True
        https = scope.get("scheme") == "https"
        try:
            request = self._read_request(cookie, https, gpc, dnt)
        except Exception:
            request = core.begin(cookie, https, gpc, dnt)  # logs, and reads as undecided
        scope[CONSENT_KEY] = request.consent
        if self._place_yourself:
            scope[CORE_KEY] = core  # for consent_banner(request) in the app's templates

        path: str = scope.get("path", "")
        if path.startswith(self._prefix):
            subpath = core.api_subpath(path)
            if subpath is not None:
                await self._answer_api(scope, receive, send, subpath, request)
                return

        extensions = scope.get("extensions")
        if extensions and core.rewrites_html and not _FILE_SENDS.isdisjoint(extensions):
            # A page sent from a file would bypass the banner and gating that its corrected
            # Content-Length counts on: let the app send its body as ordinary messages.
            scope = dict(scope)
            scope["extensions"] = {k: v for k, v in extensions.items() if k not in _FILE_SENDS}
        filtered = request.filtered_cookie_header
        if filtered is not None:
            scope = dict(scope)
            scope["headers"] = [(n, v) for n, v in headers if n.lower() != b"cookie"] + [
                (b"cookie", filtered.encode("latin-1"))
            ]

        body: BodyFilter | None = None

        async def send_wrapper(message: Message) -> None:
            nonlocal body
            if message["type"] == "http.response.start":
                body = _edit_start(core, request, message, htmx, accept_language, scope)
            elif body is not None and message["type"] == "http.response.body":
                chunk = body.feed(message.get("body", b""))
                if not message.get("more_body", False):
                    chunk += body.finish()
                message["body"] = chunk
            await send(message)

        await self.app(scope, receive, send_wrapper)

    async def _answer_api(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        subpath: str,
        request: RequestConsent,
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
    request: RequestConsent,
    message: Message,
    htmx: bool,
    accept_language: bytes | None,
    scope: Scope,
) -> BodyFilter | None:
    """Filter the Set-Cookie headers of a start message in place; maybe set up the body."""
    headers = message.get("headers")
    if not isinstance(headers, list):
        headers = list(headers or ())
        message["headers"] = headers
    dropped: list[int] | None = None
    # What leaves anyway, so as not to repeat a deletion the app sends: only if any is due.
    kept_cookies: list[bytes] | None = [] if request.needs_response_work else None
    verdicts = request.verdicts
    content_type = encoding = csp = None
    length: int | None = None
    for index, (raw_name, raw_value) in enumerate(headers):
        kind = _RESPONSE_HEADERS.get(raw_name)
        if kind is None:
            if raw_name.islower():
                continue
            kind = _RESPONSE_HEADERS.get(raw_name.lower())
            if kind is None:
                continue
        if kind == _SET_COOKIE:
            kept = verdicts.get(raw_value)
            if kept is None:
                kept = core.keeps(raw_value, request)
            if not kept:
                if dropped is None:
                    dropped = [index]
                else:
                    dropped.append(index)
            elif kept_cookies is not None:
                kept_cookies.append(raw_value)
        elif kind == _CONTENT_TYPE:
            # Only a page may need its body filtered: look no further at other types.
            if raw_value.startswith(_PAGE_TYPES) or (
                raw_value[:1] in (b"T", b"A") and raw_value[:21].lower().startswith(_PAGE_TYPES)
            ):
                content_type = raw_value.decode("latin-1")
        elif kind == _CONTENT_ENCODING:
            encoding = raw_value.decode("latin-1")
        elif kind == _CSP:
            csp = raw_value.decode("latin-1")
        else:
            length = index
    html = (
        content_type is not None
        and core.rewrites_html
        and injectable(
            scope.get("method", "GET"), message.get("status", 200), content_type, encoding
        )
    )
    if dropped:
        for index in reversed(dropped):
            del headers[index]
            if length is not None and index < length:
                length -= 1
    if kept_cookies is not None:
        for value in core.expirations(request, kept_cookies):
            headers.append((b"set-cookie", value.encode("latin-1")))
    if not html:
        return None
    _add_vary_cookie(headers)
    return_to = scope.get("path", "/")
    query = scope.get("query_string", b"")
    if query:
        return_to += "?" + query.decode("latin-1")
    language = accept_language.decode("latin-1") if accept_language is not None else None
    body, added = core.page_filter(
        request, accept_language=language, csp=csp, return_to=return_to, partial=htmx
    )
    if body is None or length is None:
        return body
    if added is None:
        del headers[length]  # unknown length: the server streams it chunked
        return body
    try:
        new_length = int(headers[length][1]) + added
    except ValueError:
        del headers[length]  # a broken length would be wrong after the filter too: drop it
        return body
    headers[length] = (headers[length][0], str(new_length).encode("latin-1"))
    return body


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
