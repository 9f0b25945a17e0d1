"""What the example sites need from a consent middleware, and nothing else: `get_consent()`
answers, always with an undecided visitor. The without-middleware half of the throughput
comparison runs the same app with this in the middleware's place."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from consent_middleware import ConsentConfig
from consent_middleware.context import CONSENT_KEY, CONTEXT_KEY, RequestContext
from consent_middleware.core import ConsentCore

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]
WSGIApp = Callable[[dict[str, Any], Any], Iterable[bytes]]


def undecided_context(config: ConsentConfig) -> RequestContext:
    """One request context, made once, for every request."""
    return ConsentCore(config).begin("", False)


class FixedConsentASGI:
    def __init__(self, app: ASGIApp, *, config: ConsentConfig) -> None:
        self.app = app
        self.context = undecided_context(config)
        self.consent = self.context.consent

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        scope[CONTEXT_KEY] = self.context
        scope[CONSENT_KEY] = self.consent
        await self.app(scope, receive, send)


class FixedConsentWSGI:
    def __init__(self, app: WSGIApp, *, config: ConsentConfig) -> None:
        self.app = app
        self.context = undecided_context(config)
        self.consent = self.context.consent

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        environ[CONTEXT_KEY] = self.context
        environ[CONSENT_KEY] = self.consent
        return self.app(environ, start_response)
