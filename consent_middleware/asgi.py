"""The ASGI adapter: a pure ASGI middleware over `ConsentCore`, with no middleware base class.

It translates: request headers into `core.begin`, the response start into
`core.plan_response`, and applies the plan to new messages (the app's own message and header
list are never modified: apps reuse them). Body messages stream on as they come, through the
page filter when the plan has one.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .api import API_HEADERS, ApiResponse
from .app_kind import check_asgi_app, reentered
from .config import ConsentConfig
from .context import ACTIVE, CONSENT_KEY, CONTEXT_KEY, RequestContext
from .core import BodyFilter, ConsentCore
from .error_pages import starlette_error_page
from .headers import RequestHeaders
from .validators import Revalidation

__all__ = ["ConsentMiddleware"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
# Loose on purpose: apps, servers and tests type their scopes as dict, MutableMapping or a
# TypedDict (asgiref), and each must fit without a cast.
Receive = Callable[[], Awaitable[Any]]
Send = Callable[[Any], Awaitable[None]]
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]

_API_HEADERS = frozenset(API_HEADERS)
_SECURE = frozenset({"https", "wss"})
_FILE_SENDS = frozenset({"http.response.pathsend", "http.response.zerocopysend"})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: In the scope a consent middleware hands its app, and only there: one further in (on a
#: sub-app) steps aside.
_HANDED_DOWN = "consent_middleware.handed_down"
#: What leaves when the app's error handler fails where this middleware runs it.
_PLAIN_500 = ApiResponse(
    500, [("content-type", "text/plain; charset=utf-8")], b"Internal Server Error"
)


class ConsentMiddleware:
    """`app.add_middleware(ConsentMiddleware, config=config)`."""

    def __init__(self, app: ASGIApp, *, config: ConsentConfig) -> None:
        check_asgi_app(app)
        self.app = app
        self.core = ConsentCore(config)
        self.config = config
        self._headers = RequestHeaders()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        # Any: frameworks type their scopes as TypedDicts (Quart, Litestar), servers as
        # plain dicts; the middleware must fit every one of them.
        kind = scope["type"]
        if kind != "http" or _HANDED_DOWN in scope:
            if _HANDED_DOWN in scope:
                # Installed twice (on an app and a sub-app it mounts): the outer one decides,
                # once; two would put two banners in every page.
                handed = scope.get(CONTEXT_KEY)
                if isinstance(handed, RequestContext) and handed.core is self.core:
                    reentered(scope, "ConsentMiddleware", "asgi_app")  # this one, again
                self.core.log_nested()
            elif kind == "websocket":
                await self._websocket(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        core = self.core
        ctx = self._begin(scope)
        subpath = ctx.subpath
        if subpath is not None:
            await self._answer(scope, receive, send, ctx, subpath)
            return
        server_scope, scope = scope, self._hand_over(scope, ctx)
        extensions = scope.get("extensions")
        if extensions and core.rewrites_html and not _FILE_SENDS.isdisjoint(extensions):
            # A page sent from a file would bypass the page filter that its corrected
            # Content-Length counts on: let the app send its body as ordinary messages.
            scope = {
                **scope,
                "extensions": {k: v for k, v in extensions.items() if k not in _FILE_SENDS},
            }
        body: BodyFilter | None = None
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal body, started
            kind = message["type"]
            if kind == "http.response.start":
                started = True
                headers, body = core.plan_response(
                    ctx, message.get("status", 200), message.get("headers") or (), True
                )
                # A copy: the app's own message stays as it was.
                message = {**message, "headers": headers}
            elif body is not None and kind == "http.response.body":
                chunk = body.feed(message.get("body", b""))
                if not message.get("more_body", False):
                    rest = body.finish()
                    if rest:
                        chunk += rest
                message = dict(message)
                message["body"] = chunk
            elif kind == "http.response.trailers":
                message = dict(message)
                message["headers"] = core.plan_trailers(ctx, message.get("headers") or ())
            await send(message)

        active = ACTIVE.set(ctx)  # for a WSGI app mounted inside (context.ACTIVE)
        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            # Starlette would answer with the app's error page outside this middleware.
            page = None if started else starlette_error_page(scope, exc)
            if page is not None:
                try:
                    await page(receive, send_wrapper)
                except Exception:
                    # The handler failed too: Starlette's ServerErrorMiddleware, outside,
                    # would call it again and send its page unjudged. A plain 500 leaves.
                    if not started:
                        await _send_response(send_wrapper, _PLAIN_500)
            # ServerErrorMiddleware calls the app's handler once more all the same (and
            # sends nothing once a response started): with the Cookie header the app saw.
            if scope.get("headers") is not server_scope.get("headers"):
                server_scope["headers"] = scope["headers"]
            raise
        finally:
            ACTIVE.reset(active)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The handshake answer (accepted or refused) is judged like any response."""
        core = self.core
        ctx = self._begin(scope)

        async def send_wrapper(message: Message) -> None:
            if message["type"] in ("websocket.accept", "websocket.http.response.start"):
                headers = core.plan_websocket(ctx, message.get("headers") or (), as_bytes=True)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(self._hand_over(scope, ctx), receive, send_wrapper)

    def _begin(self, scope: Scope) -> RequestContext:
        headers = scope.get("headers")
        if type(headers) is not list:
            # Any iterable will do (ASGI): one read once would reach the app used up.
            headers = scope["headers"] = [] if headers is None else list(headers)
        signals = self._headers.read(headers)
        cookie, gpc, dnt, language, fragment, refresh, if_none_match, navigation = signals
        get = scope.get
        root: str = get("root_path") or ""
        path: str = get("path") or "/"
        if root and path.startswith(root) and path[len(root) : len(root) + 1] in ("", "/"):
            path = path[len(root) :] or "/"  # servers that put the prefix in `path` too
        return self.core.begin(
            cookie,
            get("scheme") in _SECURE,
            gpc,
            dnt,
            get("method", "GET"),
            root,
            path,
            get("query_string") or b"",
            language,
            fragment,
            refresh,
            if_none_match,
            get("raw_path"),
            navigation,
        )

    def _hand_over(self, scope: Scope, ctx: RequestContext) -> Scope:
        """The scope the app sees, a new one: the context, the Cookie header without refused
        cookies, and validators translated (`validators.py`). The server's header list stays
        as it was; its scope only learns the consent."""
        filtered = ctx.state.filtered_cookie_header
        revalidation = ctx.revalidation
        consent = ctx.state.consent
        # Always a copy (the ASGI spec's rule for a middleware that changes the scope), and
        # only the copy says that a consent middleware handed it down: a middleware outside
        # that calls the app again with the server's scope (a retry, an error page or a
        # fallback the app serves) goes through this one again, and is judged again.
        app_scope = dict(scope)
        app_scope[CONTEXT_KEY] = ctx
        app_scope[CONSENT_KEY] = consent
        app_scope[_HANDED_DOWN] = True
        if filtered is not None or revalidation is not None:
            app_scope["headers"] = self._headers_for_app(scope, filtered, revalidation)
        # The server's scope gets the consent too, for what runs outside: Starlette's
        # ServerErrorMiddleware hands it to the app's 500 handler, which may read it.
        scope[CONTEXT_KEY] = ctx
        scope[CONSENT_KEY] = consent
        return app_scope

    def _headers_for_app(
        self, scope: Scope, filtered: str | None, revalidation: Revalidation | None
    ) -> list[tuple[Any, Any]]:
        read = self._headers
        validators = revalidation is not None
        modified_since = revalidation is not None and revalidation.drop_modified_since
        headers = [
            (n, v)
            for n, v in scope.get("headers") or ()
            if not (filtered is not None and read.is_cookie(n))
            and not (validators and read.is_validator(n, modified_since))
        ]
        if filtered is not None:
            headers.append((b"cookie", filtered.encode("latin-1")))
        if revalidation is not None and revalidation.if_none_match is not None:
            headers.append((b"if-none-match", revalidation.if_none_match.encode("latin-1")))
        return headers

    async def _answer(
        self, scope: Scope, receive: Receive, send: Send, ctx: RequestContext, subpath: str
    ) -> None:
        wanted: dict[str, str] = {}
        for raw_name, raw_value in scope.get("headers") or ():
            name = raw_name.decode("latin-1").lower()
            if name in _API_HEADERS:
                # Repeated: joined, as WSGI servers join them (an `Origin` given twice is
                # then no one origin, and the cross-site check refuses it).
                value = raw_value.decode("latin-1")
                wanted[name] = f"{wanted[name]}, {value}" if name in wanted else value
        body, too_large = b"", False
        if ctx.method in _BODY_METHODS:
            body, too_large = await _read_body(receive, self.config.max_body_size)
        client = scope.get("client")
        answer = functools.partial(
            self.core.answer,
            ctx,
            subpath,
            wanted,
            body,
            too_large=too_large,
            client=str(client[0]) if client else None,
        )
        # The record store blocks: never on the event loop.
        response = await _in_thread(answer) if self.core.answer_blocks(subpath) else answer()
        await _send_response(send, response)


async def _read_body(receive: Receive, limit: int) -> tuple[bytes, bool]:
    """A small request body, and whether it ran past `limit` (then it is not read whole:
    the endpoint answers 413, whatever Content-Length claimed)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"", False
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return b"", True
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), False


async def _in_thread(call: Callable[[], ApiResponse]) -> ApiResponse:
    try:
        import anyio.to_thread  # the thread pool of the running framework (asyncio or trio)
    except ImportError:  # pragma: no cover - a bare ASGI app without Starlette
        return await asyncio.get_running_loop().run_in_executor(None, call)
    return await anyio.to_thread.run_sync(call)


async def _send_response(send: Send, response: ApiResponse) -> None:
    headers = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in response.headers]
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})
