"""Server-side events are recorded only when their category is granted."""

from __future__ import annotations

from typing import Any

import pytest

from consent_middleware import Consent, ConsentMiddleware, ConsentWSGIMiddleware
from consent_middleware.context import CONSENT_KEY, CONTEXT_KEY, RequestContext
from consent_middleware.core import ConsentCore
from consent_middleware.policy import RequestConsent
from consent_middleware.tracking import Event, ServerEvents, allowed

from .conftest import make_config
from .raw import http_scope, run_asgi, wsgi_call


def environ(**categories: bool) -> dict[str, Any]:
    """What the middleware puts into an environ, for a visitor with this choice."""
    consent = Consent(categories, decided=True)
    state = RequestConsent(consent, "", False, False)
    context = RequestContext(
        ConsentCore(make_config()), state, "GET", "", "/", "", None, False, False
    )
    return {CONSENT_KEY: consent, CONTEXT_KEY: context}


def test_events_only_with_consent() -> None:
    kept: list[Event] = []
    views = ServerEvents(kept.append)
    assert views.record(environ(analytics=False), "page_view", path="/") is False
    assert kept == []
    assert views.record(environ(analytics=True), "page_view", path="/a") is True
    assert [(e.name, e.category, dict(e.properties)) for e in kept] == [
        ("page_view", "analytics", {"path": "/a"})
    ]


def test_other_category() -> None:
    kept: list[Event] = []
    ads = ServerEvents(kept.append, category="marketing")
    assert not ads.record(environ(analytics=True, marketing=False), "conversion")
    assert ads.record(environ(marketing=True), "conversion")
    assert len(kept) == 1


def test_allowed_needs_the_middleware() -> None:
    assert allowed(environ(analytics=True))
    with pytest.raises(LookupError):
        allowed({})


def test_sink_must_be_callable() -> None:
    with pytest.raises(ValueError, match="sink"):
        ServerEvents("not callable")  # type: ignore[arg-type]


def test_banner_refresh_is_not_a_visit() -> None:
    """banner.js's background refresh after a choice, through both real adapters."""
    kept: list[Event] = []
    views = ServerEvents(kept.append)
    config = make_config()
    codec = ConsentCore(config).policy.codec
    cookie = "consent=" + codec.encode(codec.decide(["analytics"]))
    answers: list[bool] = []

    async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        answers.append(views.record(scope, "page_view"))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        answers.append(views.record(environ, "page_view"))
        start_response("204 No Content", [])
        return []

    for refresh in (False, True):
        scope = http_scope(cookie=cookie)
        if refresh:
            scope["headers"].append((b"x-consent-refresh", b"1"))
        run_asgi(ConsentMiddleware(asgi_app, config=config), scope)
        wsgi = ConsentWSGIMiddleware(wsgi_app, config=config)
        extra = {"HTTP_X_CONSENT_REFRESH": "1"} if refresh else {}
        wsgi_call(wsgi, cookie=cookie, extra=extra)
    assert answers == [True, True, False, False]
    assert len(kept) == 2
