"""The error page of a Starlette or FastAPI app, built where the middleware can judge it.

Starlette runs an app's handler for `500` or `Exception` in `ServerErrorMiddleware`, which
it always puts outside every `add_middleware` middleware: that page, its Set-Cookie headers
and its scripts would reach the visitor unjudged (an error page that extends the site's
template carries its analytics tag). So when the app raises before it has started a
response, the ASGI adapter builds that same page with the app's own handler and sends it
through the plan like any other response; `ServerErrorMiddleware` then sees a response
already started, sends nothing more and raises on, so that the server still logs the error.

Only for an app that put the middleware inside its stack (`scope["app"]`, set by Starlette
before its middleware runs, has the handler); with debug on, Starlette's traceback page is
left to Starlette (it sets no cookie and runs no script of the app's).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["starlette_error_page"]

ErrorPage = Callable[[Any, Any], Awaitable[None]]


def starlette_error_page(scope: Any, exc: Exception) -> ErrorPage | None:
    """The app's error page for `exc`, as an ASGI app to run with the request's receive and
    a send; None when no Starlette handler of the app would answer it."""
    app = scope.get("app")
    handlers = getattr(app, "exception_handlers", None)
    if not isinstance(handlers, dict) or getattr(app, "debug", False):
        return None
    handler = None
    for key, value in handlers.items():  # the last one wins, as in Starlette's own stack
        if key in (500, Exception):
            handler = value
    if handler is None:
        return None

    async def page(receive: Any, send: Any) -> None:
        from starlette.concurrency import run_in_threadpool
        from starlette.requests import Request

        request = Request(scope)
        if _is_async(handler):
            response = await handler(request, exc)
        else:
            response = await run_in_threadpool(handler, request, exc)
        await response(scope, receive, send)

    return page


def _is_async(handler: Any) -> bool:
    """Whether calling `handler` gives an awaitable (as Starlette tells it)."""
    while isinstance(handler, functools.partial):
        handler = handler.func
    call = type(handler).__call__ if not inspect.isroutine(handler) else None
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(call)
