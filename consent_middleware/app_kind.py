"""Which interface the app an adapter is given speaks, for the one mix-up a newcomer makes:
the ASGI middleware around a WSGI app (Flask's `app.wsgi_app`) or the WSGI one around an
ASGI app (`app.add_middleware(ConsentWSGIMiddleware, ...)`). Either used to fail on the
first request with Python's own words about `__call__` arguments; each now fails where it
is built, saying which middleware to use."""

from __future__ import annotations

import inspect
from typing import Any

__all__ = ["REENTERED", "check_asgi_app", "check_wsgi_app", "reentered"]

_ASGI_USE = (
    "FastAPI/Starlette: app.add_middleware(ConsentMiddleware, config=config); Quart:"
    " app.asgi_app = ConsentMiddleware(app.asgi_app, config=config)"
)
_WSGI_USE = "Flask: app.wsgi_app = ConsentWSGIMiddleware(app.wsgi_app, config=config)"


def _is_async(app: Any) -> bool:
    """An `async def` function (or a partial of one), or an object whose `__call__` is."""
    return inspect.iscoroutinefunction(app) or inspect.iscoroutinefunction(type(app).__call__)


def _binds(app: Any, count: int) -> bool | None:
    try:
        signature = inspect.signature(app)
    except (TypeError, ValueError):  # a builtin or an odd callable: cannot tell
        return None
    try:
        signature.bind(*range(count))
    except TypeError:
        return False
    return True


def check_asgi_app(app: Any) -> None:
    """Raise TypeError when `app` can only be a WSGI app: a plain callable that takes
    (environ, start_response) and cannot take ASGI's (scope, receive, send)."""
    if not callable(app) or _is_async(app):
        return
    if _binds(app, 2) and _binds(app, 3) is False:
        raise TypeError(
            f"ConsentMiddleware is the ASGI middleware, and the app it wraps, {_name(app)}, is"
            f" a WSGI app (it takes environ, start_response): use ConsentWSGIMiddleware."
            f" {_WSGI_USE}"
        )


def check_wsgi_app(app: Any) -> None:
    """Raise TypeError when `app` is an ASGI app (its call is a coroutine function): no
    WSGI server can use what it returns."""
    if callable(app) and _is_async(app):
        raise TypeError(
            f"ConsentWSGIMiddleware is the WSGI middleware, and the app it wraps,"
            f" {_name(app)}, is an ASGI app: use ConsentMiddleware. {_ASGI_USE}"
        )


def _name(app: Any) -> str:
    name = getattr(app, "__qualname__", None) or type(app).__qualname__
    return repr(str(name)[:80])


#: Where an adapter counts how often the app it wraps called it again on one request.
REENTERED = "consent_middleware.reentered"
#: More than this and the app calls its own middleware in a loop: Flask's
#: `app.wsgi_app = ConsentWSGIMiddleware(app, ...)` (the app, not its `wsgi_app`), whose
#: `__call__` is the middleware again; Quart's `app.asgi_app` the same.
_MAX_REENTRIES = 16


def reentered(store: Any, adapter: str, hook: str) -> None:
    """Count one more pass of the same middleware through one request (`store`: the
    environ or scope), and raise, before Python's RecursionError, when it loops."""
    count = store.get(REENTERED, 0) + 1
    store[REENTERED] = count
    if count > _MAX_REENTRIES:
        raise RuntimeError(
            f"{adapter} is called again and again on one request by the app it wraps: it"
            f" wraps the app whose {hook} it is (app.{hook} = {adapter}(app, ...)). Wrap"
            f" app.{hook} instead: app.{hook} = {adapter}(app.{hook}, config=config)"
        )
