"""The apps the end-to-end benchmark serves with real servers, bare and under the middleware.

    uvicorn bench.apps:asgi_bare      uvicorn bench.apps:asgi_consent
    uvicorn bench.apps:asgi_noop      (the same app under a do-nothing ASGI middleware)
    gunicorn bench.apps:wsgi_bare     gunicorn bench.apps:wsgi_consent

Each is the same small site, a Starlette app (ASGI) or a Flask app (WSGI), the way real apps
are written: `GET /` is an HTML page of about 2 KB that sets two cookies with fresh values on
every response (a new session id and a new `_ga`), `GET /deals` the same page with a form
whose CSRF token is fresh too (no two responses alike), `GET /api/data` a JSON answer that
sets none. The bare app does exactly the same work; only the middleware differs.
"""

from __future__ import annotations

import os
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from consent_middleware import ConsentMiddleware, ConsentWSGIMiddleware

from .inprocess import PassThroughASGI
from .traffic import JSON_BODY, fresh_pair, make_config

YEAR = 365 * 24 * 3600
PAGE_PATH = "/"
JSON_PATH = "/api/data"
#: An ordinary page of about 2 KB, as text: rendered (encoded) anew for every response, as a
#: template's page is, so no stack gets the same bytes object twice.
PAGE_TEXT = (
    "<!doctype html>\n<html lang=en>\n<head>\n<meta charset=utf-8>\n"
    '<meta name=viewport content="width=device-width, initial-scale=1">\n'
    "<title>Integrica: contacts and deals</title>\n</head>\n<body>\n"
    "<header><h1>Integrica</h1><nav><a href=/>Home</a> <a href=/contacts>Contacts</a>"
    " <a href=/deals>Deals</a></nav></header>\n<main>\n"
    + "".join(
        f"<section><h2>Deal {n}</h2><p>Integrica keeps every contact, call and deal in one"
        f" place, so that the team knows where deal {n} stands.</p></section>\n"
        for n in range(1, 15)
    )
    + "</main>\n<footer><p>&copy; Integrica</p></footer>\n</body>\n</html>\n"
)
PAGE = PAGE_TEXT.encode("utf-8")
UNIQUE_PATH = "/deals"
#: The same page with a form that carries a fresh CSRF token: no two responses are alike.
_UNIQUE_HEAD, _UNIQUE_TAIL = PAGE_TEXT.split("</main>")
_UNIQUE_HEAD += '<form method=post action=/deals><input type=hidden name=csrf value="'
_UNIQUE_TAIL = '"><button>Save</button></form>\n</main>' + _UNIQUE_TAIL


def unique_page_text() -> str:
    return _UNIQUE_HEAD + os.urandom(16).hex() + _UNIQUE_TAIL


def _starlette_page(text: str) -> Response:
    session, ga = fresh_pair()
    response = Response(text, media_type="text/html")
    response.set_cookie("session", session, path="/", httponly=True, samesite="lax")
    response.set_cookie("_ga", ga, max_age=2 * YEAR, path="/", samesite="lax")
    return response


async def page(request: Request) -> Response:
    return _starlette_page(PAGE_TEXT)


async def unique_page(request: Request) -> Response:
    return _starlette_page(unique_page_text())


async def data(request: Request) -> Response:
    return Response(JSON_BODY, media_type="application/json")


_ROUTES = [Route(PAGE_PATH, page), Route(UNIQUE_PATH, unique_page), Route(JSON_PATH, data)]
asgi_bare = Starlette(routes=_ROUTES)
asgi_consent = Starlette(
    routes=_ROUTES, middleware=[Middleware(ConsentMiddleware, config=make_config())]
)
#: The floor for any ASGI middleware: one that only passes every message on.
asgi_noop = Starlette(routes=_ROUTES, middleware=[Middleware(PassThroughASGI)])


def flask_site() -> Any:
    from flask import Flask

    app = Flask("bench")

    def page_of(text: str) -> Any:
        session, ga = fresh_pair()
        response = app.response_class(text, content_type="text/html; charset=utf-8")
        response.set_cookie("session", session, path="/", httponly=True, samesite="Lax")
        response.set_cookie("_ga", ga, max_age=2 * YEAR, path="/", samesite="Lax")
        return response

    @app.get(PAGE_PATH)
    def flask_page() -> Any:
        return page_of(PAGE_TEXT)

    @app.get(UNIQUE_PATH)
    def flask_unique_page() -> Any:
        return page_of(unique_page_text())

    @app.get(JSON_PATH)
    def flask_data() -> Any:
        return app.response_class(JSON_BODY, content_type="application/json")

    return app


wsgi_bare = flask_site()
_consent_site = flask_site()
_consent_site.wsgi_app = ConsentWSGIMiddleware(_consent_site.wsgi_app, config=make_config())
wsgi_consent = _consent_site
