"""`consent_banner(request)` for sites that place the banner themselves."""

from __future__ import annotations

from typing import Any

import httpx2 as httpx
import pytest
from flask import Flask, render_template_string
from flask import request as flask_request
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from consent_middleware import ConsentMiddleware, ConsentWSGIMiddleware
from consent_middleware.templating import consent_banner

from .conftest import make_config

PAGE = "<html><body><main>app</main>{{ consent_banner(request) }}</body></html>"


def test_starlette_places_the_banner_itself() -> None:
    import jinja2

    env = jinja2.Environment(autoescape=True)
    env.globals["consent_banner"] = consent_banner
    template = env.from_string(PAGE)

    async def home(request: Any) -> HTMLResponse:
        return HTMLResponse(template.render(request=request))

    app = Starlette(routes=[Route("/", home)])
    app.add_middleware(ConsentMiddleware, config=make_config(inject_banner=False))
    with TestClient(app) as client:
        page = client.get("/", headers={"accept-language": "uk"}).text
    assert page.count('id="consent-banner"') == 1  # placed once, not injected again
    assert page.index("<main>") < page.index('id="consent-banner"')
    assert 'lang="uk"' in page or "Прийняти" in page


def flask_app(**config: Any) -> Flask:
    """A Flask page that calls consent_banner(request) itself."""
    app = Flask(__name__)
    app.jinja_env.globals["consent_banner"] = consent_banner

    @app.get("/")
    def home() -> str:
        return render_template_string(PAGE, request=flask_request)

    app.wsgi_app = ConsentWSGIMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, config=make_config(**config)
    )
    return app


def test_flask_places_the_banner_itself() -> None:
    app = flask_app(inject_banner=False)
    client = httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://t")
    page = client.get("/").text
    assert page.count('id="consent-banner"') == 1


def test_without_the_middleware_it_says_so() -> None:
    with pytest.raises(LookupError):
        consent_banner({})


def test_with_injection_on_it_says_so() -> None:
    app = flask_app()
    app.testing = True
    with pytest.raises(LookupError, match="inject_banner=False"):
        app.test_client().get("/")
