"""The test site in Quart, under the middleware as docs/quickstart/quart.md says (Quart's
`asgi_app`, like Flask's `wsgi_app`)."""

from __future__ import annotations

from typing import Any

from quart import Quart, Response, request

from consent_middleware import ConsentMiddleware, get_consent

from .common import CONFIG, HOME_COOKIES, PAGE, state

app = Quart(__name__)
app.asgi_app = ConsentMiddleware(app.asgi_app, config=CONFIG)  # type: ignore[method-assign]


@app.get("/")
async def home() -> Response:
    response = Response(PAGE, content_type="text/html; charset=utf-8")
    for name, value, http_only in HOME_COOKIES:
        response.set_cookie(name, value, httponly=http_only, samesite="Lax")
    return response


@app.get("/state")
async def state_view() -> dict[str, Any]:
    return state(get_consent(request), request.cookies)
