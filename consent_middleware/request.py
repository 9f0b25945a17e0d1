"""`get_consent`: the visitor's choice from whatever request object the app has at hand."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .consent import Consent
from .core import CONSENT_KEY

__all__ = ["get_consent"]


def get_consent(request: Any) -> Consent:
    """The `Consent` of a Starlette/FastAPI `Request`, an ASGI scope, a Flask/Werkzeug
    request or a WSGI environ.

    Raises `LookupError` when the request did not pass through the middleware: reading
    "no consent" there would silently hide a missing middleware.
    """
    carrier: Any
    if isinstance(request, Mapping):
        carrier = request
    elif isinstance(getattr(request, "scope", None), Mapping):
        carrier = request.scope
    elif isinstance(getattr(request, "environ", None), Mapping):
        carrier = request.environ
    else:
        raise TypeError(
            f"get_consent() takes a request, an ASGI scope or a WSGI environ, not "
            f"{type(request).__name__}"
        )
    consent = carrier.get(CONSENT_KEY)
    if not isinstance(consent, Consent):
        raise LookupError(
            "this request did not pass through ConsentMiddleware or ConsentWSGIMiddleware"
        )
    return consent
