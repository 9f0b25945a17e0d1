"""The test site in Litestar, under the middleware as docs/quickstart/litestar.md says: the
whole app wrapped (Litestar's own `middleware=[...]` runs only for matched routes, so it
would answer `/consent` with its 404)."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, MediaType, Request, Response, get
from litestar.datastructures import Cookie

from consent_middleware import ConsentMiddleware, get_consent

from .common import CONFIG, HOME_COOKIES, PAGE, state


@get("/", media_type=MediaType.HTML)
async def home() -> Response[str]:
    cookies = [Cookie(key=n, value=v, httponly=h, samesite="lax") for n, v, h in HOME_COOKIES]
    return Response(PAGE, media_type=MediaType.HTML, cookies=cookies)


@get("/state")
async def state_view(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return state(get_consent(request), request.cookies)


litestar_app = Litestar(route_handlers=[home, state_view])
app = ConsentMiddleware(litestar_app, config=CONFIG)
