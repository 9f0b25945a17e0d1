"""Server-side events are recorded only when their category is granted."""

from __future__ import annotations

from typing import Any

import pytest

from consent_middleware import Consent
from consent_middleware.core import CONSENT_KEY
from consent_middleware.tracking import Event, ServerEvents, allowed


def environ(**categories: bool) -> dict[str, Any]:
    return {CONSENT_KEY: Consent(categories, decided=True)}


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
    kept: list[Event] = []
    views = ServerEvents(kept.append)
    wsgi = {**environ(analytics=True), "HTTP_X_CONSENT_REFRESH": "1"}
    asgi = {
        **environ(analytics=True),
        "type": "http",
        "headers": [(b"x-consent-refresh", b"1")],
    }
    assert not views.record(wsgi, "page_view")
    assert not views.record(asgi, "page_view")
    assert kept == []
