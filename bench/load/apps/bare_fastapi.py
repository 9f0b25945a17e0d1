"""Integrica on FastAPI without ConsentMiddleware: `FixedConsentASGI` in its place (see
`fixed.py`). Only for the throughput comparison: it enforces nothing."""

from __future__ import annotations

from starlette.middleware import Middleware

import examples.fastapi_app.app as site
from consent_middleware import ConsentMiddleware

from .fixed import FixedConsentASGI

app = site.app
# Starlette builds its middleware stack at the first request: until then the list is ours.
app.user_middleware = [
    Middleware(FixedConsentASGI, config=site.config)
    if getattr(m, "cls", None) is ConsentMiddleware
    else m
    for m in app.user_middleware
]
assert not any(getattr(m, "cls", None) is ConsentMiddleware for m in app.user_middleware)
