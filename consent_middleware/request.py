"""`get_consent`: the visitor's choice from whatever request object the app has at hand.

In FastAPI it works as a dependency too: `consent: Consent = Depends(get_consent)`.
"""

from __future__ import annotations

import inspect
from typing import Any

from .consent import Consent
from .context import context_of

__all__ = ["get_consent"]


def get_consent(request: Any) -> Consent:
    """The `Consent` of a Starlette/FastAPI `Request` or `WebSocket`, an ASGI scope, a
    Flask/Werkzeug request or a WSGI environ.

    Raises `LookupError` when the request did not pass through the middleware: reading
    "no consent" there would silently hide a missing middleware.
    """
    return context_of(request).consent


def _as_dependency() -> None:
    """Let FastAPI see `request` as the connection (not a query parameter), without making
    Starlette a dependency of this package: only when Starlette is there anyway."""
    try:
        from starlette.requests import HTTPConnection
    except ImportError:  # pragma: no cover - Flask-only installs
        return
    parameter = inspect.Parameter(
        "request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=HTTPConnection
    )
    get_consent.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [parameter], return_annotation=Consent
    )


_as_dependency()
